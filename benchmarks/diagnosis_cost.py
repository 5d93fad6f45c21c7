"""What a full diagnosis costs, against the batch it diagnoses.

For each example, runs the whole ``concdoctor profile`` pipeline (child start, py-spy
baseline, confirmation trials, yappi) and divides its wall time by (sequential batch
time + recommended executor time), both taken from the same diagnosis. The target is
a ratio of at most 2.

    python benchmarks/diagnosis_cost.py
"""

from __future__ import annotations

import time

from concdoctor import api

WORKLOADS = [
    ("examples.cpu_bound:sum_of_squares", "examples.cpu_bound:INPUTS"),
    ("examples.factorize:factorize", "examples.factorize:INPUTS"),
    ("examples.data_processor:process_batch", "examples.data_processor:INPUTS"),
    ("examples.hashing:sha256_digest", "examples.hashing:INPUTS"),
    ("examples.hashing:compress", "examples.hashing:COMPRESS_INPUTS"),
    ("examples.io_threads:worker", "examples.io_threads:DELAYS"),
    ("examples.async_fetch:fetch_data", "examples.async_fetch:URLS"),
    ("examples.task_manager:run_job", "examples.task_manager:JOBS"),
]


def main() -> None:
    print("| workload | executor | sequential s | recommended s | diagnosis s | ratio |")
    print("|---|---|---|---|---|---|")
    for target, inputs in WORKLOADS:
        start = time.perf_counter()
        diagnosis = api.profile(target, inputs_from=inputs)
        total = time.perf_counter() - start
        confirmation = diagnosis.confirmation
        assert confirmation is not None and confirmation.recommended_seconds is not None
        batch = confirmation.baseline_seconds + confirmation.recommended_seconds
        print(f"| {target} | {diagnosis.executor} | {confirmation.baseline_seconds:.2f} | "
              f"{confirmation.recommended_seconds:.2f} | {total:.2f} | {total / batch:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
