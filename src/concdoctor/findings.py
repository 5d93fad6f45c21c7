"""What the measurements say beyond the verdict: calls that wait, loops that block.

Pure functions over the diagnosis data, so they are tested with hand-built values.
"""

from __future__ import annotations

from collections.abc import Sequence

from concdoctor.diagnosis import Classification, Confirmation, Evidence, FunctionStat, Workload

BLOCKING_RATIO = 0.2
"""A call whose CPU time is below this share of its wall time was waiting."""
BLOCKING_SHARE = 0.2
"""...and it names a blocking call when it holds this share of the traced wall time."""
GATHER_GAIN = 1.5
"""Idle coroutines gathered on one loop should gain at least this much; less is blocking."""


def blocking_calls(functions: Sequence[FunctionStat]) -> tuple[str, ...]:
    """Calls holding a large share of the traced wall time while using little CPU."""
    total = sum(f.wall_seconds for f in functions) or 1.0
    waiting = [f for f in functions if f.wall_seconds >= BLOCKING_SHARE * total
               and f.cpu_seconds <= BLOCKING_RATIO * f.wall_seconds]
    return tuple(f.name for f in waiting)


def blocked_event_loop(workload: Workload, classification: Classification | None,
                       evidence: Evidence | None, confirmation: Confirmation | None) -> (
        str | None):
    """An idle coroutine that gathering does not speed up is blocking its event loop."""
    if not (workload.is_coroutine and confirmation and evidence and classification):
        return None
    gathered = next((r for r in confirmation.results if r.executor == "asyncio"), None)
    if (classification.kind != "io_bound" or gathered is None or gathered.speedup is None
            or gathered.speedup >= GATHER_GAIN):
        return None
    culprit = ", ".join(evidence.blocking_calls) or "a synchronous call"
    return (f"the coroutine blocks its event loop: its tasks are idle, yet gathering them "
            f"on one loop gave only {gathered.speedup:.2f}x; the waiting happens in "
            f"{culprit}, which does not yield to the loop. Await an async equivalent "
            "(asyncio.sleep, an async client) or move it off the loop with asyncio.to_thread")
