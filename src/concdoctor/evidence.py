"""The baseline stage: the whole batch once, sequentially, under py-spy -> Evidence.

The child times every task and accounts for the worker thread's CPU; three py-spy
samplers (:mod:`concdoctor.sampling`) watch it meanwhile. This module starts and stops
them around the baseline, decides when their samples are too few to trust (the evidence
is then *degraded*: the answer comes from CPU time alone), and blends the two sources
into the idle / GIL-held / GIL-released shares.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from concdoctor import findings, sampling
from concdoctor.diagnosis import Evidence
from concdoctor.options import Options
from concdoctor.protocol import BaselineDone, Ready, RunBaseline
from concdoctor.runner import ChildRunner

FEWEST_EXPECTED_SAMPLES = 5
"""A baseline shorter than this many sampling intervals cannot tell the states apart."""
LOST_SAMPLES_DIVISOR = 4
"""py-spy took fewer than 1/this of the samples it should have: its shares mean nothing."""


@dataclass(frozen=True)
class Baseline:
    evidence: Evidence
    notes: tuple[str, ...] = ()


def measure_baseline(child: ChildRunner, ready: Ready, options: Options,
                     progress: Callable[[str], None]) -> Baseline:
    """Run the baseline under the samplers; the evidence, with what to tell the user."""
    samplers, degraded = _start_sampling(child.pid, options, progress)
    progress(f"running {ready.tasks} tasks sequentially" + (" under py-spy" if samplers else ""))
    shares = None
    try:
        done = child.ask(RunBaseline(keep_results=options.confirm), BaselineDone,
                         options.timeout)
        if samplers:
            samplers.stop()
            labels = sampling.thread_labels(ready.thread_id, ready.thread_ident)
            shares = samplers.shares(done.wall_seconds, labels)
    finally:
        if samplers:
            samplers.kill()
            samplers.directory_cleanup()
    degraded = degraded or _unreliable(shares, done, options.rate)
    evidence = _evidence(done, None if degraded else shares, degraded, options.rate)
    if ready.is_coroutine:
        evidence = replace(evidence, loop_blocking=findings.loop_blocking(evidence.stacks))
    evidence, note = _blend(evidence, shares.gil_estimate if shares else None)
    return Baseline(evidence, (note,) if note else ())


def _start_sampling(pid: int, options: Options, progress: Callable[[str], None]) -> (
        tuple[sampling.Samplers | None, str | None]):
    """Running samplers, or None and why the evidence will be degraded."""
    if not options.sampling:
        return None, "sampling was turned off (--no-sampling)"
    binary = sampling.find_py_spy()
    if binary is None:
        return None, "py-spy is not installed; install it with 'pip install py-spy'"
    progress("attaching py-spy")
    samplers = sampling.Samplers(binary, pid, Path(tempfile.mkdtemp(prefix="concdoctor-")),
                                 rate=options.rate)
    try:
        samplers.start()
    except sampling.SamplingUnavailable as exc:
        samplers.directory_cleanup()
        return None, str(exc)
    return samplers, None


def _unreliable(shares: sampling.Shares | None, done: BaselineDone, rate: int) -> str | None:
    if shares is None:
        return None
    if shares.expected < FEWEST_EXPECTED_SAMPLES:
        return (f"the baseline lasted {done.wall_seconds * 1000:.1f} ms, too short for py-spy "
                f"at {rate} samples/s to tell its states")
    if shares.total < shares.expected // LOST_SAMPLES_DIVISOR:
        return (f"py-spy took {shares.total} samples of the ~{shares.expected} expected; the "
                "shares are unreliable")
    return None


def _evidence(done: BaselineDone, shares: sampling.Shares | None, degraded: str | None,
              rate: int) -> Evidence:
    tasks = done.task_seconds or (0.0,)
    fractions = shares.fractions() if shares else (None, None, None)
    return Evidence(
        wall_seconds=round(done.wall_seconds, 6), cpu_seconds=round(done.cpu_seconds, 6),
        thread_cpu_seconds=round(done.thread_cpu_seconds, 6),
        task_seconds_median=round(statistics.median(tasks), 6),
        task_seconds_max=round(max(tasks), 6),
        voluntary_switches=done.voluntary_switches,
        involuntary_switches=done.involuntary_switches,
        run_delay_seconds=round(done.run_delay_seconds, 6),
        idle_fraction=_round(fractions[0]), gil_fraction=_round(fractions[1]),
        released_fraction=_round(fractions[2]),
        samples=shares.total if shares else 0, sampling_rate=rate if shares else 0,
        degraded=shares is None, degraded_reason=degraded,
        stacks=shares.stacks if shares else (), process_problem=done.process_problem,
        shared_state=done.shared_state,
    )


def _blend(evidence: Evidence, gil_estimate: float | None) -> tuple[Evidence, str | None]:
    """The shares with the waiting taken from CPU time (see :func:`sampling.blend`)."""
    if evidence.idle_fraction is None or not evidence.wall_seconds:
        return evidence, None
    busy = (evidence.thread_cpu_seconds + evidence.run_delay_seconds) / evidence.wall_seconds
    fractions, note = sampling.blend(
        (evidence.idle_fraction, evidence.gil_fraction or 0.0,
         evidence.released_fraction or 0.0), busy, gil_estimate)
    idle, gil, released = (round(value, 4) for value in fractions)
    return replace(evidence, idle_fraction=idle, gil_fraction=gil,
                   released_fraction=released), note


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
