"""Where the task's time went, function by function: py-spy's samples for the times,
yappi for what only a tracer knows.

The samples cover the whole sequential baseline at no extra cost, so they give each
function's share of the task's time: *total* (the function anywhere on the stack) and
*self* (the function running, not a function it called), and those shares of the
baseline's seconds. yappi traces a few tasks for a short while, 10 to 45 times slower
than they run: its times cover a sliver, but its call counts are exact, and so is the
time per call of the calls it saw return. A call still running when its pass ended is
counted apart (``unfinished``), never as a call of no time.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from concdoctor.diagnosis import Evidence, FunctionStat, StackSamples

LIMIT = 12
"""Rows the reports show, the most total time first."""
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*):(?P<line>\d+)\)$")


@dataclass(frozen=True)
class FunctionRow:
    """One function of the task: its shares of the sampled time, and yappi's calls."""

    name: str
    file: str
    line: int
    """The line most samples were on."""
    total: float
    """Share of the task's samples with this function on the stack."""
    self: float
    """Share of the task's samples with this function running (the innermost frame)."""
    seconds: float
    """``total`` of the baseline's seconds."""
    self_seconds: float
    calls: int | None = None
    """Calls yappi saw begin (None: yappi did not see it)."""
    per_call: float | None = None
    """yappi's wall seconds per call that returned while it traced (None: none did)."""
    unfinished: int = 0
    """Calls still running when yappi's pass ended."""
    states: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """How its samples split: idle, GIL held, GIL released (shares of ``total``)."""


def table(evidence: Evidence, limit: int = LIMIT) -> tuple[FunctionRow, ...]:
    """The functions of the sampled stacks, the most total time first, each joined with
    yappi's row for it where yappi saw it."""
    stacks = [s for s in evidence.stacks if s.total > 0 and s.frames]
    samples = sum(s.total for s in stacks)
    if not samples:
        return ()
    counts = _count(stacks)
    seconds = evidence.wall_seconds
    rows = []
    for key, count in counts.total.most_common(limit):
        name, file = key
        traced = _traced(name, file, evidence.top_functions)
        idle, gil, released = counts.states[key]
        rows.append(FunctionRow(
            name, file, counts.lines[key].most_common(1)[0][0], count / samples,
            counts.own[key] / samples, seconds * count / samples,
            seconds * counts.own[key] / samples, traced.calls if traced else None,
            _per_call(traced), traced.unfinished if traced else 0,
            (idle / count, gil / count, released / count)))
    return tuple(rows)


@dataclass
class _Counts:
    total: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Samples with the function on the stack (once per stack, however deep it recurs)."""
    own: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Samples with the function the innermost frame."""
    lines: dict[tuple[str, str], Counter[int]] = field(default_factory=dict)
    states: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """Its samples idle, holding the GIL, and running with it released."""


def _count(stacks: Iterable[StackSamples]) -> _Counts:
    counts = _Counts()
    for stack in stacks:
        keys = [_parse(frame) for frame in stack.frames]
        for key in {key for key, _ in keys}:
            counts.total[key] += stack.total
            states = counts.states.setdefault(key, [0, 0, 0])
            for index, n in enumerate((stack.idle, stack.gil, stack.released)):
                states[index] += n
        for key, line in keys:
            counts.lines.setdefault(key, Counter())[line] += stack.total
        counts.own[keys[-1][0]] += stack.total
    return counts


def _parse(frame: str) -> tuple[tuple[str, str], int]:
    """``"name (file:line)"`` as ((name, file), line)."""
    match = _FRAME.match(frame)
    if match is None:
        return (frame, ""), 0
    return (match["name"], match["file"]), int(match["line"])


def _traced(name: str, file: str, functions: Iterable[FunctionStat]) -> FunctionStat | None:
    """yappi's row for the sampled function ``name`` in ``file``. yappi names a nested
    function by its own name (``<genexpr>``) where py-spy gives its qualified name
    (``outer.<locals>.<genexpr>``), and the two may spell the file's path differently."""
    for stat in functions:
        if stat.builtin or not _same_file(stat.file, file):
            continue
        if name == stat.name or name.endswith("." + stat.name):
            return stat
    return None


def _same_file(a: str, b: str) -> bool:
    if not a or not b or os.path.basename(a) != os.path.basename(b):
        return False
    return a.endswith(b) or b.endswith(a)


def _per_call(stat: FunctionStat | None) -> float | None:
    """Wall seconds per call that returned while yappi traced, or None."""
    if stat is None:
        return None
    returned = stat.calls - stat.unfinished
    if returned <= 0 or stat.total_seconds <= 0:  # none returned, or a report before 0.1
        return None
    return stat.total_seconds / returned


def coverage(evidence: Evidence) -> str | None:
    """What yappi's pass covered, in a line under the table: its call counts and times
    per call come from that pass alone. None when yappi did not run."""
    if not evidence.top_functions or evidence.traced_seconds <= 0:
        return None
    traced = _duration(evidence.traced_seconds)
    if evidence.traced_tasks:
        tasks = f"{evidence.traced_tasks} task{'s' if evidence.traced_tasks > 1 else ''}"
        return f"Calls and per call: yappi traced {tasks} in {traced}, slowed by tracing."
    task = evidence.task_seconds_mean or evidence.task_seconds_median
    share = f", {evidence.traced_seconds / task:.0%} of one task" if task > 0 else ""
    return (f"Calls and per call: yappi traced {traced}{share}, slowed by tracing, and saw "
            "no task end.")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
