"""What a diagnosis costs: against the batch it diagnoses, and against the batch's size.

Part 1, batches that fit the budget: each example's whole ``concdoctor profile`` (child
start, py-spy baseline, confirmation, yappi) divided by (sequential batch time +
recommended executor time), both taken from the same diagnosis. The target is a median
of at most 1.3, and no batch of 0.3 s or longer above 2.

Part 2, batch size: 10 to 100,000 tasks of 5 ms waits and of 2 ms of pure Python, with
the default 30 s budget. Past the budget the diagnosis runs a sample: its cost should
stay flat at about the budget, whatever the batch's size.

    python benchmarks/diagnosis_cost.py [--part 1|2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from concdoctor import api

HERE = Path(__file__).resolve().parent
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["1", "2"], help="only this part")
    part = parser.parse_args().part
    if part in (None, "1"):
        fitting()
    if part in (None, "2"):
        print()
        sweep()


if __name__ == "__main__":
    main()
