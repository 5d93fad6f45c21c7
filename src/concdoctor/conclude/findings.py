"""What the measurements say beyond the verdict: calls that wait, loops that block.

Pure functions over the diagnosis data, so they are tested with hand-built values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from concdoctor import executors as registry
from concdoctor.decide import limits
from concdoctor.descendants import GRACE_SECONDS
from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Environment,
    Evidence,
    FunctionStat,
    Leftover,
    Recommendation,
    StackSamples,
    Workload,
)

BLOCKING_RATIO = 0.2
"""A call whose CPU time is below this share of its wall time was waiting."""
BLOCKING_SHARE = 0.2
"""...and it names a blocking call when it holds this share of the traced wall time."""
GATHER_GAIN = 1.5
"""Idle coroutines gathered on one loop should gain at least this much; less is blocking."""
LOOP_WAIT = "selectors.py:"
"""The event loop waits for its awaited I/O in a selector: a frame of this file."""
MIN_IDLE_SAMPLES = 10
BLOCKING_SHARE_OF_IDLE = 0.5
"""A coroutine idle outside the loop's wait this share of its idle time blocks the loop."""


def blocking_calls(functions: Sequence[FunctionStat]) -> tuple[str, ...]:
    """Calls holding a large share of the traced wall time while using little CPU."""
    total = sum(f.wall_seconds for f in functions) or 1.0
    waiting = [f for f in functions if f.wall_seconds >= BLOCKING_SHARE * total
               and f.cpu_seconds <= BLOCKING_RATIO * f.wall_seconds]
    return tuple(f.name for f in waiting)


def loop_blocking(stacks: Sequence[StackSamples]) -> float | None:
    """For a coroutine: the share of its samples off Python (idle, or in C without the
    GIL) spent outside the event loop's wait. A coroutine that awaits leaves the loop
    waiting in its selector; one that calls ``time.sleep`` or a blocking client waits
    in its own frames instead, and the loop with it. GIL-released samples count too:
    py-spy reports a thread in ``time.sleep`` as active on Python 3.10, and C work on
    the loop's thread blocks it all the same. None when too few were taken to tell."""
    waiting = sum(stack.idle + stack.released for stack in stacks)
    if waiting < MIN_IDLE_SAMPLES:
        return None
    awaiting = sum(stack.idle + stack.released for stack in stacks
                   if any(LOOP_WAIT in frame for frame in stack.frames))
    return round((waiting - awaiting) / waiting, 3)


def awaits_in_loop(evidence: Evidence) -> bool:
    """A coroutine whose samples wait in its event loop's wait: nothing blocks it, so
    there is no blocking call to name (the loop's own wait is not one)."""
    return (evidence.loop_blocking is not None
            and evidence.loop_blocking < BLOCKING_SHARE_OF_IDLE)


def blocking_frame(stacks: Sequence[StackSamples]) -> str | None:
    """The innermost frame of the stack most often idle outside the event loop's wait."""
    blocking = [stack for stack in stacks if stack.idle + stack.released and stack.frames
                and not any(LOOP_WAIT in frame for frame in stack.frames)]
    top = max(blocking, key=lambda stack: stack.idle + stack.released, default=None)
    return top.frames[-1] if top is not None else None


def blocked_event_loop(workload: Workload, classification: Classification | None,
                       evidence: Evidence | None, confirmation: Confirmation | None) -> (
        str | None):
    """An idle coroutine that blocks its event loop: seen in the samples (idle outside
    the loop's wait), or measured (gathering its tasks on one loop gains nothing)."""
    if not (workload.is_coroutine and evidence and classification):
        return None
    if classification.kind != "io_bound":
        return None
    culprit = ", ".join(evidence.blocking_calls) or "a synchronous call"
    fix = ("Await an async equivalent (asyncio.sleep, an async client) or move it off the "
           "loop with asyncio.to_thread")
    gathered = next((r for r in confirmation.results if _one_loop(r.executor)),
                    None) if confirmation else None
    if gathered is not None and gathered.speedup is not None:
        if gathered.speedup >= GATHER_GAIN:
            return None
        return (f"the coroutine blocks its event loop: its tasks are idle, yet gathering them "
                f"on one loop gave only {gathered.speedup:.2f}x; the waiting happens in "
                f"{culprit}, which does not yield to the loop. {fix}")
    if evidence.loop_blocking is not None:
        if evidence.loop_blocking < BLOCKING_SHARE_OF_IDLE:
            return None
        where = blocking_frame(evidence.stacks)
        if where and not evidence.blocking_calls:
            culprit = f"a synchronous call in {where}"
        return (f"the coroutine blocks its event loop: {evidence.loop_blocking:.0%} of its idle "
                f"samples wait outside the loop, in {culprit}, which does not yield to it. "
                f"{fix}")
    return ("whether the coroutine blocks its event loop needs the samples (py-spy) or the "
            "confirmation (asyncio measured); neither ran")


def shared_state(recommendation: Recommendation | None, evidence: Evidence | None,
                 confirmation: Confirmation | None) -> str | None:
    """Advice to share the module between tasks (threads, one event loop) while the
    tasks write module-level state: say what, and what the results check found."""
    if recommendation is None or evidence is None or not evidence.shared_state:
        return None
    if not registry.known(recommendation.executor) or not registry.get(
            recommendation.executor).shares_memory:
        return None
    names = ", ".join(evidence.shared_state)
    result = next((r for r in confirmation.results if r.executor == recommendation.executor),
                  None) if confirmation else None
    if result is not None and result.check is not None and result.check.status == "same":
        found = f"the results check found the same results on {recommendation.executor} here"
    elif confirmation is None:
        found = "the results check needs the confirmation, which did not run"
    else:
        found = "the results could not be compared"
    return (f"the tasks write module-level state ({names}), which every "
            f"{'task on the loop' if _one_loop(recommendation.executor) else 'worker thread'} "
            f"shares: {found}, but a race may only show under other timings; guard it with "
            "a lock or keep it per call")


def _one_loop(executor: str) -> bool:
    """The executor runs every task on one event loop."""
    return registry.known(executor) and registry.get(executor).serialises == "loop"


CHILD_PROGRAMS_RATIO = 0.2
"""Child programs using more CPU than this per wall second are worth a word."""


def child_programs(evidence: Evidence | None, environment: Environment) -> str | None:
    """Where the CPU went when the interpreter waited on programs it started."""
    if evidence is None or evidence.child_cpu_ratio < CHILD_PROGRAMS_RATIO:
        return None
    return (f"the interpreter waits on programs it starts, which ran "
            f"{evidence.child_cpu_ratio:.1f} CPU seconds per wall second: they need cores "
            f"too, so more workers than the {environment.cpu_count} cores would only queue "
            "for them")


def many_connections(recommendation: Recommendation | None) -> str | None:
    """A count of concurrent calls a service on the other end may refuse."""
    if recommendation is None or recommendation.workers <= limits.MANY_CONNECTIONS:
        return None
    if not registry.known(recommendation.executor) or not registry.get(
            recommendation.executor).shares_memory:
        return None
    return (f"{recommendation.workers} calls at once: if they go to one service, check that "
            "it accepts that many connections; a rules file sets a ceiling with "
            f'[alternatives] {recommendation.executor} = "min(tasks, 32)"')


def memory_bound(recommendation: Recommendation | None, evidence: Evidence | None,
                 environment: Environment) -> str | None:
    """Say so when memory, not the CPU, set the worker count."""
    if (recommendation is None or recommendation.limited_by != "memory" or evidence is None
            or not environment.memory_limit_bytes):
        return None
    entry = registry.get(recommendation.executor)
    each = limits.worker_bytes(entry, evidence.task_bytes, recommendation.inner_workers)
    return (f"memory set the worker count, not the CPU: a call held up to "
            f"{_mib(evidence.task_bytes)} in the baseline, so {recommendation.workers} "
            f"workers of about {_mib(each)} each fit in the "
            f"{_mib(environment.memory_limit_bytes)} available "
            f"({environment.memory_limit_source or 'measured'}; --memory-limit sets it)")


def _mib(value: int) -> str:
    return f"{value / (1 << 20):,.0f} MiB"


LISTED_COMMANDS = 3
"""Commands a note names; the rest are counted."""


def tally(seen: Iterable[tuple[str, bool]]) -> tuple[Leftover, ...]:
    """``(command, kept)`` per process left running, by command, most frequent first."""
    return tuple(Leftover(command, count, kept)
                 for (command, kept), count in Counter(seen).most_common())


def left_running(left: Sequence[Leftover]) -> str | None:
    """What the target left running, and what became of it: every trial runs the batch
    again, so a helper started per call and never ended would pile up."""
    parts = []
    for kept in (False, True):
        rows = [row for row in left if row.kept is kept]
        count = sum(row.count for row in rows)
        if not count:
            continue
        listed = ", ".join(f"{row.command} ×{row.count}" for row in rows[:LISTED_COMMANDS])
        more = (f" and {len(rows) - LISTED_COMMANDS} other commands"
                if len(rows) > LISTED_COMMANDS else "")
        what = ("left running at --keep-detached (they outlive concdoctor)" if kept else
                f"ended by concdoctor (SIGTERM, then SIGKILL after {GRACE_SECONDS:g} s)")
        parts.append(f"{count} {'process' if count == 1 else 'processes'} {what}: "
                     f"{listed}{more}")
    if not parts:
        return None
    return "the target left processes running: " + "; ".join(parts)
