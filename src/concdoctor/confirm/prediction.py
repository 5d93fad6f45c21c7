"""The whole batch, predicted from the sample it was diagnosed on.

Sequentially, the batch takes its task count times the sample's mean task time; the
interval is the standard error of that mean (with the finite-population correction: a
sample of most of the batch leaves little unknown).

On a pool, each trial on the sample reports how long a task took *on the pool* (``u``,
waiting for the GIL, a core or the event loop included) and how many ran at once
(``c``). A task alone takes the baseline's mean ``t``; each other task running beside
it adds ``(u - t) / (c - 1)``: nothing for waits that overlap freely, a whole task for
work that takes turns. With the whole batch the pool runs ``C = min(tasks, workers)``
at once, each task taking ``u(C)``, in ``ceil(tasks / C)`` waves; what the sample's
trial spent beyond its own waves (starting workers, shipping, the last stragglers) is
added as it was measured, scaled by what the capacity model says starting the pool
costs for the whole batch's workers against the sample's (400 threads take longer to
start than the 120 that ran a sample of 120). The interval adds the spread of task
times, the spread of the trials and the model's own error in quadrature.

A pool that starts a worker at each submit (a thread pool) is not started first and
then run: the first tasks run while the later workers start, and the rest are queued
once all have started (:func:`started_on_submit`). Its start-up is read from the
sample's trial under that model, and the batch's predicted under it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from concdoctor import executors as registry
from concdoctor.baseline.budget import waves
from concdoctor.diagnosis import Prediction
from concdoctor.executors import SEQUENTIAL

Z = 1.96
"""The interval is about 95 %: this many standard errors either side."""
TRIAL_NOISE = 0.1
"""Relative noise assumed of a single trial (the spread of several replaces it)."""
MODEL_ERROR = 0.1
"""Relative error of the pool model itself (waves, hand-off, chunking)."""
CAPACITY_ERROR = 0.5
"""Relative error of the capacity model alone, when no trial ran (--no-confirm)."""


@dataclass(frozen=True)
class TrialSummary:
    """The advice's trials on the sample: their seconds, and per task on the pool."""

    seconds: Sequence[float]
    task_seconds: float
    concurrency: float


def extrapolate(*, tasks: int, seed: int, task_seconds_mean: float,
                task_seconds_stdev: float, sampled: int, executor: str, workers: int,
                trial: TrialSummary | None, model_speedup: float = 1.0) -> Prediction:
    """The whole batch's sequential time, and the advised executor's, with an interval.
    Without a trial (no confirmation), the capacity model's ``model_speedup`` stands in,
    with a wide interval."""
    sequential = tasks * task_seconds_mean
    spread = _relative_error(task_seconds_mean, task_seconds_stdev, sampled, tasks)
    if executor == SEQUENTIAL or trial is None or not trial.seconds:
        guess = sequential if executor == SEQUENTIAL else sequential / max(model_speedup, 1.0)
        error = spread if executor == SEQUENTIAL else math.hypot(spread, CAPACITY_ERROR)
        low, high = _interval(guess, error)
        return Prediction(tasks, sampled, seed, round(sequential, 3), round(guess, 3),
                          round(low, 3), round(high, 3))
    scale = overhead_scale(executor, min(workers, sampled), min(workers, tasks))
    on_submit = registry.known(executor) and registry.get(executor).starts_on_submit
    pooled = pool_seconds(tasks, sampled, workers, task_seconds_mean, trial, scale=scale,
                          on_submit=on_submit)
    measured = statistics.median(trial.seconds)
    noise = (TRIAL_NOISE if len(trial.seconds) < 2 else
             (max(trial.seconds) - min(trial.seconds)) / (2 * measured))
    low, high = _interval(pooled, math.sqrt(spread ** 2 + noise ** 2 + MODEL_ERROR ** 2))
    return Prediction(tasks, sampled, seed, round(sequential, 3), round(pooled, 3),
                      round(low, 3), round(high, 3))


def overhead_scale(executor: str, sample_workers: int, whole_workers: int) -> float:
    """How much longer the pool takes to start for the whole batch's workers than it
    took for the sample's, by the capacity model's costs. Only the start scales: the
    tasks' own hand-offs are in the waves (a trial's leftover beyond them does not grow
    with the batch, which 3,000 waits on 256 threads sampled as 670 showed)."""
    costs = registry.get(executor).costs if registry.known(executor) else None
    if costs is None or sample_workers <= 0:
        return 1.0
    return ((costs.start + costs.per_worker * whole_workers)
            / (costs.start + costs.per_worker * sample_workers))


def pool_seconds(tasks: int, sampled: int, workers: int, alone: float,
                 trial: TrialSummary, *, scale: float = 1.0, on_submit: bool = False,
                 ) -> float:
    """Seconds for ``tasks`` on the pool that ran the sample as ``trial`` did; what the
    trial spent beyond its waves (its start-up) is multiplied by ``scale`` (see
    :func:`overhead_scale`). ``on_submit``: the pool starts a worker at each submit,
    and both the sample's start-up and the batch's time follow :func:`started_on_submit`."""
    measured = statistics.median(trial.seconds)
    ran = max(min(trial.concurrency, sampled, workers), 1.0)
    per_neighbour = max(0.0, trial.task_seconds - alone) / (ran - 1) if ran > 1 else 0.0
    at_once = min(tasks, workers)
    each = alone + (at_once - 1) * per_neighbour
    if on_submit:
        start = _start_of(measured, trial.task_seconds, min(workers, sampled), sampled)
        return started_on_submit(start * scale, each, at_once, tasks)
    beyond = max(0.0, measured - waves(sampled, min(workers, sampled)) * trial.task_seconds)
    return beyond * scale + waves(tasks, at_once) * each


def started_on_submit(start: float, each: float, workers: int, tasks: int) -> float:
    """Seconds for ``tasks`` of ``each`` seconds on a pool that starts a worker at each
    submit, the ``workers`` of them over ``start`` seconds: worker k starts at (k + 1) /
    ``workers`` of it and runs task k at once; the other tasks are queued once the last
    has started, each taken by the first worker free. Workers are free within ``each``
    of one another then, so they take the queue's tasks in turn."""
    workers = min(workers, tasks)
    if workers <= 0:
        return 0.0
    starts = [start * (k + 1) / workers for k in range(workers)]
    end = starts[-1] + each
    per, extra = divmod(tasks - workers, workers)
    for index, free in enumerate(sorted(max(begun + each, start) for begun in starts)):
        taken = per + (index < extra)
        if taken:
            end = max(end, free + taken * each)
    return end


def _start_of(measured: float, each: float, workers: int, tasks: int) -> float:
    """The start-up under :func:`started_on_submit` that makes ``tasks`` take
    ``measured`` seconds (0 when they took no longer than their waves)."""
    low, high = 0.0, measured
    if started_on_submit(low, each, workers, tasks) >= measured:
        return 0.0
    for _ in range(40):  # the time grows with the start-up: bisect to a part in 10^12
        middle = (low + high) / 2
        if started_on_submit(middle, each, workers, tasks) < measured:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _relative_error(mean: float, stdev: float, sampled: int, tasks: int) -> float:
    """Relative standard error of the sample mean, finite population corrected."""
    if mean <= 0 or sampled <= 1:
        return 0.0
    correction = math.sqrt(max(0.0, (tasks - sampled) / max(tasks - 1, 1)))
    return stdev / math.sqrt(sampled) / mean * correction


def _interval(value: float, relative: float) -> tuple[float, float]:
    return value * max(0.0, 1 - Z * relative), value * (1 + Z * relative)
