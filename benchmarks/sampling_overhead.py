"""What py-spy sampling costs the baseline it measures.

For each workload, one child runs the sequential baseline again and again in rounds of
three: without samplers, with the four non-blocking samplers attached, without again.
The sampled run is compared with the mean of its two neighbours, so warm-up and slow
drifts of the machine fall on both sides; the two unsampled runs compared with each
other show the noise floor. The third column is what the diagnosis uses: the sampled
baseline with the worker's wait for a core while the samplers ran left out.

    python benchmarks/sampling_overhead.py [--reps 9] [--rate 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from concdoctor import protocol, runner
from concdoctor.baseline import evidence
from concdoctor.baseline import stacks as sampling
from concdoctor.options import DEFAULTS
from concdoctor.target import InputSpec, Job, TargetSpec

WORKLOADS = [
    ("examples.cpu_bound:sum_of_squares", "examples.cpu_bound:INPUTS"),
    ("examples.factorize:factorize", "examples.factorize:INPUTS"),
    ("examples.data_processor:process_batch", "examples.data_processor:INPUTS"),
    ("examples.hashing:sha256_digest", "examples.hashing:INPUTS"),
    ("examples.io_threads:worker", "examples.io_threads:DELAYS"),
]


def measure(target: str, inputs_from: str, rate: int, reps: int) -> tuple[
        list[float], list[float], list[float]]:
    """Per round: plain, sampled, plain again. Returns the sampled / plain ratios, the same
    with the wait for the samplers' core left out, and, as a control, the plain / plain
    ratios: the noise floor the overhead must stand out of."""
    job = Job(TargetSpec.parse(target), InputSpec(source=TargetSpec.parse(inputs_from)))
    overhead: list[float] = []
    corrected: list[float] = []
    control: list[float] = []
    with runner.spawn(job) as child:
        child.ask(None, protocol.Ready, 60)
        baseline(child)  # warm-up: imports, caches, allocator
        for _ in range(reps):
            before = baseline(child)
            with tempfile.TemporaryDirectory() as tmp:
                samplers = sampling.Samplers(sampling.find_py_spy() or "py-spy", child.pid,
                                             Path(tmp), rate=rate)
                samplers.start()
                done = child.ask(protocol.RunBaseline(), protocol.BaselineDone, 300)
                samplers.stop()
                share = samplers.cpu_seconds / samplers.seconds if samplers.seconds else 0.0
                left, _ = evidence._without_samplers(done, share,
                                                     one_core=not samplers.own_core)
            after = baseline(child)
            overhead.append(done.wall_seconds / ((before + after) / 2))
            corrected.append(left.wall_seconds / ((before + after) / 2))
            control.append(after / before)
    return overhead, corrected, control


def baseline(child: runner.ChildRunner) -> float:
    return child.ask(protocol.RunBaseline(), protocol.BaselineDone, 300).wall_seconds


def spread(ratios: list[float]) -> str:
    quartiles = statistics.quantiles(ratios, n=4)
    return (f"{(statistics.median(ratios) - 1) * 100:+.1f} % "
            f"[{(quartiles[0] - 1) * 100:+.1f}, {(quartiles[2] - 1) * 100:+.1f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--rate", type=int, default=DEFAULTS.rate)
    args = parser.parse_args()
    print(f"Sampling at {args.rate} Hz, {args.reps} rounds; median [interquartile range]")
    print()
    print("| workload | sampled vs plain | wait left out vs plain | plain vs plain (noise) |")
    print("|---|---|---|---|")
    for target, inputs in WORKLOADS:
        overhead, corrected, control = measure(target, inputs, args.rate, args.reps)
        print(f"| {target} | {spread(overhead)} | {spread(corrected)} | {spread(control)} |",
              flush=True)


if __name__ == "__main__":
    main()
