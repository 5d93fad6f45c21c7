"""The scaling model, checked across core counts on this 2-core machine.

Each example is diagnosed twice in fresh processes: once restricted to one core by
affinity (``taskset -c 0``), which predicts the speedup on 2 cores from its scaling
block, and once on both cores, which measures it. The prediction is read at the worker
count the 2-core run advised. The target is within 15 %.

    python benchmarks/scaling.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    ("pure Python", "examples.cpu_bound:sum_of_squares", "examples.cpu_bound:INPUTS"),
    ("pure Python", "examples.factorize:factorize", "examples.factorize:INPUTS"),
    ("GIL released", "examples.hashing:sha256_digest", "examples.hashing:INPUTS"),
    ("I/O", "examples.io_threads:worker", "examples.io_threads:DELAYS"),
]


def diagnose(target: str, inputs: str, cores: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "concdoctor", "profile", target, "--inputs-from",
                   inputs, "--compare", "all", "--no-save", "-q", "--json", str(out)]
        if cores is not None:
            command = ["taskset", "-c", cores, *command]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=600)
        return json.loads(out.read_text())


def main() -> None:
    print("| work | target | advice on 2 cores | predicted from 1 core | measured on 2 cores |"
          " error |")
    print("|---|---|---|---|---|---|")
    for work, target, inputs in CASES:
        one = diagnose(target, inputs, "0")
        two = diagnose(target, inputs, None)
        executor, workers = two["recommendation"]["executor"], two["recommendation"]["workers"]
        measured = two["confirmation"]["speedup"]
        curve = one["scaling"].get(executor, [])
        point = next((p for p in curve if p["cores"] == 2 and p["workers"] == workers), None)
        if point is None or not measured:
            print(f"| {work} | {target} | {executor} × {workers} | no point | {measured} | |")
            continue
        error = (point["predicted_speedup"] - measured) / measured
        print(f"| {work} | {target} | {executor} × {workers} | "
              f"{point['predicted_speedup']:.2f}× | {measured:.2f}× | {error:+.0%} |",
              flush=True)


if __name__ == "__main__":
    main()
