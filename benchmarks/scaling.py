"""The scaling model, checked across core counts on this 2-core machine.

Each example is diagnosed twice in fresh processes: once restricted to one core by
affinity (``taskset -c 0``), which predicts the speedup on 2 cores from its scaling
block, and once on both cores, which measures it. The prediction is read at the worker
count the 2-core run advised. The target is within 15 %.

A single 2-core measurement of a pure-Python batch moves by 20 % on this shared host, so
each example is diagnosed ``--reps`` times (3 by default), alternating one core and two;
the table gives the medians and the range of the errors.

    python benchmarks/scaling.py [--reps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def one_rep(target: str, inputs: str) -> tuple[str, float, float] | None:
    """(advice on 2 cores, its speedup predicted from 1 core, measured on 2), or None."""
    one = diagnose(target, inputs, "0")
    two = diagnose(target, inputs, None)
    executor, workers = two["recommendation"]["executor"], two["recommendation"]["workers"]
    measured = two["confirmation"]["speedup"]
    curve = one["scaling"].get(executor, [])
    point = next((p for p in curve if p["cores"] == 2 and p["workers"] == workers), None)
    if point is None or not measured:
        return None
    return f"{executor} × {workers}", point["predicted_speedup"], measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    reps = parser.parse_args().reps
    print("| work | target | advice on 2 cores | predicted from 1 core | measured on 2 cores |"
          " error (median) | errors (range) |")
    print("|---|---|---|---|---|---|---|")
    for work, target, inputs in CASES:
        runs = [run for run in (one_rep(target, inputs) for _ in range(reps)) if run]
        if not runs:
            print(f"| {work} | {target} | no comparable point in {reps} runs | | | | |")
            continue
        advice = " / ".join(sorted({run[0] for run in runs}))
        errors = [(predicted - measured) / measured for _, predicted, measured in runs]
        print(f"| {work} | {target} | {advice} | "
              f"{statistics.median(run[1] for run in runs):.2f}× | "
              f"{statistics.median(run[2] for run in runs):.2f}× | "
              f"{statistics.median(errors):+.0%} | {min(errors):+.0%} to {max(errors):+.0%} |",
              flush=True)


if __name__ == "__main__":
    main()
