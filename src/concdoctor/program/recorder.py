"""The light call recorder that runs inside the user's program (no concdoctor imports).

It counts, for every Python function, its calls and their wall time (and the calling
thread's CPU time, which tells waiting from working where py-spy cannot) per call site (the
caller's code object and line), enough to rank loops worth parallelizing; py-spy, from
outside, says what those calls did. Two backends, one bookkeeping:

- Python 3.12+: ``sys.monitoring`` (PY_START / PY_RETURN). A function that is of no
  interest (concdoctor's and the import machinery's own code, generators and
  coroutines, whose "calls" are resumptions) or that has been counted enough and is too
  short to be worth a pool is switched off for good by returning ``DISABLE``: it then
  costs nothing.
  It sees every thread's calls.
- Before 3.12: ``sys.setprofile`` on the main thread only (the thread a script's loop
  runs on; py-spy's samples are read for it alone on every version). Every call, a C
  function's included, still enters the hook; skipped functions take the short path.
  ``sys.settrace`` would call the hook once per call instead of twice and not for C
  functions, but it made pure bytecode 2-3x slower here against 1.5-1.7x for the
  profile hook, and a program's heavy loops are bytecode.

Only the outermost activation of a function is timed, so a recursive function's time is
not counted twice. Arguments are checked for pickling once per call site, at its
:data:`CHECK_AT`-th call: a pool needs them pickled, and checking every call would cost
as much as the calls. The recorder keeps no argument values, but for the one function
whose calls it is asked to capture (:mod:`concdoctor.program.capture`).
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from dataclasses import dataclass
from typing import Any

CHECK_AT = 3
"""The call of a call site whose arguments are tried with pickle."""
STOP_AFTER = 500
"""After this many calls, a function whose calls average under :data:`TINY_SECONDS`..."""
TINY_SECONDS = 2e-5
"""...is counted no further: no pool can pay for calls this short, and counting them is
most of the recorder's cost on a program of many small calls."""
GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200
"""CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR."""
_OWN_DIRS = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,)
_SKIPPED_NAMES = ("<frozen ", "<string>")


class _Function:
    """One function's counts: all of them, and per call site ``[calls, seconds, pickled,
    cpu_seconds]`` (the calling thread's CPU time inside the calls)."""

    __slots__ = ("calls", "seconds", "depth", "sites", "stopped", "capture", "module")

    def __init__(self, module: str = "") -> None:
        self.module = module
        """The ``__name__`` of the module the function is defined in (``__main__`` for the
        program's own script)."""
        self.calls = 0
        self.seconds = 0.0
        self.depth = 0
        self.sites: dict[tuple[Any, int], list[Any]] = {}
        self.stopped = False
        self.capture: Any = None
        """The :class:`~concdoctor.program.capture.Capture` offered this function's calls."""


class Recorder:
    """Calls and times per function and call site, from the moment :meth:`install` is called."""

    def __init__(self, *, stop_after: float = STOP_AFTER,
                 ignore: tuple[str, ...] = _OWN_DIRS, capture: Any = None) -> None:
        self.stop_after = stop_after
        self.capture = capture
        """Given, a :class:`~concdoctor.program.capture.Capture` of one function's calls."""
        self.ignore = ignore
        self.functions: dict[Any, _Function] = {}
        self.skip: set[Any] = set()
        self.starts: dict[Any, tuple[float, float, _Function, list[Any]]] = {}
        self.backend = "sys.monitoring" if hasattr(sys, "monitoring") else "sys.setprofile"
        self._tool: int | None = None
        self._hook: Any = None
        self._tally = [0]
        """Hook invocations: every event that reached the recorder, skipped or not."""

    # -- the hot path ------------------------------------------------------------------
    def _enter(self, code: Any, frame: Any) -> bool:
        """A call begins; False when ``code`` is to be skipped from now on."""
        if code in self.skip:
            return False
        record = self.functions.get(code)
        if record is None:
            if _uninteresting(code, self.ignore):
                self.skip.add(code)
                return False
            record = self.functions[code] = _Function(frame.f_globals.get("__name__") or "")
            if self.capture is not None and self.capture.matches(code):
                record.capture = self.capture
        caller = frame.f_back
        key = (caller.f_code, caller.f_lineno) if caller is not None else (None, 0)
        site = record.sites.get(key)
        if site is None:
            site = record.sites[key] = [0, 0.0, None, 0.0]
        site[0] += 1
        record.calls += 1
        record.depth += 1
        if site[0] == CHECK_AT:
            site[2] = _pickles(frame, code)
        if record.capture is not None:
            record.capture.offer(frame)
        self.starts[frame] = (time.perf_counter(), time.thread_time(), record, site)
        return True

    def _leave(self, code: Any, frame: Any) -> None:
        begun = self.starts.pop(frame, None)
        if begun is None:
            return
        started, cpu, record, site = begun
        record.depth -= 1
        if record.depth:
            return  # a recursive call: the outermost one carries the time
        seconds = time.perf_counter() - started
        record.seconds += seconds
        site[1] += seconds
        site[3] += time.thread_time() - cpu
        if (record.calls >= self.stop_after and record.seconds < TINY_SECONDS * record.calls
                and record.capture is None):
            record.stopped = True
            self.skip.add(code)

    # -- backends ----------------------------------------------------------------------
    def install(self) -> None:
        if self.backend == "sys.monitoring":
            self._install_monitoring()
        else:
            self._hook = self._profiler()
            sys.setprofile(self._hook)

    def uninstall(self) -> None:
        if self._tool is not None:
            monitoring = sys.monitoring  # type: ignore[attr-defined]
            monitoring.set_events(self._tool, 0)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        elif self._hook is not None and sys.getprofile() is self._hook:
            sys.setprofile(None)

    def _profiler(self) -> Any:
        """The ``sys.setprofile`` hook, with what it reads bound to locals: it runs on
        every call and return, C functions' included, and a skipped function must cost
        no more than a set lookup."""
        skip, starts, enter, leave = self.skip, self.starts, self._enter, self._leave
        tally = self._tally

        def profile(frame: Any, event: str, arg: Any) -> None:
            tally[0] += 1
            if event == "call":
                code = frame.f_code
                if code not in skip:
                    enter(code, frame)
            elif event == "return" and frame in starts:
                leave(frame.f_code, frame)

        return profile

    def _install_monitoring(self) -> None:
        monitoring = sys.monitoring  # type: ignore[attr-defined]
        # 3 and 4 have no assigned role: the program's own cProfile (PROFILER_ID on 3.12+),
        # coverage or debugger keep theirs
        for tool in (3, 4, monitoring.PROFILER_ID):
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, "concdoctor")
                self._tool = tool
                break
        else:  # every id taken: the slower hook still works
            self.backend = "sys.setprofile"
            self._hook = self._profiler()
            sys.setprofile(self._hook)
            return
        events = monitoring.events
        disable = monitoring.DISABLE
        getframe = sys._getframe
        tally = self._tally

        def start(code: Any, offset: int) -> Any:
            tally[0] += 1
            return None if self._enter(code, getframe(1)) else disable

        def leave(code: Any, offset: int, value: Any) -> Any:
            if code in self.skip:
                return disable
            self._leave(code, getframe(1))
            return None

        def unwind(code: Any, offset: int, exc: BaseException) -> None:
            self._leave(code, getframe(1))

        monitoring.register_callback(self._tool, events.PY_START, start)
        monitoring.register_callback(self._tool, events.PY_RETURN, leave)
        monitoring.register_callback(self._tool, events.PY_UNWIND, unwind)
        monitoring.set_events(self._tool, events.PY_START | events.PY_RETURN | events.PY_UNWIND)

    # -- the result ----------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        """The counts as plain data (see :mod:`concdoctor.program.records`). Safe to call
        from another thread: each dict is copied in one step before it is read."""
        out = []
        for code, record in list(self.functions.items()):
            sites = [_site(key, value) for key, value in list(record.sites.items())]
            out.append({"file": code.co_filename, "line": code.co_firstlineno,
                        "name": _qualname(code), "module": record.module,
                        "calls": record.calls,
                        "seconds": record.seconds, "stopped": record.stopped,
                        "sites": sites})
        return out

    @property
    def events(self) -> int:
        return self._tally[0]

    def calls(self) -> int:
        return sum(record.calls for record in list(self.functions.values()))


def _site(key: tuple[Any, int], value: list[Any]) -> dict[str, Any]:
    code, line = key
    return {"file": code.co_filename if code is not None else "", "line": line,
            "function": _qualname(code) if code is not None else "",
            "function_line": code.co_firstlineno if code is not None else 0,
            "calls": value[0], "seconds": value[1], "pickles": value[2],
            "cpu_seconds": value[3]}


def _qualname(code: Any) -> str:
    return getattr(code, "co_qualname", code.co_name)


def _uninteresting(code: Any, ignore: tuple[str, ...]) -> bool:
    name = code.co_filename
    return (bool(code.co_flags & GENERATOR_FLAGS) or name.startswith(_SKIPPED_NAMES)
            or name.startswith(ignore) or name.endswith(("runpy.py", "threading.py")))


def _pickles(frame: Any, code: Any) -> bool | str:
    """Whether this call's arguments pickle: True, or why not (one line)."""
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    names = code.co_varnames[:count]
    values = frame.f_locals
    try:
        pickle.dumps(tuple(values.get(name) for name in names if name != "self"))
    except Exception as exc:  # any failure means a pool cannot ship these arguments
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
    return True


@dataclass(frozen=True)
class Cost:
    """What the recorder costs, measured in this process before the program starts."""

    per_call: float
    """Seconds added by one recorded call (its start and its return)."""
    per_skipped: float
    """Seconds added by one event of a skipped function (or a C function, before 3.12)."""
    slowdown: float
    """How much slower bytecode runs with the hook installed at all: before 3.12 a profile
    hook puts the interpreter in its slower tracing mode, which no event count shows;
    ``sys.monitoring`` has no such mode (1 by construction)."""

    def seconds(self, calls: int, events: int, bytecode_seconds: float) -> float:
        """The recorder's estimated share of a run: ``calls`` recorded, ``events`` that
        reached the hook in all, ``bytecode_seconds`` spent running Python code."""
        skipped = max(events - 2 * calls, 0) if self.slowdown > 1 else 0
        hooks = calls * self.per_call + skipped * self.per_skipped
        # the hooks' measured costs already include the tracing mode around them
        return hooks + max(bytecode_seconds - hooks, 0.0) * (1 - 1 / self.slowdown)


def calibrate(calls: int = 20_000, rounds: int = 5) -> Cost:
    """Measure :class:`Cost`: each loop runs bare and hooked in turn, ``rounds`` times,
    and the median of the differences is kept (the machine may be busy)."""
    def tiny(value: int) -> int:
        return value

    def calling() -> float:
        started = time.perf_counter()
        for each in range(calls):
            tiny(each)
        return time.perf_counter() - started

    def computing() -> float:
        started = time.perf_counter()
        total = 0
        for each in range(5 * calls):
            total += each % 7
        return time.perf_counter() - started

    recording = Recorder(stop_after=float("inf"), ignore=())
    skipping = Recorder(ignore=())
    skipping.skip.add(tiny.__code__)
    per_call = _median_extra(calling, recording, rounds) / calls
    events = skipping.events
    per_skipped = (_median_extra(calling, skipping, rounds)
                   / max(skipping.events - events, 1) * rounds)
    slowdown = 1.0
    if skipping.backend == "sys.setprofile":
        slowdown = 1 + _median_extra(computing, skipping, rounds, ratio=True)
    return Cost(per_call=max(per_call, 0.0), per_skipped=max(per_skipped, 0.0),
                slowdown=max(slowdown, 1.0))


def _median_extra(loop: Any, recorder: Recorder, rounds: int = 5, ratio: bool = False
                  ) -> float:
    extras = []
    for _ in range(rounds):
        bare = loop()
        recorder.install()
        try:
            hooked = loop()
        finally:
            recorder.uninstall()
        extras.append(hooked / bare - 1 if ratio else hooked - bare)
    return sorted(extras)[len(extras) // 2]
