"""The program's own process: ``python -m concdoctor.program.boot OUT GO_FD [--cgroup P]
[--capture WANTED CAPTURED] -- (SCRIPT | -m MODULE) ARGS...``.

It contains itself first (joins the cgroup the parent made, becomes a subreaper, lets
its parent's samplers read it), measures what the recorder costs per call, then waits
for one byte on ``GO_FD``: the parent's py-spy samplers are attached by then. It runs
the program as ``python SCRIPT`` / ``python -m MODULE`` would (``sys.argv``,
``sys.path[0]``, ``__main__``), with the recorder on. An exception or ``sys.exit`` from
the program is re-raised, so the interpreter prints and exits exactly as it would
without concdoctor. The counts go to ``OUT`` (JSON, replaced atomically) every
:data:`SNAPSHOT_SECONDS` and once more at exit, after the program's own exit handlers
and the sweep of whatever it left running: a program that crashes or is killed at the
timeout still leaves what it had run so far. With ``--capture``, the calls that the JSON
file ``WANTED`` names (:class:`~concdoctor.program.capture.Wanted`) are captured to
``CAPTURED``, written with the counts. With ``--pause SAID_FD RESUME_FD`` as well, once
the last picked call is taken the capture is written, one byte goes to ``SAID_FD``, and
the program waits until ``RESUME_FD`` gives one or closes: the parent diagnoses the calls
meanwhile, while what they need still exists.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from concdoctor.program.capture import Capture, Wanted
from concdoctor.program.recorder import Cost, Recorder, calibrate

SNAPSHOT_SECONDS = 1.0
PR_SET_PTRACER = 0x59616D61


class Boot:
    """The run's state, written to ``OUT`` as the snapshot the parent reads."""

    def __init__(self, out: str, capture: tuple[Capture, str] | None = None) -> None:
        self.out = out
        self.capture = capture
        self.recorder = Recorder(capture=capture[0] if capture else None)
        self.cost: Cost | None = None
        self.started = 0.0
        self.ended: float | None = None
        self.exit_code: int | None = None
        self.left_running: tuple[str, ...] = ()
        self.lock = threading.Lock()
        self.containment = "process group"
        self.pid = os.getpid()

    def write(self, *, final: bool = False) -> None:
        """Replace ``OUT`` with the counts so far; once the program has ended, only the
        final write (after the sweep) may, so that a late periodic one cannot undo it."""
        with self.lock:
            if self.ended is not None and not final:
                return
            now = self.ended if self.ended is not None else time.perf_counter()
            state: dict[str, Any] = {
                "pid": os.getpid(), "main_thread": threading.main_thread().ident,
                "backend": self.recorder.backend, "events": self.recorder.events,
                "cost": asdict(self.cost) if self.cost else None,
                "wall_seconds": now - self.started, "exit_code": self.exit_code,
                "finished": self.ended is not None,
                "left_running": list(self.left_running), "containment": self.containment,
                "functions": self.recorder.snapshot()}
            temporary = f"{self.out}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            os.replace(temporary, self.out)
            if self.capture is not None and (self.capture[0].changed or final):
                self.capture[0].write(self.capture[1])

    def hold(self, said: int, resume: int) -> None:
        """Write the capture, say so, and wait for the parent (see the module's text)."""
        assert self.capture is not None
        self.capture[0].write(self.capture[1])
        try:
            os.write(said, b"p")
            os.read(resume, 1)
        except OSError:
            pass  # the parent is gone: the program goes on, as it would
        finally:
            os.close(said)
            os.close(resume)

    def keep_writing(self) -> None:
        while self.ended is None:
            time.sleep(SNAPSHOT_SECONDS)
            self.write()

    def at_exit(self) -> None:
        """Last of the exit handlers (registered first): the program's pools are shut
        down; end what it left running, and write the final counts. A process the
        program forked that exits through Python runs this too, and does nothing."""
        if os.getpid() != self.pid:
            return
        from concdoctor.child.reaper import Reaper, helpers

        self.left_running = Reaper(containment=self.containment).sweep(
            helpers(between_phases=False), final=True).ended
        self.write(final=True)


def _allow_tracer(pid: int) -> None:
    """Under Yama ptrace_scope 1, let the parent's py-spy samplers read this process."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _contain(cgroup_path: str | None) -> str:
    from concdoctor.child.reaper import Reaper

    return Reaper.start(cgroup_path).containment


def _exit_code(exc: BaseException) -> int:
    """The status ``python SCRIPT`` would exit with after ``exc``."""
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 1


def _run(program: list[str]) -> None:
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]
        sys.path.insert(0, os.getcwd())
        _find(program[1])
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(program)
        script = os.path.abspath(program[0])  # as python makes __file__ (and its code's)
        sys.path.insert(0, os.path.dirname(script))
        runpy.run_path(script, run_name="__main__")


def _find(module: str) -> None:
    """Refuse a module that is not there as ``python -m`` does: one line, exit code 1,
    no traceback of this module's."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError) as exc:
        found, reason = False, str(exc)
    else:
        reason = f"No module named {module}"
    if not found:
        sys.stderr.write(f"{sys.executable}: {reason}\n")
        raise SystemExit(1)


def _capture(flags: list[str]) -> tuple[Capture, str] | None:
    if "--capture" not in flags:
        return None
    at = flags.index("--capture")
    with open(flags[at + 1], encoding="utf-8") as handle:
        wanted = json.load(handle)
    wanted["picks"] = tuple(wanted["picks"])
    return Capture(Wanted(**wanted)), flags[at + 2]


def main(argv: list[str]) -> None:
    out, go_fd = argv[0], int(argv[1])
    rest = argv[2:]
    flags = rest[:rest.index("--")]
    cgroup = flags[flags.index("--cgroup") + 1] if "--cgroup" in flags else None
    program = rest[rest.index("--") + 1:]
    boot = Boot(out, _capture(flags))
    if boot.capture is not None and "--pause" in flags:
        at = flags.index("--pause")
        said, resume = int(flags[at + 1]), int(flags[at + 2])
        boot.capture[0].pause = lambda: boot.hold(said, resume)
    boot.containment = _contain(cgroup)
    _allow_tracer(os.getppid())
    atexit.register(boot.at_exit)
    boot.cost = calibrate()
    with os.fdopen(go_fd, "rb") as go:
        go.read(1)
    os.register_at_fork(after_in_child=boot.recorder.uninstall)
    threading.Thread(target=boot.keep_writing, name="concdoctor-snapshots",
                     daemon=True).start()
    sys.path.pop(0)  # the cwd, which "python -m" put there; _run sets the program's
    boot.started = time.perf_counter()
    boot.recorder.install()
    try:
        _run(program)
    except BaseException as exc:
        boot.exit_code = _exit_code(exc)
        raise
    else:
        boot.exit_code = 0
    finally:
        boot.recorder.uninstall()
        boot.ended = time.perf_counter()


if __name__ == "__main__":
    main(sys.argv[1:])
