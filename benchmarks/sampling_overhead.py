"""What py-spy sampling costs the baseline it measures.

For each workload, one child runs the sequential baseline again and again, each run
without samplers immediately followed by one with the three non-blocking samplers
attached, so that warm-up and slow drifts of the machine fall on both. Reports the
median of the per-pair ratios sampled / unsampled, per sampling rate.

    python benchmarks/sampling_overhead.py [--reps 5] [--rates 100,200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from concdoctor import runner, sampling
from concdoctor.target import InputSpec, Job, TargetSpec

WORKLOADS = [
    ("examples.cpu_bound:sum_of_squares", "examples.cpu_bound:INPUTS"),
    ("examples.factorize:factorize", "examples.factorize:INPUTS"),
    ("examples.data_processor:process_batch", "examples.data_processor:INPUTS"),
    ("examples.hashing:sha256_digest", "examples.hashing:INPUTS"),
    ("examples.io_threads:worker", "examples.io_threads:DELAYS"),
]


def measure(target: str, inputs_from: str, rates: list[int], reps: int) -> dict[int, float]:
    """Median over ``reps`` rounds of (sampled baseline / unsampled baseline), each round
    running the same ``baseline`` command back to back in the same child."""
    job = Job(TargetSpec.parse(target), InputSpec(source=TargetSpec.parse(inputs_from)))
    ratios: dict[int, list[float]] = {rate: [] for rate in rates}
    with runner.spawn(job) as child:
        assert child.wait_event(60)["event"] == "ready"
        baseline(child)  # warm-up: imports, caches, allocator
        for _ in range(reps):
            for rate in rates:
                plain = baseline(child)
                with tempfile.TemporaryDirectory() as tmp:
                    samplers = sampling.Samplers(sampling.find_py_spy() or "py-spy", child.pid,
                                                 Path(tmp), rate=rate)
                    samplers.start()
                    sampled = baseline(child)
                    samplers.stop()
                ratios[rate].append(sampled / plain)
    return {rate: statistics.median(values) for rate, values in ratios.items()}


def baseline(child: runner.ChildRunner) -> float:
    child.send("baseline")
    return float(child.wait_event(300)["wall_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--rates", default="100,200")
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    print(f"| workload | " + " | ".join(f"{rate} Hz" for rate in rates) + " |")
    print("|---|" + "---|" * len(rates))
    for target, inputs in WORKLOADS:
        ratios = measure(target, inputs, rates, args.reps)
        cells = " | ".join(f"{(ratios[rate] - 1) * 100:+.1f} %" for rate in rates)
        print(f"| {target} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
