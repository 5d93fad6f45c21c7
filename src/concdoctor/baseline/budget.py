"""The budget: how much of a batch to diagnose, and which of its inputs.

A diagnosis should cost about its ``--budget`` (30 s by default) whatever the batch: the
baseline runs the whole batch only when it fits its share of the budget. The baseline
watches itself: once it has run for a moment and its pace says the batch will not fit,
it stops, and concdoctor diagnoses a *sample* instead: seeded, random, and spread over
the whole input order (one input from each of ``k`` equal strata), large enough to keep
every worker busy for several tasks and to time the spread of task sizes, and run in an
order whose every prefix is itself spread, so a sample cut short stays representative.

Inputs that are a sequence are never copied; an iterator (a generator of a million
rows) is read once, keeping a seeded reservoir of at most :data:`RESERVOIR` items.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor.diagnosis import Confirmation, Evidence

BASELINE_SHARE = 0.35
"""Of the budget, what the sequential baseline may take before it is sampled instead."""
CHECK_SHARE = 0.03
"""Of the budget, how long the baseline runs before it judges whether the batch fits."""
SAMPLE_SHARE = 0.3
"""Of the budget, what the sampled baseline aims to take..."""
MAX_SAMPLE_SHARE = 0.45
"""...and the most it may take, to keep every worker busy."""
TASKS_PER_WORKER = 3
"""A sample keeps every worker busy for at least this many tasks..."""
MIN_SAMPLE = 20
"""...and holds at least this many tasks, to time the spread of task sizes."""
RESERVOIR = 20_000
"""An iterator of inputs is read once, keeping at most this many of them."""


@dataclass(frozen=True)
class Held:
    """The inputs the child holds: all of them, or a seeded reservoir of an iterator."""

    items: Sequence[Any]
    total: int


def hold(value: Iterable[Any], seed: int, limit: int = RESERVOIR) -> Held:
    """A sequence as it is (not copied); any other iterable read once into a reservoir."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return Held(value, len(value))
    rng = random.Random(seed)
    kept: list[tuple[int, Any]] = []
    total = 0
    for index, item in enumerate(value):
        total = index + 1
        if index < limit:
            kept.append((index, item))
        else:
            slot = rng.randrange(total)
            if slot < limit:
                kept[slot] = (index, item)
    kept.sort(key=lambda pair: pair[0])
    return Held([item for _, item in kept], total)


def stratified(held: int, k: int, seed: int) -> list[int]:
    """``k`` positions of ``held``, one drawn at random from each of ``k`` equal strata,
    in spread order (see :func:`spread`)."""
    if k >= held:
        return spread(list(range(held)))
    rng = random.Random(seed)
    bounds = [round(held * stratum / k) for stratum in range(k + 1)]
    return spread([rng.randrange(low, high) for low, high in zip(bounds, bounds[1:])])


def spread(positions: list[int]) -> list[int]:
    """The positions reordered so that every prefix covers the whole range: the
    bit-reversed order of their ranks (0, 1/2, 1/4, 3/4, ...)."""
    count = len(positions)
    if count <= 2:
        return positions
    bits = (count - 1).bit_length()
    order = sorted(range(count), key=lambda rank: int(format(rank, f"0{bits}b")[::-1], 2))
    return [positions[rank] for rank in order]


def sample_size(task_seconds: Sequence[float], total: int, *, budget: float, workers: int,
                cpu_count: int) -> int:
    """How many tasks to diagnose, from the first tasks' times: what fits the sample's
    share of the budget; more, up to the most the budget allows, to keep ``workers``
    busy for several tasks each; and never fewer than two tasks per core."""
    pace = pace_of(task_seconds)
    if pace <= 0:
        return total
    fits = int(SAMPLE_SHARE * budget / pace)
    most = int(MAX_SAMPLE_SHARE * budget / pace)
    busy = max(MIN_SAMPLE, TASKS_PER_WORKER * workers)
    least = min(total, 2 * max(cpu_count, 1))
    return max(least, min(total, max(fits, min(busy, most))))


def pace_of(task_seconds: Sequence[float]) -> float:
    """Seconds per task, leaving out the first (imports and caches warm up in it)."""
    times = list(task_seconds[1:] or task_seconds)
    return statistics.fmean(times) if times else 0.0


def too_big(elapsed: float, done: int, held: int, deadline: float, check_after: float) -> bool:
    """Whether a baseline ``elapsed`` seconds and ``done`` tasks in will run past its
    deadline over ``held`` tasks (judged only after ``check_after`` seconds)."""
    if elapsed < check_after or done <= 0 or done >= held:
        return False
    return elapsed / done * held > deadline


def spread_seconds(task_seconds: Sequence[float]) -> float:
    """The standard deviation of task times (0 for fewer than two)."""
    return statistics.stdev(task_seconds) if len(task_seconds) > 1 else 0.0


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)


def waves(tasks: int, workers: int) -> int:
    return math.ceil(tasks / max(workers, 1))


# yappi's passes run last, in what the diagnosis has left.
TRACING_FIXED_SECONDS = 0.35
"""Roughly what starting the child and attaching py-spy cost, measured on 2 cores."""
MIN_TRACING = 0.05
MAX_TRACING = 4.0
WAITING_SHARE = 0.3
"""Tasks idle less than this share of the time: their hot functions show in a short pass."""


BARELY_WAITS = 0.1
"""Tasks idle less than this share of the sampled time need no CPU-clock pass: a blocking
call (:data:`concdoctor.conclude.findings.BLOCKING_SHARE` of the time, nearly all of it
waiting) could not hide in so little waiting."""


def running_share(evidence: Evidence) -> float | None:
    """The share of the time the tasks ran, when the samples show they barely wait (the
    yappi pass then skips its CPU clock: see :class:`~concdoctor.protocol.RunYappi`);
    None when they wait, or when there are no samples to tell."""
    idle = evidence.idle_fraction
    if evidence.degraded or idle is None or idle >= BARELY_WAITS:
        return None
    return round(1.0 - idle, 4)


@dataclass(frozen=True)
class Passes:
    """yappi's passes: seconds of each, at most."""

    wall: float
    cpu: float
    whole_task: bool = False
    """The wall-clock pass is there to see one task through: it ends when one has."""
    cpu_share: float | None = None
    """No CPU-clock pass (``cpu`` is 0): see :func:`running_share`."""


def tracing_seconds(evidence: Evidence, confirmation: Confirmation | None,
                   left: float | None = None, *, name_waits: bool = True) -> Passes:
    """Seconds for yappi's wall-clock pass and CPU-clock pass: what naming the time's
    sinks needs, no more.

    Work that waits needs a wall-clock pass covering a whole typical task, or the
    blocking call (``time.sleep``, ``socket.recv``) is never seen returning; it gets
    that, from the slack the run has left (about seq - rec once the trials ran, less the
    fixed costs), ending as soon as a task has, and a short CPU pass (a call it does not
    reach used no CPU it saw).
    Work that runs all the time names its hot functions in short passes (tracing slows
    them 10-45x anyway), with no CPU pass where the samples show it barely waits, and so
    does work whose waits need no naming (``name_waits`` False: a coroutine waiting in
    its event loop). Never more than what is ``left`` of the diagnosis's budget.
    """
    share = running_share(evidence)
    if share is not None:
        return Passes(MIN_TRACING, 0.0, cpu_share=share)
    if evidence.shares[0] < WAITING_SHARE or not name_waits:
        return Passes(MIN_TRACING, MIN_TRACING)
    whole_task = min(1.1 * evidence.task_seconds_median + MIN_TRACING, MAX_TRACING)
    if left is not None:  # what remains of the diagnosis's --budget
        whole_task = min(whole_task, max(left, 0.0))
    if confirmation is not None and confirmation.recommended_seconds is not None:
        slack = (confirmation.baseline_seconds - confirmation.recommended_seconds
                 - TRACING_FIXED_SECONDS)
        whole_task = min(whole_task, 0.5 * slack)
    return Passes(max(MIN_TRACING, whole_task), MIN_TRACING, whole_task=True)
