"""The results check, inside the child: each task's result, compared across executors.

A thread pool that runs the batch 15 times faster but returns 15 wrong results out of 16
is not a speedup. The sequential baseline keeps a digest of every task's result (never
the result: a batch that returns a gigabyte must not be held twice) and a short preview;
each trial's results are digested in order and compared task by task.

Equal values share a digest: dicts and sets digest the same in any order, since their
order may differ between processes; other values digest their pickled bytes (protocol
4, the same on every supported Python). A value that cannot be pickled cannot be
compared, and says so.

Some functions disagree with themselves (random numbers, clocks, the network). When a
trial differs, a copy of the child forked *before* the baseline (:class:`Rerun`, so its
module state is the baseline's starting state) runs the first tasks again: if they
differ from the baseline too, the results vary by themselves and the check is skipped
rather than blaming the executor.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import reprlib
import select
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from concdoctor.diagnosis import ResultsCheck

DIGEST_BYTES = 16
MAX_DEPTH = 40
"""Containers nested deeper than this digest by their pickle (order and all)."""
LISTED_TASKS = 20
"""How many differing task indices a report lists (all are counted)."""
RERUN_TASKS = 3
"""How many of the first tasks the forked copy runs again to see whether they vary."""
RERUN_SECONDS = 1.0
"""...unless the baseline says they take longer than this (at least one task runs)."""
VARY_REASON = "results vary by themselves: the first tasks, run again sequentially, differ"
_ORDERED_OPCODES = (b"}", b"\x8f", b"\x91")
"""EMPTY_DICT, EMPTY_SET, FROZENSET: pickles that may hold an order equal values lack."""
_CONTAINERS = (dict, set, frozenset, list, tuple)
"""What :func:`_canonical` walks; anything else it digests by its pickle, as here."""
_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = 60
_PREVIEW.maxlist = _PREVIEW.maxtuple = _PREVIEW.maxset = _PREVIEW.maxdict = 6
_PREVIEW.maxlevel = 3


def digest(value: Any) -> bytes | None:
    """A digest that equal values share; None when the value cannot be pickled."""
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:  # pickle raises many types: all mean "not comparable this way"
        data = None
    if data is not None and (type(value) not in _CONTAINERS
                             or not any(code in data for code in _ORDERED_OPCODES)):
        return hashlib.blake2b(b"p" + data, digest_size=DIGEST_BYTES).digest()
    return _canonical(value, 0)  # may hold a dict or set: walked, parts sorted


def _canonical(value: Any, depth: int) -> bytes | None:
    """Digest containers whose order does not make them unequal (dict, set) by their
    parts, sorted; anything else by its pickle."""
    kind = type(value)
    if depth < MAX_DEPTH and kind is dict:
        pairs = [(_canonical(k, depth + 1), _canonical(v, depth + 1)) for k, v in value.items()]
        return _join(b"d", sorted((k or b"", v or b"") for k, v in pairs),
                     any(k is None or v is None for k, v in pairs))
    if depth < MAX_DEPTH and kind in _CONTAINERS:
        parts = [_canonical(item, depth + 1) for item in value]
        if kind in (set, frozenset):
            return _join(b"s", sorted(p or b"" for p in parts), None in parts)
        return _join(b"l" if kind is list else b"t", parts, None in parts)
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:
        return None
    return hashlib.blake2b(b"p" + data, digest_size=DIGEST_BYTES).digest()


def _join(tag: bytes, parts: Sequence[Any], missing: bool) -> bytes | None:
    if missing:
        return None
    hasher = hashlib.blake2b(tag, digest_size=DIGEST_BYTES)
    for part in parts:
        for piece in part if isinstance(part, tuple) else (part,):
            hasher.update(len(piece).to_bytes(2, "little") + piece)
    return hasher.digest()


def preview(value: Any) -> str:
    """The value, shortened for a report."""
    try:
        return _PREVIEW.repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"


def arguments(call: tuple[Sequence[Any], dict[str, Any]]) -> str:
    """A call's ``(args, kwargs)`` as its parentheses read: ``(url, timeout=5)``."""
    args, kwargs = call
    shown = [preview(each) for each in args]
    shown += [f"{name}={preview(value)}" for name, value in kwargs.items()]
    return f"({', '.join(shown)})"


class Record:
    """The sequential baseline's results: a digest and a preview per task, in order."""

    def __init__(self) -> None:
        self.digests: list[bytes | None] = []
        self.previews: list[str] = []
        self.uncomparable: str | None = None

    def add(self, value: Any) -> None:
        found = digest(value)
        if found is None and self.uncomparable is None:
            self.uncomparable = (f"results cannot be compared: {type(value).__name__} "
                                 "cannot be pickled")
        self.digests.append(found)
        self.previews.append(preview(value))

    def compare(self, results: Sequence[Any], items: Sequence[Any],
                varies: Callable[[], bool], *, calls: bool = False) -> ResultsCheck:
        """This trial's results against the baseline's, task by task (``calls``: each
        item is a call's ``(args, kwargs)``, shown as the call's parentheses)."""
        if self.uncomparable is not None and all(d is None for d in self.digests):
            return ResultsCheck("skipped", reason=self.uncomparable)
        differing = [index for index, (value, expected) in enumerate(zip(results,
                                                                          self.digests))
                     if expected is not None and digest(value) != expected]
        if len(results) != len(self.digests):
            differing = differing or [min(len(results), len(self.digests))]
        if not differing:
            return ResultsCheck("same")
        if varies():
            return ResultsCheck("skipped", reason=VARY_REASON)
        first = differing[0]
        got = preview(results[first]) if first < len(results) else "<missing>"
        return ResultsCheck("differ", tasks=tuple(differing[:LISTED_TASKS]),
                            differing=len(differing),
                            first_input=(arguments(items[first]) if calls
                                         else preview(items[first])),
                            expected=self.previews[first], got=got)


class Rerun:
    """A copy of the child forked before the baseline, waiting to run the first tasks
    again from the baseline's starting state: a counter the baseline advanced starts
    from where the baseline started, a random draw or a clock does not repeat."""

    def __init__(self, pid: int, answers: int, commands: int) -> None:
        self.pid, self._answers, self._commands = pid, answers, commands
        self._verdict: bool | None = None

    @classmethod
    def fork(cls, run_one: Callable[[Any], Any], items: Sequence[Any],
             close: Sequence[int] = ()) -> Rerun | None:
        """The waiting copy; ``close``: the child's channel descriptors. None where
        forking is unsafe (other threads are running) or impossible."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        answers_r, answers_w = os.pipe()
        commands_r, commands_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked copy
            try:
                _detach((*close, answers_r, commands_w))
                _serve_rerun(run_one, items, commands_r, answers_w)
            finally:
                os._exit(0)
        os.close(answers_w)
        os.close(commands_r)
        return cls(pid, answers_r, commands_w)

    def varies(self, record: Record, task_seconds: Sequence[float], timeout: float) -> bool:
        """Whether the first tasks, run again, differ from the baseline (asked once)."""
        if self._verdict is None:
            count = tasks_to_rerun(task_seconds)
            again = self._ask(count, timeout)  # None: the copy died or did not answer,
            self._verdict = again is not None and any(  # so the difference stands
                new != old for new, old in zip(again, record.digests[:count]) if old)
        return self._verdict

    def _ask(self, count: int, timeout: float) -> list[bytes | None] | None:
        try:
            os.write(self._commands, f"{count}\n".encode())
        except OSError:
            return None
        data, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._answers], [], [],
                                        max(deadline - time.monotonic(), 0.0))
            chunk = os.read(self._answers, 65536) if ready else b""
            if not chunk:
                break
            data += chunk
        lines = data.decode().split()
        if len(lines) != count:
            return None  # the copy crashed or ran out of time: cannot tell
        return [bytes.fromhex(line) if line != "-" else None for line in lines]

    def close(self) -> None:
        for fd in (self._answers, self._commands):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass


def tasks_to_rerun(task_seconds: Sequence[float]) -> int:
    """The first tasks worth running again: up to RERUN_TASKS within RERUN_SECONDS."""
    count, spent = 0, 0.0
    for seconds in task_seconds[:RERUN_TASKS]:
        if count and spent + seconds > RERUN_SECONDS:
            break
        count, spent = count + 1, spent + seconds
    return max(count, 1) if task_seconds else 0


def _detach(close: Sequence[int]) -> None:  # pragma: no cover - runs in the forked copy
    """Close the child's channel and point stdin, stdout and stderr at /dev/null: a copy
    holding the child's pipes would hide the child's death from concdoctor, which
    learns of it when those pipes close. The user's own descriptors stay open."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for fd in (null, *close):
        try:
            os.close(fd)
        except OSError:
            pass


def _serve_rerun(run_one: Callable[[Any], Any], items: Sequence[Any], commands: int,
                 answers: int) -> None:  # pragma: no cover - runs in the forked copy
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(commands, 64)
        if not chunk:
            return  # the child is done: nobody will ask
        data += chunk
    lines = []
    for item in items[: int(data)]:
        try:
            found = digest(run_one(item))
        except BaseException:
            found = None
        lines.append(found.hex() if found is not None else "-")
    os.write(answers, ("\n".join(lines) + "\n").encode())
