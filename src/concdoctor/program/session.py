"""Parent side of ``concdoctor run``: start the program, sample it, bound it, end it.

The program runs as ``python -m concdoctor.program.boot`` (see there) in a session of its
own and, where one can be made, a cgroup of its own, with concdoctor's stdin, stdout and
stderr: its output passes through and it may read its input, as under ``python SCRIPT``.
The py-spy samplers of :mod:`concdoctor.baseline.stacks` attach before it starts. When
it ends, or runs past the timeout, or concdoctor is interrupted, its whole tree is ended
the way the profile runner ends a child's (:func:`concdoctor.descendants.end_tree`).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from concdoctor.cgroup import Cgroup
from concdoctor.cores import cpu_count
from concdoctor.descendants import end_tree
from concdoctor.errors import UsageError
from concdoctor.program import loops
from concdoctor.program.candidates import busiest, rank
from concdoctor.program.recorder import Cost
from concdoctor.program.report import ProgramReport, RecorderCost
from concdoctor.program.samples import SiteSamples, program_stacks

READY_SECONDS = 60.0
"""How long the program's process may take to start and calibrate the recorder."""


def run_program(program: list[str], *, module: bool = False, timeout: float | None = None,
                sampling: bool = True, rate: int = 100) -> ProgramReport:
    """Run ``program`` (a script and its arguments, or with ``module`` a module name and
    its arguments) once under the recorder and py-spy, and rank its candidates."""
    if not program:
        raise UsageError("name the program to run: concdoctor run SCRIPT [ARGS...] or "
                         "concdoctor run -m MODULE [ARGS...]")
    if not module and not os.path.isfile(program[0]):
        raise UsageError(f"cannot run {program[0]!r}: no such file")
    argv = ["-m", *program] if module else list(program)
    with tempfile.TemporaryDirectory(prefix="concdoctor-run-") as tmp:
        folder = Path(tmp)
        out = folder / "calls.json"
        cgroup = Cgroup.create()
        try:
            popen, go = _start(out, cgroup, argv)
            try:
                samplers, note = _attach(popen.pid, folder, rate, sampling)
                outcome = _supervise(popen, go, cgroup, samplers, timeout)
            finally:
                _end(popen, cgroup)
        finally:
            if cgroup is not None:
                cgroup.remove()
        state = _read(out)
        stacks = _stacks(samplers, folder, state, outcome[2]) if samplers else ()
    return _report(program, module, state, outcome, note, stacks, timeout)


def _start(out: Path, cgroup: Cgroup | None, argv: list[str]) -> tuple[
        subprocess.Popen[bytes], int]:
    go_r, go_w = os.pipe()
    flags = ["--cgroup", str(cgroup.path)] if cgroup is not None else []
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", "concdoctor.program.boot", str(out), str(go_r), *flags,
             "--", *argv], pass_fds=(go_r,), start_new_session=True)
    except BaseException:
        os.close(go_w)
        raise
    finally:
        os.close(go_r)
    return popen, go_w


def _attach(pid: int, folder: Path, rate: int, sampling: bool) -> tuple[Any, str]:
    """py-spy samplers on ``pid``, or None and why there are none."""
    if not sampling:
        return None, "off (--no-sampling)"
    from concdoctor.baseline.stacks import Samplers, SamplingUnavailable, find_py_spy

    binary = find_py_spy()
    if binary is None:
        return None, "unavailable: py-spy is not installed ('pip install py-spy')"
    samplers = Samplers(binary, pid, folder, rate)
    try:
        samplers.start(timeout=READY_SECONDS)
    except SamplingUnavailable as exc:
        return None, f"unavailable: {exc}"
    return samplers, "py-spy"


def _supervise(popen: subprocess.Popen[bytes], go: int, cgroup: Cgroup | None,
               samplers: Any, timeout: float | None) -> tuple[int | None, bool, float]:
    """Let the program start, wait for its end or the timeout: ``(returncode,
    timed_out, seconds)``; the samplers are stopped on every way out."""
    started = time.monotonic()
    try:
        try:
            os.write(go, b"g")
        except OSError:
            pass  # it exited already: its return code tells how
        finally:
            os.close(go)
        try:
            code: int | None = popen.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out, code = True, None
            _end(popen, cgroup)
        return code, timed_out, time.monotonic() - started
    finally:
        if samplers is not None:
            samplers.stop()


def _end(popen: subprocess.Popen[bytes], cgroup: Cgroup | None) -> None:
    """Kill the program's whole tree now if it runs, and whatever it left running."""
    alive = popen.poll() is None
    end_tree(popen.pid, popen.pid, cgroup, keep=set(), keep_detached=False, alive=alive)
    if alive:
        popen.wait()


def _read(out: Path) -> dict[str, Any]:
    try:
        return json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _stacks(samplers: Any, folder: Path, state: dict[str, Any], seconds: float) -> tuple:
    return program_stacks(folder, state.get("pid", 0), state.get("main_thread"),
                          samplers.rate, samplers.gil_rate, seconds)


def _report(program: list[str], module: bool, state: dict[str, Any],
            outcome: tuple[int | None, bool, float], note: str, stacks: tuple,
            timeout: float | None) -> ProgramReport:
    code, timed_out, seconds = outcome
    wall = state.get("wall_seconds") or seconds
    cost = _cost(state, wall, stacks)
    activity = SiteSamples(stacks)
    records = state.get("functions", [])
    candidates = rank(records, wall, cpu_count(), _looped, activity, name=_shown)
    functions = busiest([each for each in records if not _library(each["file"])], wall,
                        activity, name=_shown)
    return ProgramReport(
        argv=tuple(program), module=module, exit_code=code, wall_seconds=wall,
        timed_out=timed_out, recorder=cost, candidates=tuple(candidates),
        python=platform.python_version(), cpu_count=cpu_count(), sampling=note,
        left_running=tuple(state.get("left_running", ())),
        failure=_failure(code, timed_out, timeout, state), functions=tuple(functions))


def _looped(path: str, function: str, line: int) -> int | None:
    """The loop around a call site in the program's own code; a loop inside the
    standard library or an installed package is not the user's to change."""
    return None if _library(path) else loops.loop_line(path, function, line)


@functools.lru_cache(maxsize=1)
def _library_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(os.path.join(os.path.realpath(paths[key]), "")
                 for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)


def _library(path: str) -> bool:
    return os.path.realpath(path).startswith(_library_folders())


def _cost(state: dict[str, Any], wall: float, stacks: tuple) -> RecorderCost | None:
    """The recorder's estimated cost; without samples nothing says how much of the run
    was Python running, and the tracing mode's toll on it is left out."""
    if not state.get("cost"):
        return None
    cost = Cost(**state["cost"])
    sampled = sum(each.total for each in stacks)
    running = sum(each.gil for each in stacks) / sampled if sampled else 0.0
    calls = sum(each["calls"] for each in state.get("functions", []))
    seconds = min(cost.seconds(calls, state["events"], wall * running), 0.95 * wall)
    return RecorderCost(
        backend=state["backend"], per_call_seconds=cost.per_call,
        per_skipped_seconds=cost.per_skipped, bytecode_slowdown=round(cost.slowdown, 3),
        events=state["events"], calls=calls, seconds=round(seconds, 6),
        fraction=round(seconds / (wall - seconds), 4) if wall > 0 else 0.0)


def _failure(code: int | None, timed_out: bool, timeout: float | None,
             state: dict[str, Any]) -> str | None:
    if timed_out:
        return f"the program ran past the --timeout ({timeout:g} s); its process tree was ended"
    if code is None or code == 0:
        return None if state else "the program's process did not report its calls"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"the program crashed the interpreter (killed by signal {name})"
    return f"the program exited with code {code}"


def _shown(path: str) -> str:
    """A file as the report shows it: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
