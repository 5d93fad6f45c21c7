"""What a diagnosis costs: against the batch it diagnoses, and against the batch's size.

Part 1, batches that fit the budget: each example's whole ``concdoctor profile`` (child
start, py-spy baseline, confirmation, yappi) divided by (sequential batch time +
recommended executor time), both taken from the same diagnosis. The target is a median
of at most 1.3, and no batch of 0.3 s or longer above 2.

Part 2, batch size: 10 to 100,000 tasks of 5 ms waits and of 2 ms of pure Python, with
the default 30 s budget. Past the budget the diagnosis runs a sample: its cost should
stay flat at about the budget, whatever the batch's size.

Part 3, as a user times it: the same examples through the CLI (``concdoctor profile``
in a fresh interpreter, its wall time), against the sequential loop and the advice's
snippet, each run in a fresh interpreter outside concdoctor. Same target: at most 1.3.

Part 4, the fixed cost, on a trivial batch (2,000 dictionary lookups): the CLI's wall
time, and each part of it: the interpreter's start, the CLI's imports, and the phases of
the diagnosis (timed as each begins), and the rest (the pipeline's imports, parsing the
options, rendering). Target: the trivial batch under 0.4 s through the CLI.

    python benchmarks/diagnosis_cost.py [--part 1|2|3|4] [--reps N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prediction import run_whole

from concdoctor import api
from concdoctor.conclude.snippet import snippet
from concdoctor.diagnosis import Diagnosis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FITTING = [
    ("examples.cpu_bound:sum_of_squares", "examples.cpu_bound:INPUTS"),
    ("examples.factorize:factorize", "examples.factorize:INPUTS"),
    ("examples.data_processor:process_batch", "examples.data_processor:INPUTS"),
    ("examples.hashing:sha256_digest", "examples.hashing:INPUTS"),
    ("examples.hashing:compress", "examples.hashing:COMPRESS_INPUTS"),
    ("examples.io_threads:worker", "examples.io_threads:DELAYS"),
    ("examples.io_threads:fetch", "examples.io_threads:URLS"),
    ("examples.async_fetch:fetch_data", "examples.async_fetch:URLS"),
    ("examples.task_manager:run_job", "examples.task_manager:JOBS"),
    ("examples.mixed:crawl_and_index", "examples.mixed:INPUTS"),
    ("examples.tiny:lookup", "examples.tiny:INPUTS"),
]
SIZES = [10, 100, 1_000, 10_000, 100_000]
SWEEPS = [("wait_ms", 5, "5 ms waits"), ("spin", 2000, "2 ms of pure Python")]


def fitting() -> None:
    print("| workload | executor | sequential s | recommended s | diagnosis s | ratio |")
    print("|---|---|---|---|---|---|")
    ratios = []
    for target, inputs in FITTING:
        start = time.perf_counter()
        d = api.profile(target, inputs_from=inputs)
        total = time.perf_counter() - start
        c = d.confirmation
        assert c is not None and c.recommended_seconds is not None, d.failure
        ratio = total / (c.baseline_seconds + c.recommended_seconds)
        ratios.append(ratio)
        print(f"| {target} | {d.executor} × {d.workers} | {c.baseline_seconds:.2f} | "
              f"{c.recommended_seconds:.2f} | {total:.2f} | {ratio:.2f} |", flush=True)
    print(f"\nmedian ratio {statistics.median(ratios):.2f}, highest {max(ratios):.2f}")


def sweep() -> None:
    sys.path.insert(0, str(HERE))
    print("| tasks | work | sequential s (estimated) | sampled | diagnosis s |")
    print("|---|---|---|---|---|")
    for func, size, what in SWEEPS:
        for tasks in SIZES:
            start = time.perf_counter()
            d = api.profile(f"{HERE / 'workloads.py'}:{func}", inputs=[size] * tasks)
            total = time.perf_counter() - start
            ev = d.evidence
            assert ev is not None, d.failure
            sequential = (d.prediction.sequential_seconds if d.prediction
                          else ev.wall_seconds)
            sampled = f"{ev.sampled_tasks} tasks" if ev.sampled_tasks else "no"
            print(f"| {tasks:,} | {what} | {sequential:.1f} | {sampled} | {total:.1f} |",
                  flush=True)


def wall(command: list[str]) -> float:
    """Seconds ``command`` takes, from the repository's root, as a user's shell runs it."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def cli(target: str, inputs: str, json_path: Path) -> tuple[float, Diagnosis]:
    """The CLI's wall time on one example, and the diagnosis it wrote."""
    seconds = wall([sys.executable, "-m", "concdoctor", "profile", target, "--inputs-from",
                    inputs, "--no-save", "-q", "--json", str(json_path)])
    return seconds, Diagnosis.from_dict(json.loads(json_path.read_text()))


def sequential_snippet(d: Diagnosis) -> str:
    """The batch in a plain loop, written as concdoctor writes its snippets."""
    assert d.recommendation is not None
    rec = dataclasses.replace(d.recommendation, executor="sequential", workers=1,
                              chunksize=1, inner_workers=1)
    code = snippet(dataclasses.replace(d, recommendation=rec))
    assert code is not None
    return code


def as_a_user(reps: int) -> None:
    print("| workload | advice | sequential s | advice s | CLI s | ratio (median) | range |")
    print("|---|---|---|---|---|---|---|")
    medians = []
    with tempfile.TemporaryDirectory() as tmp:
        for target, inputs in FITTING:
            rows = []
            for _ in range(reps):
                seconds, d = cli(target, inputs, Path(tmp) / "report.json")
                rec = d.recommendation
                assert rec is not None and rec.snippet is not None, d.failure
                sequential, advised = run_whole(sequential_snippet(d)), run_whole(rec.snippet)
                rows.append((seconds / (sequential + advised), sequential, advised, seconds,
                             f"{rec.executor} × {rec.workers}"))
            ratios = sorted(row[0] for row in rows)
            middle = sorted(rows)[len(rows) // 2]
            medians.append(statistics.median(ratios))
            print(f"| {target} | {middle[4]} | {middle[1]:.2f} | {middle[2]:.2f} | "
                  f"{middle[3]:.2f} | {medians[-1]:.2f} | {ratios[0]:.2f}-{ratios[-1]:.2f} |",
                  flush=True)
    print(f"\nmedian ratio {statistics.median(medians):.2f}, highest {max(medians):.2f}")


TRIVIAL = ("examples.tiny:lookup", "examples.tiny:INPUTS")


def phases() -> dict[str, float]:
    """Seconds from each phase's start to the next's, through the API."""
    marks: list[tuple[str, float]] = []

    def progress(message: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:
            marks.append((message.split(" (")[0], time.perf_counter()))

    start = time.perf_counter()
    api.profile(TRIVIAL[0], inputs_from=TRIVIAL[1], progress=progress)
    marks.append(("(end)", time.perf_counter()))
    times = [("starting the child", marks[0][1] - start)] if marks else []
    times += [(name, after - at) for (name, at), (_, after) in zip(marks, marks[1:])]
    return dict(times)


def fixed_cost(reps: int) -> None:
    python = [sys.executable, "-c", "pass"]
    imports = [sys.executable, "-c", "import concdoctor.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(wall(python), wall(imports), cli(*TRIVIAL, Path(tmp) / "r.json")[0],
                 phases()) for _ in range(reps)]
    rows = [("the interpreter's start", [r[0] for r in runs]),
            ("the CLI's imports", [r[1] - r[0] for r in runs])]
    for name in runs[0][3]:
        rows.append((f"diagnosis: {name}", [r[3].get(name, 0.0) for r in runs]))
    rows.append(("the rest: the pipeline's imports, parsing the options, rendering",
                 [r[2] - r[1] - sum(r[3].values()) for r in runs]))
    rows.append(("**the CLI, in all**", [r[2] for r in runs]))
    print(f"| part of `concdoctor profile {TRIVIAL[0]}` | seconds (median) | range |")
    print("|---|---|---|")
    for name, values in rows:
        print(f"| {name} | {statistics.median(values):.3f} | "
              f"{min(values):.3f}-{max(values):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["1", "2", "3", "4"], help="only this part")
    parser.add_argument("--reps", type=int, default=3, help="repeats in parts 3 and 4")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    parts = [("1", fitting), ("2", sweep), ("3", lambda: as_a_user(args.reps)),
             ("4", lambda: fixed_cost(args.reps))]
    for number, run in parts:
        if args.part in (None, number):
            run()
            print()


if __name__ == "__main__":
    main()
