"""The ledger of trials: every executor measured so far, and how to measure one more.

:mod:`concdoctor.confirm.policy` decides which executor to measure and what the
measurements mean; the ledger runs the trials it asks for (while the budget lasts) and
sums each executor's up: the median of its seconds, its speedup over the baseline, the
results check (unsafe when any trial was), and how its pool ran.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from concdoctor import executors as registry
from concdoctor.diagnosis import ExecutorResult, ResultsCheck
from concdoctor.executors import SEQUENTIAL


class Skipped(Exception):
    """The executor cannot run this batch; the message says why."""


@dataclass(frozen=True)
class Trial:
    """One run of the batch: its seconds (None when the target raised) and its results
    compared with the baseline's."""

    seconds: float | None
    check: ResultsCheck | None = None
    task_seconds_mean: float | None = None
    concurrency: float | None = None
    worker_bytes: int | None = None


Measure = Callable[[str, int, int, int], "Trial | float"]
"""One trial: executor, workers, chunk size, calls each worker runs at once."""
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    executor: str
    workers: int
    chunksize: int = 1
    inner_workers: int = 1


TimeLeft = Callable[[], float]
OVER_BUDGET = "not measured: the --budget was spent"


class TrialLedger:
    """Every executor measured so far, by name; measures more trials on request, while
    the budget lasts (the advice's first trial always runs)."""

    def __init__(self, measure: Measure, baseline: float, progress: Progress,
                 time_left: TimeLeft | None = None) -> None:
        self.measure, self.baseline, self.say = measure, baseline, progress
        self.time_left = time_left
        self.results: dict[str, ExecutorResult] = {}

    def _affordable(self, executor: str) -> bool:
        if self.time_left is None or not self.results:
            return True
        known = self.results.get(executor)
        last = (known.seconds[-1] if known and known.seconds else
                min((r.seconds[-1] for r in self.results.values() if r.seconds),
                    default=self.baseline))
        return self.time_left() > last

    def run(self, candidate: Candidate, n: int) -> ExecutorResult:
        """``n`` more trials of ``candidate`` (none once it was skipped or unsafe)."""
        earlier = self.results.get(candidate.executor)
        if earlier is not None and (n <= 0 or earlier.skipped or earlier.unsafe):
            return earlier
        if n <= 0:
            n = 1
        if not self._affordable(candidate.executor):
            if earlier is None:
                earlier = ExecutorResult(candidate.executor, candidate.workers,
                                         skipped=OVER_BUDGET, chunksize=candidate.chunksize,
                                         inner_workers=candidate.inner_workers)
                self.results[candidate.executor] = earlier
            return earlier
        self.say(f"measuring {candidate.executor} ({candidate.workers} workers, "
                 f"{n} trial{'s' if n > 1 else ''})")
        trials: list[Trial] = []
        skipped = None
        for index in range(n):
            if index and not self._affordable(candidate.executor):
                break
            try:
                trial = self.measure(candidate.executor, candidate.workers, candidate.chunksize,
                                     candidate.inner_workers)
            except Skipped as exc:
                skipped = str(exc)
                break
            trials.append(trial if isinstance(trial, Trial) else Trial(trial))
            if trials[-1].check is not None and trials[-1].check.unsafe:
                break
        result = self._result(candidate, earlier, trials, skipped)
        self.results[candidate.executor] = result
        return result

    def _result(self, candidate: Candidate, earlier: ExecutorResult | None,
                trials: list[Trial], skipped: str | None) -> ExecutorResult:
        """The candidate's trials so far, summed up: the median of their seconds, the
        results check (unsafe if any trial was), and how the pool ran."""
        seconds = [*(earlier.seconds if earlier else ()),
                   *(t.seconds for t in trials if t.seconds is not None)]
        check = earlier.check if earlier else None
        for trial in trials:
            check = _merge(check, trial.check)
        base = ExecutorResult(candidate.executor, candidate.workers, tuple(seconds),
                              chunksize=candidate.chunksize, check=check,
                              inner_workers=candidate.inner_workers)
        base = _pool_figures(base, trials) if any(t.task_seconds_mean for t in trials) else (
            replace(base, task_seconds_mean=earlier.task_seconds_mean,
                    concurrency=earlier.concurrency, worker_bytes=earlier.worker_bytes)
            if earlier else base)
        if skipped is not None and not seconds:
            return replace(base, skipped=skipped)
        if not seconds:
            return base
        median = statistics.median(seconds)
        speedup = round(self.baseline / median, 3) if median > 0 else None
        return replace(base, median_seconds=median, speedup=speedup)

    def fastest(self, exclude: str | None = None) -> ExecutorResult | None:
        """The fastest executor measured whose results equal the sequential ones. A pool
        that ran one call at a time is the sequential run with a pool's costs: faster
        only by noise, so never the fastest."""
        measured = [r for r in self.results.values() if r.median_seconds is not None
                    and not r.unsafe and r.executor != exclude
                    and (r.executor == SEQUENTIAL or r.workers * r.inner_workers > 1)]
        return min(measured, key=lambda r: r.median_seconds or 0.0, default=None)


def _pool_figures(result: ExecutorResult, trials: list[Trial]) -> ExecutorResult:
    """How the pool ran, over the trials: per-task time and concurrency (medians), and
    memory per worker (the largest)."""
    timed = [t for t in trials if t.task_seconds_mean is not None]
    memory = [t.worker_bytes for t in trials if t.worker_bytes is not None]
    most = max(memory) if memory else None
    pss = registry.known(result.executor) and registry.get(result.executor).worker_memory == "pss"
    return replace(
        result, task_seconds_mean=round(statistics.median(
            t.task_seconds_mean or 0.0 for t in timed), 6),
        concurrency=round(statistics.median(t.concurrency or 0.0 for t in timed), 3),
        worker_bytes=most, worker_pss_bytes=most if pss else None)


def _merge(earlier: ResultsCheck | None, new: ResultsCheck | None) -> ResultsCheck | None:
    """An unsafe trial makes the executor unsafe; otherwise the latest check stands."""
    if earlier is not None and earlier.unsafe:
        return earlier
    return new or earlier
