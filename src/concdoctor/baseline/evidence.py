"""The baseline stage: the whole batch once, sequentially, under py-spy -> Evidence.

The child times every task and accounts for the worker thread's CPU; four py-spy
samplers (:mod:`concdoctor.baseline.stacks`) watch it meanwhile. This module starts and
stops them around the baseline, decides when their samples are too few to trust (the evidence
is then *degraded*: the answer comes from CPU time alone), and blends the two sources
into the idle / GIL-held / GIL-released shares.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from concdoctor.baseline import budget
from concdoctor.baseline import stacks as sampling
from concdoctor.conclude import findings
from concdoctor.cores import cpu_count as environment_cpus
from concdoctor.diagnosis import Evidence
from concdoctor.options import Options
from concdoctor.protocol import BaselineDone, Ready, RunBaseline, TooBig
from concdoctor.runner import ChildRunner

Progress = Callable[..., None]
"""``progress(message)``, or ``progress(message, done, total)`` while tasks run."""
FEWEST_EXPECTED_SAMPLES = 5
"""A baseline shorter than this many sampling intervals cannot tell the states apart."""
LOST_SAMPLES_DIVISOR = 4
"""py-spy took fewer than 1/this of the samples it should have: its shares mean nothing."""
OTHER_THREADS = 1.1
"""Process CPU above this multiple of the worker thread's: the target's own threads ran
beside it, and could as well be what the worker waited for."""


@dataclass(frozen=True)
class Baseline:
    evidence: Evidence
    notes: tuple[str, ...] = ()


def measure_baseline(child: ChildRunner, ready: Ready, options: Options, progress: Progress,
                     io_workers: int) -> Baseline:
    """Run the baseline under the samplers: the whole batch when it fits its share of the
    budget, else a sample (sized to keep ``io_workers`` busy when the tasks wait)."""
    if options.sample is not None and options.sample < ready.held:
        run = SampledRun(TooBig((), 0.0, 0.0), None, None)  # asked for: go straight to it
    else:
        first = RunBaseline(keep_results=options.confirm, start_method=options.start_method,
                            deadline=budget.BASELINE_SHARE * options.budget,
                            check_after=budget.CHECK_SHARE * options.budget)
        whole = "" if ready.held == ready.tasks else f" (a sample of {ready.tasks})"
        run = _sampled(child, ready, options, progress, first,
                       f"running {ready.held} tasks sequentially{whole}")
    notes: tuple[str, ...] = ()
    if isinstance(run.done, TooBig):
        k = options.sample or _sample_size(run.done, ready, options, io_workers)
        notes = (_sample_note(run.done, k, ready.tasks, options),)
        again = RunBaseline(keep_results=options.confirm, sample=k, seed=options.seed or 0,
                            start_method=options.start_method,
                            deadline=None if options.sample else
                            budget.MAX_SAMPLE_SHARE * options.budget)
        run = _sampled(child, ready, options, progress, again,
                       f"running a sample of {k} tasks sequentially")
        ran = len(run.done.task_seconds) if isinstance(run.done, BaselineDone) else k
        if ran < k:
            notes += (f"the budget ended the sample after {ran} of its {k} tasks: its "
                      f"times are those {ran}",)
    done, shares, degraded = run.done, run.shares, run.degraded
    assert isinstance(done, BaselineDone)
    notes += (run.busy,) if run.busy else ()
    if run.sampler_share is not None:
        done, waited = _without_samplers(done, run.sampler_share, one_core=run.one_core)
        notes += (waited,) if waited else ()
    evidence = _evidence(done, None if degraded else shares, degraded, options.rate)
    if len(done.task_seconds) < ready.tasks:
        evidence = replace(evidence, sampled_tasks=len(done.task_seconds), seed=options.seed)
    if ready.is_coroutine:
        evidence = replace(evidence, loop_blocking=findings.loop_blocking(evidence.stacks))
    evidence, blended = _blend(evidence, shares.gil_estimate if shares else None)
    return Baseline(evidence, (*notes, *((blended,) if blended else ())))


def _without_samplers(done: BaselineDone, share: float, *,
                      one_core: bool) -> tuple[BaselineDone, str | None]:
    """The baseline as it would have run unsampled: the trials run without the samplers,
    so the time the worker waited for a core while they ran (no more than they used of
    one) is taken out. On one core they take turns with the target; on more, the
    scheduler at times puts the worker on theirs. Where the target's own threads kept
    the cores busy beside the worker, a wait is theirs as much as the samplers': it stays.
    The note says so only on one core, where the wait is the rule, not the exception."""
    wall = done.wall_seconds
    if not one_core and done.cpu_seconds > OTHER_THREADS * done.thread_cpu_seconds:
        return done, None
    waited = min(done.run_delay_seconds, share * wall, 0.9 * wall)
    if wall <= 0 or waited <= 0:
        return done, None
    factor = (wall - waited) / wall
    note = (f"one core: py-spy took turns with the target, which waited {waited:.2f} s for "
            "it; the baseline's times leave that wait out") if one_core else None
    return replace(done, wall_seconds=wall - waited, run_delay_seconds=0.0,
                   task_seconds=tuple(t * factor for t in done.task_seconds)), note


def _sample_note(too_big: TooBig, k: int, tasks: int, options: Options) -> str:
    why = ""
    if too_big.task_seconds:
        estimate = budget.pace_of(too_big.task_seconds) * tasks
        why = (f"the batch would run about {estimate:.0f} s sequentially, past the --budget "
               f"of {options.budget:g} s: ")
    return (f"{why}diagnosed on a sample of {k} of its {tasks} tasks (--sample {k} "
            f"--seed {options.seed} repeats it); times for all are predicted")


def _sample_size(too_big: TooBig, ready: Ready, options: Options, io_workers: int) -> int:
    """Tasks to sample: CPU-bound work keeps the cores busy, waiting keeps the threads."""
    cpu_bound = too_big.thread_cpu_seconds > 0.5 * too_big.elapsed
    cores = environment_cpus()
    return budget.sample_size(too_big.task_seconds, ready.held, budget=options.budget,
                              workers=cores if cpu_bound else io_workers, cpu_count=cores)


@dataclass(frozen=True)
class SampledRun:
    """One baseline request under fresh samplers."""

    done: BaselineDone | TooBig
    shares: sampling.Shares | None
    degraded: str | None
    """Why the evidence is degraded, or None."""
    busy: str | None = None
    """A note when the samplers were short of CPU."""
    sampler_share: float | None = None
    """The share of a core the samplers used while they ran (None: no samplers ran)."""
    one_core: bool = False
    """The samplers and the target took turns on the only core."""


def _sampled(child: ChildRunner, ready: Ready, options: Options, progress: Progress,
             request: RunBaseline, what: str) -> SampledRun:
    """One baseline request under fresh samplers: its answer, the shares, and why the
    evidence is degraded (None if it is not)."""
    samplers, degraded = _start_sampling(child.pid, options, progress)
    progress(what + (" under py-spy" if samplers else ""))
    total = request.sample or ready.held
    shares, busy, shared = None, None, None
    try:
        done: BaselineDone | TooBig = child.ask(
            request, (BaselineDone, TooBig), options.timeout,
            on_progress=lambda p: progress(what, p.done, total))
        if samplers and isinstance(done, BaselineDone):
            samplers.stop()
            labels = sampling.thread_labels(ready.thread_id, ready.thread_ident)
            shares = samplers.shares(done.wall_seconds, labels)
            busy = samplers.short_of_cpu()
            if samplers.seconds > 0:
                shared = samplers.cpu_seconds / samplers.seconds
    finally:
        if samplers:
            samplers.kill()
            samplers.directory_cleanup()
    if isinstance(done, BaselineDone):
        degraded = degraded or _unreliable(shares, done, options.rate)
    return SampledRun(done, shares, degraded, busy, shared,
                      one_core=samplers is not None and not samplers.own_core)


def _start_sampling(pid: int, options: Options, progress: Progress) -> (
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
        task_seconds_mean=round(statistics.fmean(tasks), 6),
        task_seconds_stdev=round(budget.spread_seconds(tasks), 6),
        voluntary_switches=done.voluntary_switches,
        involuntary_switches=done.involuntary_switches,
        run_delay_seconds=round(done.run_delay_seconds, 6),
        idle_fraction=_round(fractions[0]), gil_fraction=_round(fractions[1]),
        released_fraction=_round(fractions[2]),
        samples=shares.total if shares else 0, sampling_rate=rate if shares else 0,
        shares_error=shares.gil_error if shares else None,
        degraded=shares is None, degraded_reason=degraded,
        stacks=shares.stacks if shares else (), process_problem=done.process_problem,
        value_problem=done.value_problem,
        shared_state=done.shared_state, bytes_per_task=done.bytes_per_task,
        child_programs_cpu_seconds=round(done.child_programs_cpu_seconds, 6),
        task_bytes=done.task_bytes,
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
