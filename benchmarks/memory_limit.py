"""Does the advice fit in memory? Tasks that each hold a large buffer, diagnosed under
several ``--memory-limit`` values, the pools measured for real.

For each limit: the advice, what set its worker count, what a call held in the
baseline, and for every pool the confirmation measured, its workers' PSS together
against the limit. The advice must never count more calls in flight than fit, and must
name memory as the reason when it, not the CPU, set the count.

    python benchmarks/memory_limit.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HOG = Path(__file__).resolve().parent.parent / "tests" / "targets" / "memory_hog.py"
LIMITS = ("300M", "500M", "900M", "4G")


def diagnose(limit: str, folder: Path) -> dict:
    out = folder / f"{limit}.json"
    subprocess.run([sys.executable, "-m", "concdoctor", "profile", f"{HOG}:hold",
                    "--inputs", json.dumps(list(range(16))), "--memory-limit", limit,
                    "--json", str(out), "--no-save", "-q"], check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    print("| --memory-limit | advice | limited by | a call held | largest pool measured "
          "(workers x PSS) | fits |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for limit in LIMITS:
            report = diagnose(limit, Path(tmp))
            rec, evidence = report["recommendation"], report["evidence"]
            room = report["environment"]["memory_limit_bytes"]
            pools = [(r["workers"] * (r.get("worker_pss_bytes") or 0), r)
                     for r in report["confirmation"]["results"]]
            total, largest = max(pools, key=lambda pool: pool[0])
            fits = rec["workers"] * rec.get("inner_workers", 1) * evidence["task_bytes"] <= room
            print(f"| {limit} | {rec['executor']} x {rec['workers']} | {rec['limited_by']} | "
                  f"{evidence['task_bytes'] / 2**20:.0f} MiB | {largest['executor']} x "
                  f"{largest['workers']}: {total / 2**20:.0f} MiB | "
                  f"{'yes' if fits and total <= 1.1 * room else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
