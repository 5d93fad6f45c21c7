"""Confirmation: re-run the batch on the advice, and revise the advice when it loses.

The measuring itself is a callable (trials in the child in real runs, a stub in unit
tests), so the decisions here are plain and testable: medians over trials, speedups
against the sequential baseline, the results check, and the revision to the fastest
executor whose results equal the sequential ones, with its own rule and reason.

Trials are adaptive: one trial of the advice first; more only while the decision is
not settled (the speedup close to the rule's minimum), up to ``trials``. Alternatives
and challengers get one trial each, and more only when they are in the running.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from concdoctor import executors as registry
from concdoctor.confirm.ledger import (
    Candidate,
    Measure,
    Progress,
    TimeLeft,
    TrialLedger,
)
from concdoctor.diagnosis import Confirmation, ExecutorResult, Recommendation
from concdoctor.executors import SEQUENTIAL
from concdoctor.options import DEFAULTS
from concdoctor.render import wording

REVISE_MARGIN = 1.1
"""An alternative must beat the advice (or sequential) by this factor to replace it."""
UNDERPERFORM = 0.9
"""An advice reaching less than this share of its predicted speedup gets challenged."""
CHALLENGE_SPEEDUP = 1.2
"""When the advice is to stay sequential, a challenger must be this much faster."""
SETTLED = 1.2
"""Trials settle the advice when their median clears its rule's minimum by this factor
(or misses it by as much): trial-to-trial noise here is about 10 %."""
MEASURED_FASTEST = "measured-fastest"
MEASURED_SEQUENTIAL = "measured-sequential"
"""The rules of a revised advice: the measurement made it, not the decision matrix."""


def confirm(recommendation: Recommendation, *, baseline_seconds: float, measure: Measure,
            alternatives: Sequence[Candidate], trials: int = DEFAULTS.trials,
            compare_all: bool = False, expected: Mapping[str, float] | None = None,
            progress: Progress | None = None, adaptive: bool = False,
            time_left: TimeLeft | None = None,
            also: Sequence[str] = ()) -> tuple[Confirmation, Recommendation]:
    """Measure the advice; measure alternatives when it falls short (or when asked).

    ``expected`` holds the speedup the capacity model allows each executor. An advice
    that holds but reaches less than ``UNDERPERFORM`` of its own is challenged by the
    most promising other pool, if the model allows that pool to do better: one trial,
    and the rest of the trials only if it looks faster. With ``adaptive``, ``trials`` is
    the most any executor gets: fewer when one settles the question. ``time_left`` (the
    budget's seconds) stops further trials once the next would overrun it. Executors in
    ``also`` (a cluster the user named) get a trial whatever the advice.
    """
    book = TrialLedger(measure, baseline_seconds, progress or (lambda message: None), time_left)
    plan = _Plan(max(trials, 1), adaptive, compare_all)
    advised = Candidate(recommendation.executor, recommendation.workers,
                        recommendation.chunksize, recommendation.inner_workers)
    others = [c for c in alternatives if c.executor not in (advised.executor, SEQUENTIAL)]
    named = [c for c in others if c.executor in also]
    if advised.executor == SEQUENTIAL:
        return _challenge(recommendation, book, others, plan, named)
    main = book.run(advised, plan.first)
    while adaptive and len(main.seconds) < plan.trials and not _settled(
            main, recommendation, baseline=baseline_seconds, most=plan.trials):
        before = len(main.seconds)
        main = book.run(advised, 1)  # one more at a time, until the median settles it
        if len(main.seconds) == before:
            break  # the budget is spent, or the pool stopped running
    holds = _holds(main, recommendation)
    if compare_all or not holds:
        _measure_all(book, others, plan)
    else:
        challengers = _rivals(main, others, expected or {}) or [
            c for c in [_challenger(main, others, expected or {})] if c]
        for challenger in challengers:
            if _looks_faster(book.run(challenger, 1), main):
                book.run(challenger, plan.trials - 1)
    for candidate in named:
        if candidate.executor not in book.results and _looks_faster(
                book.run(candidate, 1), main):
            book.run(candidate, plan.trials - 1)
    revised = (_overtaken(recommendation, main, book, plan) if holds
               else _revise(recommendation, main, book))
    return _confirmation(revised, baseline_seconds, book), revised


@dataclass(frozen=True)
class _Plan:
    trials: int
    adaptive: bool
    compare_all: bool

    @property
    def first(self) -> int:
        """Trials in the first round: one when adaptive, all of them otherwise."""
        return 1 if self.adaptive else self.trials


def _holds(result: ExecutorResult, recommendation: Recommendation) -> bool:
    return (not result.unsafe and result.speedup is not None
            and result.speedup >= recommendation.min_speedup)


def _settled(result: ExecutorResult, recommendation: Recommendation, *, baseline: float,
             most: int) -> bool:
    """Clearly above the rule's minimum, clearly below it, unusable, or on a side of it
    that the trials still allowed (``most`` in all) cannot change, however fast or slow
    they run: more trials of it would not change the decision. (Of three, two on the
    same side of the bar fix the median's side.)"""
    if result.unsafe or result.skipped or result.speedup is None:
        return True
    bar = recommendation.min_speedup
    if result.speedup >= SETTLED * bar or result.speedup <= bar / SETTLED:
        return True
    left = most - len(result.seconds)

    def holds_with(each: float) -> bool:
        return statistics.median([*result.seconds, *[each] * left]) * bar <= baseline

    return left <= 0 or holds_with(0.0) == holds_with(math.inf)


def _measure_all(book: TrialLedger, candidates: Sequence[Candidate], plan: _Plan) -> None:
    """Every candidate; when adaptive, one trial each, then the full trials for those in
    the running (within the revision margin of the fastest)."""
    for candidate in candidates:
        book.run(candidate, plan.first)
    if not plan.adaptive:
        return
    best = book.fastest()
    for candidate in candidates:
        result = book.results.get(candidate.executor)
        if (best is not None and result is not None and result.median_seconds is not None
                and not result.unsafe and best.median_seconds is not None
                and result.median_seconds <= REVISE_MARGIN * best.median_seconds):
            book.run(candidate, plan.trials - len(result.seconds))


def _challenger(main: ExecutorResult, others: Sequence[Candidate],
                expected: Mapping[str, float]) -> Candidate | None:
    """The pool worth one trial against an advice that underperforms its model.

    Only pools challenge pools: an asyncio advice keeps the coroutine's semantics (one
    loop, its semaphores and limits), which threads would silently multiply. A nested
    pool (processes running calls at once) challenges only where the model rates it at
    least as high as the advice: on a busy machine every pool underperforms, and one
    more way to overlap the same waits is no answer to that.
    """
    achieved = main.speedup or 0.0
    ceiling = expected.get(main.executor, 0)
    if not _is_pool(main.executor) or achieved >= UNDERPERFORM * ceiling:
        return None
    hopeful = [c for c in others if _is_pool(c.executor)
               and expected.get(c.executor, 0.0) >= achieved * REVISE_MARGIN
               and (not registry.get(c.executor).nested
                    or expected.get(c.executor, 0.0) >= ceiling)]
    return max(hopeful, key=lambda c: expected.get(c.executor, 0.0), default=None)


def _is_pool(name: str) -> bool:
    """A pool of workers that runs any callable (not the loop, not an event loop whose
    semantics a pool would change)."""
    return (name != SEQUENTIAL and registry.known(name)
            and not registry.get(name).needs_coroutine)


def _rivals(main: ExecutorResult, others: Sequence[Candidate],
            expected: Mapping[str, float]) -> list[Candidate]:
    """The advice's rivals the model rates within the revision margin of it (or does not
    rate at all): processes, sub-interpreters and hybrid pools all run Python in
    parallel, and which is faster is for a measurement to say: one trial each. A nested
    pool must be rated at least as high as the advice: on work that does not wait, it
    only adds threads that take turns on each process's GIL."""
    rivals = registry.get(main.executor).rivals if registry.known(main.executor) else ()
    ceiling = expected.get(main.executor, 0.0)
    return [c for c in others if c.executor in rivals
            and expected.get(c.executor, ceiling) >= (
                ceiling if registry.get(c.executor).nested else ceiling / REVISE_MARGIN)]


def _looks_faster(result: ExecutorResult, than: ExecutorResult) -> bool:
    return bool(not result.unsafe and result.median_seconds and than.median_seconds
                and than.median_seconds / result.median_seconds >= REVISE_MARGIN)


def _overtaken(recommendation: Recommendation, main: ExecutorResult, book: TrialLedger,
               plan: _Plan) -> Recommendation:
    """A confirmed advice that a fully measured challenger still beats gives way to it."""
    best = book.fastest()
    if best is None or best.executor == main.executor or len(best.seconds) < min(2, plan.trials):
        return recommendation
    if not _is_pool(main.executor) or not _is_pool(best.executor) or not _looks_faster(best, main):
        return recommendation
    why = (f"{main.executor} held at {main.speedup or 0:.2f}x, below what its share of the "
           f"work allows, and {best.executor} with {best.workers} workers measured "
           f"{best.speedup or 0:.2f}x")
    return _revision(recommendation, best, why)


def _challenge(recommendation: Recommendation, book: TrialLedger, others: Sequence[Candidate],
               plan: _Plan, named: Sequence[Candidate]) -> tuple[Confirmation, Recommendation]:
    """Advice to stay sequential is confirmed when no pool clearly beats it (the first
    alternative, and every executor the user named)."""
    sequential = _sequential(book, plan)
    challengers = others if plan.compare_all else [*others[:1],
                                                   *(c for c in named if c not in others[:1])]
    for candidate in challengers:
        first = book.run(candidate, 1)
        if first.median_seconds and sequential / first.median_seconds >= CHALLENGE_SPEEDUP:
            book.run(candidate, plan.trials - 1)
    best = book.fastest(exclude=SEQUENTIAL)
    revised = recommendation
    if best is not None and best.median_seconds and (
            sequential / best.median_seconds >= CHALLENGE_SPEEDUP
            and len(best.seconds) >= min(2, plan.trials)):
        why = (f"the rules said sequential ({recommendation.rule}), but {best.executor} with "
               f"{best.workers} workers ran the batch {sequential / best.median_seconds:.2f}x "
               "faster")
        revised = _revision(recommendation, best, why)
    return _confirmation(revised, sequential, book), revised


def _sequential(book: TrialLedger, plan: _Plan) -> float:
    """Re-run sequential so the advice to stay has a median of its own."""
    result = book.run(Candidate(SEQUENTIAL, 1), 1 if plan.adaptive else max(plan.trials - 1, 1))
    seconds = (book.baseline, *result.seconds)
    median = statistics.median(seconds)
    book.results[SEQUENTIAL] = replace(result, seconds=seconds, median_seconds=median,
                                         speedup=round(book.baseline / median, 3))
    return median


def _revise(recommendation: Recommendation, main: ExecutorResult,
            book: TrialLedger) -> Recommendation:
    """The advice fell short, was skipped or changed the results: the fastest safe one."""
    best = book.fastest()
    why = _why_not(main, recommendation)
    if best is None or (best.speedup or 0) < REVISE_MARGIN:
        if not main.unsafe and main.speedup is not None and main.speedup >= REVISE_MARGIN:
            return recommendation  # still the best we have: keep it, unconfirmed
        return _revision(recommendation, None, why)
    if best.executor == main.executor or (
            not main.unsafe and main.median_seconds and best.median_seconds
            and main.median_seconds / best.median_seconds < REVISE_MARGIN):
        return recommendation
    return _revision(recommendation, best, why)


def _why_not(main: ExecutorResult, recommendation: Recommendation) -> str:
    """Why the advice lost, in numbers."""
    name, check = main.executor, main.check
    if main.skipped:
        return f"{name} was skipped ({main.skipped})"
    if check is not None and check.unsafe:
        return f"{name} {wording.results_text(check, name)}"
    return (f"{name} measured {main.speedup or 0:.2f}x, below the rule's "
            f"{recommendation.min_speedup:.2f}x")


def _revision(old: Recommendation, to: ExecutorResult | None, why: str) -> Recommendation:
    """The advice the measurement made: its own rule and reason, none of the old text."""
    if to is None:
        reason = (f"{why}, and no executor measured ran the batch {REVISE_MARGIN:.1f}x faster "
                  "than sequential with the same results: it stays sequential.")
        return Recommendation(SEQUENTIAL, 1, MEASURED_SEQUENTIAL, reason,
                              revised_from=old.executor, revision_reason=why,
                              revised_from_rule=old.rule)
    reason = (f"{to.executor} with {to.workers} workers ran the batch "
              f"{to.speedup or 0:.2f}x faster than sequential, the fastest executor measured "
              "with the same results as sequential.")
    return Recommendation(to.executor, to.workers, MEASURED_FASTEST, reason,
                          revised_from=old.executor, revision_reason=why,
                          chunksize=to.chunksize, min_speedup=REVISE_MARGIN,
                          inner_workers=to.inner_workers,
                          revised_from_rule=old.rule)


def _confirmation(recommendation: Recommendation, baseline: float,
                  book: TrialLedger) -> Confirmation:
    """The advice is confirmed when its measured speedup reaches its rule's minimum; a
    revision is backed by measurement too (the new advice was the fastest measured)."""
    results = book.results
    chosen = results.get(recommendation.executor)
    if recommendation.executor == SEQUENTIAL:
        seconds = chosen.median_seconds if chosen else baseline
        speedup: float | None = round(baseline / seconds, 3) if seconds else 1.0
        runs = len(chosen.seconds) if chosen else 1
    else:
        seconds = chosen.median_seconds if chosen else None
        speedup = chosen.speedup if chosen else None
        runs = len(chosen.seconds) if chosen else 0
    executors = {SEQUENTIAL: round(baseline, 6)}
    executors.update({name: round(r.median_seconds, 6) for name, r in results.items()
                      if r.median_seconds is not None})
    confirmed = recommendation.executor == SEQUENTIAL or (
        speedup is not None and speedup >= recommendation.min_speedup
        and not (chosen is not None and chosen.unsafe))
    return Confirmation(baseline_seconds=round(baseline, 6),
                        recommended_seconds=round(seconds, 6) if seconds else None,
                        speedup=speedup, confirmed=confirmed, trials=runs,
                        executors=executors, results=tuple(results.values()))
