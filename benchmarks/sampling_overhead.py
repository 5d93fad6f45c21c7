"""What py-spy sampling costs the baseline it measures.

For each workload, one child runs the batch sequentially, alternating runs without
samplers and runs with the three non-blocking samplers attached, side by side in one
process so that warm-up and machine noise fall on both. Reports the median ratio
sampled / unsampled per rate.

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
    job = Job(TargetSpec.parse(target), InputSpec(source=TargetSpec.parse(inputs_from)))
    plain: list[float] = []
    sampled: dict[int, list[float]] = {rate: [] for rate in rates}
    with runner.spawn(job) as child:
        assert child.wait_event(60)["event"] == "ready"
        child.send("trial", executor="sequential", workers=1)  # warm-up
        child.wait_event(120)
        for _ in range(reps):
            child.send("trial", executor="sequential", workers=1)
            plain.append(child.wait_event(120)["seconds"])
            for rate in rates:
                with tempfile.TemporaryDirectory() as tmp:
                    samplers = sampling.Samplers(sampling.find_py_spy() or "py-spy", child.pid,
                                                 Path(tmp), rate=rate)
                    samplers.start()
                    child.send("baseline")
                    event = child.wait_event(120)
                    samplers.stop()
                sampled[rate].append(event["wall_seconds"])
    base = statistics.median(plain)
    return {rate: statistics.median(values) / base for rate, values in sampled.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
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
