"""Confirmation: re-run the batch on the advice, and revise the advice when it loses.

The measuring itself is a callable (the pipeline's child runner in real runs, a stub in
unit tests), so the decision logic here is plain and testable: medians over trials,
speedups against the sequential baseline, and the revision to the fastest executor
measured, with the reason in numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from concdoctor.diagnosis import Confirmation, ExecutorResult, Recommendation
from concdoctor.options import DEFAULTS

REVISE_MARGIN = 1.1
"""An alternative must beat the advice (or sequential) by this factor to replace it."""
POOLS = ("thread", "process", "interpreter")
UNDERPERFORM = 0.9
"""An advice reaching less than this share of its predicted speedup gets challenged."""
CHALLENGE_SPEEDUP = 1.2
"""When the advice is to stay sequential, a challenger must be this much faster."""


class Skipped(Exception):
    """The executor cannot run this batch; the message says why."""


Measure = Callable[[str, int, int], float]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    executor: str
    workers: int
    chunksize: int = 1


def measure_candidate(measure: Measure, candidate: Candidate, trials: int,
                      baseline: float) -> ExecutorResult:
    seconds: list[float] = []
    try:
        for _ in range(trials):
            seconds.append(measure(candidate.executor, candidate.workers, candidate.chunksize))
    except Skipped as exc:
        return ExecutorResult(candidate.executor, candidate.workers, tuple(seconds),
                              skipped=str(exc), chunksize=candidate.chunksize)
    median = statistics.median(seconds)
    return ExecutorResult(candidate.executor, candidate.workers, tuple(seconds), median,
                          round(baseline / median, 3) if median > 0 else None,
                          chunksize=candidate.chunksize)


def confirm(recommendation: Recommendation, *, baseline_seconds: float, measure: Measure,
            alternatives: Sequence[Candidate], trials: int = DEFAULTS.trials,
            compare_all: bool = False,
            expected: Mapping[str, float] | None = None,
            progress: Progress | None = None) -> tuple[Confirmation, Recommendation]:
    """Measure the advice; measure alternatives when it falls short (or when asked).

    ``expected`` holds the speedup the capacity model allows each executor. An advice
    that holds but reaches less than ``UNDERPERFORM`` of its own is challenged by the
    most promising other pool, if the model allows that pool to do better: one trial,
    and the rest of the trials only if it looks faster.
    """
    say = progress or (lambda message: None)
    results: dict[str, ExecutorResult] = {}

    def run(candidate: Candidate, n: int) -> ExecutorResult:
        """Measure ``n`` more trials, added to any this candidate already has."""
        earlier = results.get(candidate.executor)
        done = earlier.seconds if earlier and not earlier.skipped else ()
        say(f"measuring {candidate.executor} ({candidate.workers} workers, {n} trials)")
        result = measure_candidate(measure, candidate, n, baseline_seconds)
        if done and result.median_seconds is not None:
            seconds = done + result.seconds
            median = statistics.median(seconds)
            result = replace(result, seconds=seconds, median_seconds=median,
                             speedup=round(baseline_seconds / median, 3))
        results[candidate.executor] = result
        return result

    advised = Candidate(recommendation.executor, recommendation.workers,
                        recommendation.chunksize)
    others = [c for c in alternatives if c.executor not in (advised.executor, "sequential")]
    if advised.executor == "sequential":
        confirmation_baseline = _sequential(run, baseline_seconds, trials, results)
        return _challenge(recommendation, run, others, confirmation_baseline, trials,
                          compare_all, results)
    main = run(advised, trials)
    holds = main.speedup is not None and main.speedup >= recommendation.min_speedup
    if compare_all or not holds:
        for candidate in others:
            run(candidate, trials)
    else:
        challenger = _challenger(main, others, expected or {})
        if challenger and _looks_faster(run(challenger, 1), main):
            run(challenger, trials - 1)
    revised = recommendation if holds else _revise(recommendation, main, results)
    if holds and revised is recommendation:
        revised = _overtaken(recommendation, main, results)
    return _confirmation(revised, baseline_seconds, trials, results), revised


def _challenger(main: ExecutorResult, others: Sequence[Candidate],
                expected: Mapping[str, float]) -> Candidate | None:
    """The pool worth one trial against an advice that underperforms its model.

    Only pools challenge pools: an asyncio advice keeps the coroutine's semantics (one
    loop, its semaphores and limits), which threads would silently multiply.
    """
    achieved = main.speedup or 0.0
    if main.executor not in POOLS or achieved >= UNDERPERFORM * expected.get(main.executor, 0):
        return None
    hopeful = [c for c in others if c.executor in POOLS
               and expected.get(c.executor, 0.0) >= achieved * REVISE_MARGIN]
    return max(hopeful, key=lambda c: expected.get(c.executor, 0.0), default=None)


def _looks_faster(result: ExecutorResult, than: ExecutorResult) -> bool:
    return bool(result.median_seconds and than.median_seconds
                and than.median_seconds / result.median_seconds >= REVISE_MARGIN)


def _overtaken(recommendation: Recommendation, main: ExecutorResult,
               results: dict[str, ExecutorResult]) -> Recommendation:
    """A confirmed advice that a fully measured challenger still beats gives way to it."""
    best = _fastest(results)
    if best is None or best.executor == main.executor or len(best.seconds) < 2:
        return recommendation
    if main.executor not in POOLS or best.executor not in POOLS or not _looks_faster(best, main):
        return recommendation
    return replace(recommendation, executor=best.executor, workers=best.workers,
                   chunksize=best.chunksize, revised_from=recommendation.executor,
                   revision_reason=(f"{main.executor} held at {main.speedup or 0:.2f}x, below "
                                    f"what its share of the work allows, and {best.executor} "
                                    f"with {best.workers} workers measured "
                                    f"{best.speedup or 0:.2f}x"))


def _sequential(run: Callable[[Candidate, int], ExecutorResult], baseline: float,
                trials: int, results: dict[str, ExecutorResult]) -> float:
    """Re-run sequential so the advice to stay has a median of its own."""
    result = run(Candidate("sequential", 1), max(trials - 1, 1))
    seconds = (baseline, *result.seconds)
    median = statistics.median(seconds)
    results["sequential"] = replace(result, seconds=seconds, median_seconds=median,
                                    speedup=round(baseline / median, 3))
    return median


def _challenge(recommendation: Recommendation, run: Callable[[Candidate, int], ExecutorResult],
               others: Sequence[Candidate], sequential: float, trials: int, compare_all: bool,
               results: dict[str, ExecutorResult]) -> tuple[Confirmation, Recommendation]:
    """Advice to stay sequential is confirmed when no pool clearly beats it."""
    challengers = list(others) if compare_all else list(others[:1])
    for candidate in challengers:
        first = run(candidate, 1)
        if first.median_seconds and sequential / first.median_seconds >= CHALLENGE_SPEEDUP:
            run(candidate, trials - 1)
    best = _fastest(results, exclude="sequential")
    revised = recommendation
    if best is not None and best.median_seconds and (
            sequential / best.median_seconds >= CHALLENGE_SPEEDUP and len(best.seconds) > 1):
        revised = replace(
            recommendation, executor=best.executor, workers=best.workers,
            chunksize=best.chunksize, revised_from="sequential",
            revision_reason=(f"the rules said sequential, but {best.executor} with "
                             f"{best.workers} workers ran the batch "
                             f"{sequential / best.median_seconds:.2f}x faster"))
    return _confirmation(revised, sequential, trials, results), revised


def _revise(recommendation: Recommendation, main: ExecutorResult,
            results: dict[str, ExecutorResult]) -> Recommendation:
    best = _fastest(results)
    why_main = (f"{main.executor} was skipped ({main.skipped})" if main.skipped else
                f"{main.executor} measured {main.speedup or 0:.2f}x, below the rule's "
                f"{recommendation.min_speedup:.2f}x")
    if best is None or (best.speedup or 0) < REVISE_MARGIN:
        if main.speedup is not None and main.speedup >= REVISE_MARGIN:
            return recommendation  # still the best we have: keep it, unconfirmed
        return replace(recommendation, executor="sequential", workers=1, chunksize=1,
                       revised_from=recommendation.executor,
                       revision_reason=f"{why_main}, and no executor beat sequential by "
                                       f"{REVISE_MARGIN:.1f}x")
    if best.executor == main.executor or (
            main.median_seconds and best.median_seconds
            and main.median_seconds / best.median_seconds < REVISE_MARGIN):
        return recommendation
    return replace(recommendation, executor=best.executor, workers=best.workers,
                   chunksize=best.chunksize, revised_from=recommendation.executor,
                   revision_reason=f"{why_main}; {best.executor} with {best.workers} workers "
                                   f"measured {best.speedup:.2f}x, the fastest")


def _fastest(results: dict[str, ExecutorResult], exclude: str | None = None) -> (
        ExecutorResult | None):
    measured = [r for r in results.values()
                if r.median_seconds is not None and r.executor != exclude]
    return min(measured, key=lambda r: r.median_seconds or 0.0, default=None)


def _confirmation(recommendation: Recommendation, baseline: float, trials: int,
                  results: dict[str, ExecutorResult]) -> Confirmation:
    """The advice is confirmed when its measured speedup reaches its rule's minimum; a
    revision is backed by measurement too (the new advice was the fastest measured)."""
    chosen = results.get(recommendation.executor)
    if recommendation.executor == "sequential":
        seconds = chosen.median_seconds if chosen else baseline
        speedup: float | None = round(baseline / seconds, 3) if seconds else 1.0
    else:
        seconds = chosen.median_seconds if chosen else None
        speedup = chosen.speedup if chosen else None
    executors = {"sequential": round(baseline, 6)}
    executors.update({name: round(r.median_seconds, 6) for name, r in results.items()
                      if r.median_seconds is not None})
    confirmed = recommendation.executor == "sequential" or (
        speedup is not None and speedup >= recommendation.min_speedup)
    return Confirmation(baseline_seconds=round(baseline, 6),
                        recommended_seconds=round(seconds, 6) if seconds else None,
                        speedup=speedup, confirmed=confirmed, trials=trials,
                        executors=executors, results=tuple(results.values()))
