"""py-spy's samples of the program's main thread, attributed to call sites.

The samplers of :mod:`concdoctor.baseline.stacks` watch the whole run; here only the
main thread's stacks count (the recorder times the main thread's calls on every
Python version). A sample belongs to a call site when its stack holds the caller's frame
at the site's line directly above a frame of the called function: that is a moment spent
inside one of those calls, and its state (idle, GIL-held, GIL-released) is what those
calls were doing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from concdoctor.baseline.stacks import GIL_MODES, MODES, combine, raw_stacks, thread_labels
from concdoctor.diagnosis import StackSamples

Frame = tuple[str, str, int]
"""``(function name, file, line)`` as py-spy writes ``name (file:line)``."""


def parse_frame(text: str) -> Frame:
    name, _, where = text.rpartition(" (")
    file, _, line = where.rstrip(")").rpartition(":")
    return name, file, int(line) if line.isdigit() else 0


PROGRAM_FRAME = "_run (concdoctor/program/boot.py:"
"""The boot's frame under which the program runs: samples without it are the boot's own
(calibrating the recorder, waiting to start, exiting)."""


def read_main(path: Path, labels: tuple[str, ...]) -> Counter[tuple[str, ...]]:
    """The program's stacks (frames root first) on the thread named by ``labels``, with
    counts; a stack cut short by a non-blocking read, without the boot's frame, is left
    out with the boot's own."""
    counts: Counter[tuple[str, ...]] = Counter()
    for frames, number in raw_stacks(path, labels):
        if any(frame.startswith(PROGRAM_FRAME) for frame in frames):
            counts[tuple(frames)] += int(number)
    return counts


def program_stacks(directory: Path, pid: int, main_ident: int | None, rate: int,
                   gil_rate: int, seconds: float) -> tuple[StackSamples, ...]:
    """Every main-thread stack the samplers in ``directory`` saw, split by state."""
    labels = thread_labels(pid, main_ident or 0)
    counts = {mode: read_main(directory / f"{mode}.txt", labels) for mode in MODES}
    gil = sum((counts[mode] for mode in GIL_MODES), Counter())
    shares = combine(counts["idle"], counts["active"], gil, expected=int(seconds * rate),
                     gil_expected=seconds * gil_rate * len(GIL_MODES), keep=100_000)
    return shares.stacks


class SiteSamples:
    """Looks up the samples inside one call site's calls; parses each stack once."""

    def __init__(self, stacks: tuple[StackSamples, ...]) -> None:
        self.stacks = [([parse_frame(frame) for frame in each.frames], each)
                       for each in stacks]

    def __call__(self, record: dict[str, Any], site: dict[str, Any] | None = None,
                 ) -> StackSamples:
        """The samples inside ``record``'s calls from ``site``, or from anywhere."""
        callee = (record["name"].rpartition(".")[2], record["file"])
        if site is None:
            return self._sum(lambda frames: any(
                _same_file(each[1], callee[1]) and _same_name(each[0], callee[0])
                for each in frames))
        caller = (site["function"].rpartition(".")[2], site["file"], site["line"])
        return self._sum(lambda frames: _inside(frames, caller, callee))

    def _sum(self, inside: Callable[[list[Frame]], bool]) -> StackSamples:
        idle = gil = released = 0
        for frames, samples in self.stacks:
            if inside(frames):
                idle += samples.idle
                gil += samples.gil
                released += samples.released
        return StackSamples(frames=(), idle=idle, gil=gil, released=released)


def _inside(frames: list[Frame], caller: Frame, callee: tuple[str, str]) -> bool:
    for above, below in zip(frames, frames[1:]):
        if (above[2] == caller[2] and _same_file(above[1], caller[1])
                and _same_name(above[0], caller[0]) and _same_file(below[1], callee[1])
                and _same_name(below[0], callee[0])):
            return True
    return False


def _same_file(sampled: str, recorded: str) -> bool:
    """py-spy shortens a file to its path below the ``sys.path`` entry that holds it."""
    return sampled == recorded or recorded.endswith("/" + sampled.lstrip("/"))


def _same_name(sampled: str, recorded: str) -> bool:
    """py-spy names a frame by its function's name (a qualified one on some versions)."""
    return sampled == recorded or sampled.rpartition(".")[2] == recorded
