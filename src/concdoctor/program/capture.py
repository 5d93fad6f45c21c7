"""The arguments of chosen calls of one function, captured while the program runs, and
read back by the diagnosis child as its inputs.

``concdoctor run`` knows, from the program's first run, how many calls the chosen call
site made. The second run captures the calls at :func:`picks` of those positions: drawn
at random (seeded) from equal strata of the run, so that they spread over it, at most
``count`` of them. Where the first run stopped counting (a function of many short
calls), the count is not known: a seeded reservoir of ``count`` calls spreads them over
the run instead, pickling each call it takes in.

With picks, the program can wait once the last of them has been taken (:attr:`Capture.pause`):
its calls are then diagnosed while what they need (files it makes, then removes at the
end) still exists.

Each call's arguments are pickled the moment it starts, before its body can change
them, as ``(args, kwargs)`` that call the function the same way (positional parameters
by position, keyword-only ones and ``**kwargs`` by name). A call whose arguments take
more than its share of the memory bound is left out and counted; one whose arguments
do not pickle says why.

The boot side (:class:`Capture`) runs inside the user's program and imports nothing of
concdoctor's. Arguments pickled there name the program's own classes as ``__main__.X``;
:mod:`concdoctor.child.captured` reads them in the child, where the program's main file
is a module under its own name, by looking ``__main__`` up in that module.
"""

from __future__ import annotations

import os
import pickle
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VARARGS, VARKEYWORDS = 0x04, 0x08
DEFAULT_COUNT = 120
"""Calls captured by default: enough to confirm an advice and to spread over the run."""
DEFAULT_BYTES = 256 * 1024 * 1024
"""The memory the captured arguments may take in all, by default."""


def picks(total: int, count: int, seed: int) -> list[int]:
    """``count`` positions of ``total`` calls (all of them when fewer), sorted: one drawn
    at random from each of ``count`` equal strata, so that they spread over the run."""
    if count >= total:
        return list(range(total))
    rng = random.Random(seed)
    bounds = [round(total * stratum / count) for stratum in range(count + 1)]
    return [rng.randrange(low, high) for low, high in zip(bounds, bounds[1:])]


@dataclass(frozen=True)
class Wanted:
    """Which calls to capture: of the function defined at ``file``:``line`` named
    ``qualname``, called from ``site_file``:``site_line`` (any call site when empty)."""

    file: str
    line: int
    qualname: str
    site_file: str
    site_line: int
    picks: tuple[int, ...]
    byte_limit: int = DEFAULT_BYTES
    reservoir: int = 0
    """Given (with no ``picks``), keep this many calls drawn uniformly from all of them."""
    seed: int = 0


class Capture:
    """The boot side: offered each call of the wanted function, keeps the picked ones."""

    def __init__(self, wanted: Wanted) -> None:
        self.wanted = wanted
        self.file = os.path.realpath(wanted.file)
        self.site_file = os.path.realpath(wanted.site_file) if wanted.site_file else ""
        self.per_call = wanted.byte_limit // max(len(wanted.picks), wanted.reservoir, 1)
        self.blobs: list[bytes] = []
        self.random = random.Random(wanted.seed)
        self.seen = 0
        self.next = 0
        self.too_big = 0
        self.problem: str | None = None
        self.changed = False
        self.lock = threading.Lock()
        self.pause: Callable[[], None] | None = None
        """Called once, outside the lock, when the last picked call has been offered:
        the boot holds the program there while its calls are diagnosed."""
        self.paused = False

    def matches(self, code: Any) -> bool:
        """Whether ``code`` is the wanted function's (checked once per code object)."""
        return (code.co_firstlineno == self.wanted.line
                and getattr(code, "co_qualname", code.co_name) == self.wanted.qualname
                and os.path.realpath(code.co_filename) == self.file)

    def offer(self, frame: Any) -> None:
        """One call of the wanted function begins in ``frame`` (on any thread: the
        counting and keeping are one step under the lock)."""
        with self.lock:
            self._offer(frame)
            last = (self.pause is not None and not self.paused
                    and 0 < len(self.wanted.picks) == self.next)
            self.paused = self.paused or last
        if last and self.pause is not None:
            self.pause()

    def _offer(self, frame: Any) -> None:
        if self.site_file:
            caller = frame.f_back
            if (caller is None or caller.f_lineno != self.wanted.site_line
                    or os.path.realpath(caller.f_code.co_filename) != self.site_file):
                return
        index, self.seen = self.seen, self.seen + 1
        size = self.wanted.reservoir
        if size:  # fill the reservoir, then replace at random (Algorithm R)
            if len(self.blobs) < size:
                self._keep(frame, len(self.blobs))
            else:
                slot = self.random.randrange(index + 1)
                if slot < size:
                    self._keep(frame, slot)
            return
        picked = self.wanted.picks
        if self.next >= len(picked) or index != picked[self.next]:
            return
        self.next += 1
        self._keep(frame, len(self.blobs))

    def _keep(self, frame: Any, slot: int) -> None:
        try:
            blob = pickle.dumps(arguments(frame), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # any failure: a pool could not ship this call either
            self.problem = self.problem or f"{type(exc).__name__}: {one_line(exc)}"
            return
        if len(blob) > self.per_call:
            self.too_big += 1
            return
        if slot < len(self.blobs):
            self.blobs[slot] = blob
        else:
            self.blobs.append(blob)
        self.changed = True

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"blobs": list(self.blobs), "seen": self.seen, "too_big": self.too_big,
                    "problem": self.problem, "per_call_bytes": self.per_call}

    def write(self, path: str) -> None:
        """Replace ``path`` with what is captured so far (atomically)."""
        self.changed = False
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            pickle.dump(self.state(), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)


def one_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's text on one line, cut at ``limit`` characters."""
    return " ".join(str(exc).split())[:limit]


def arguments(frame: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments a call began with, as ``(args, kwargs)`` that repeat it."""
    code = frame.f_code
    names, values = code.co_varnames, frame.f_locals
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    args = [values[name] for name in names[:positional]]
    kwargs = {name: values[name] for name in names[positional:positional + keyword_only]
              if name in values}
    at = positional + keyword_only
    if code.co_flags & VARARGS:
        args.extend(values[names[at]])
        at += 1
    if code.co_flags & VARKEYWORDS:
        kwargs.update(values[names[at]])
    return tuple(args), kwargs


# -- the child's side ---------------------------------------------------------------------

def write_captured(path: str, blobs: list[bytes], total: int, main: dict[str, str]) -> None:
    """The file the child reads: the captured calls, the program's count of them, and
    its main file (``{"path": ...}``) or module (``{"module": ...}``)."""
    with open(path, "wb") as handle:
        pickle.dump({"blobs": blobs, "total": total, "main": main}, handle,
                    protocol=pickle.HIGHEST_PROTOCOL)
