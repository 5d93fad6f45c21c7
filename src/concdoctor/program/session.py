"""Parent side of ``concdoctor run``: run the program, rank its candidates, capture and
diagnose the chosen one's calls, and say it in the program's terms.

The program runs as ``python -m concdoctor.program.boot`` (see there) in a session of its
own and, where one can be made, a cgroup of its own, with concdoctor's stdin, stdout and
stderr: its output passes through and it may read its input, as under ``python SCRIPT``.
The py-spy samplers of :mod:`concdoctor.baseline.stacks` attach before it starts. When
it ends, or runs past the timeout, or concdoctor is interrupted, its whole tree is ended
(:mod:`concdoctor.program.process`). The capture's run waits once its last picked call
is taken, while those calls are diagnosed: the files and folders they need (a temporary
folder the program removes at its end) still exist then.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import signal
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from concdoctor.cgroup import Cgroup
from concdoctor.cores import cpu_count
from concdoctor.errors import UsageError
from concdoctor.program import loops, process
from concdoctor.program.candidates import (
    Candidate,
    busiest,
    rank,
)
from concdoctor.program.capture import DEFAULT_COUNT, Wanted, picks, write_captured
from concdoctor.program.recorder import Cost
from concdoctor.program.report import CaptureFacts, LoopRewrite, ProgramReport, RecorderCost
from concdoctor.program.samples import SiteSamples, program_stacks
from concdoctor.program.sites import Pick, choose, library, looped, quoted, shown
from concdoctor.target import InputSpec, Job, TargetSpec

if TYPE_CHECKING:
    from concdoctor.diagnosis import Diagnosis


@dataclass(frozen=True)
class Ran:
    """One run of the program: its counts, how it ended, and py-spy's stacks."""

    state: dict[str, Any]
    outcome: tuple[int | None, bool, float]
    sampling: str
    stacks: tuple
    output: str = ""
    """What a quiet run (the capture's) wrote, kept to explain its failure."""


def run_program(program: list[str], *, module: bool = False, timeout: float | None = None,
                sampling: bool = True, rate: int = 100,
                diagnose: Callable[[Job], Diagnosis] | None = None, pick: Pick | None = None,
                capture: int = DEFAULT_COUNT, seed: int = 0,
                progress: Callable[[str], None] | None = None) -> ProgramReport:
    """Run ``program`` (a script and its arguments, or with ``module`` a module name and
    its arguments) once under the recorder and py-spy, and rank its candidates. Given
    ``diagnose``, run it again to capture ``capture`` calls of the top candidate (or of
    ``pick``) and diagnose those calls with it."""
    if not program:
        raise UsageError("name the program to run: concdoctor run SCRIPT [ARGS...] or "
                         "concdoctor run -m MODULE [ARGS...]")
    if not module and not os.path.isfile(program[0]):
        raise UsageError(f"cannot run {program[0]!r}: no such file")
    pick = pick or Pick()
    pick.check(diagnosing=diagnose is not None)
    argv = ["-m", *program] if module else list(program)
    first = _run_once(argv, timeout=timeout, sampling=sampling, rate=rate)
    report = _report(program, module, first, timeout)
    if diagnose is None or report.failure is not None:
        return report
    chosen, why = choose(first.state.get("functions", []), report, pick,
                         SiteSamples(first.stacks))
    if chosen is None:
        return replace(report, not_diagnosed=why)
    if progress is not None:
        progress(f"capturing {min(capture, chosen.calls)} calls of {chosen.qualname}: "
                 "running the program again, quietly")
    return _diagnosed(report, chosen, argv, module, timeout, rate, diagnose, capture, seed)


def _run_once(argv: list[str], *, timeout: float | None, sampling: bool, rate: int,
              wanted: Wanted | None = None, folder: Path | None = None,
              paused: Callable[[], None] | None = None) -> Ran:
    """The program once, under the recorder and py-spy; with ``wanted``, quietly (its
    output kept, no input) and capturing those calls to ``folder``/captured.pickle; with
    ``paused`` as well, called while the program waits after its last picked call."""
    with tempfile.TemporaryDirectory(prefix="concdoctor-run-") as tmp:
        here = Path(tmp)
        out = here / "calls.json"
        flags: list[str] = []
        hold = process.Hold(paused) if paused is not None else None
        if wanted is not None:
            assert folder is not None
            spec = here / "wanted.json"
            spec.write_text(json.dumps(asdict(wanted)), encoding="utf-8")
            flags = ["--capture", str(spec), str(folder / "captured.pickle")]
            flags += hold.flags() if hold is not None else []
        cgroup = Cgroup.create()
        output = here / "output.txt"
        try:
            with open(output, "wb") as sink:
                popen, go = process.start(out, cgroup, argv, flags,
                                          sink if wanted is not None else None,
                                          hold.theirs if hold is not None else ())
                try:
                    samplers, note = process.attach(popen.pid, here, rate, sampling)
                    outcome = process.supervise(popen, go, cgroup, samplers, timeout, hold)
                finally:
                    process.end(popen, cgroup)
        finally:
            if hold is not None:
                hold.close()
            if cgroup is not None:
                cgroup.remove()
        state = _read(out)
        stacks = _stacks(samplers, here, state, outcome[2]) if samplers else ()
        said = _tail(output)
    return Ran(state, outcome, note, stacks, said)


def _tail(path: Path, size: int = 4096) -> str:
    """The last ``size`` bytes a quiet run wrote (enough for its last line)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _read(out: Path) -> dict[str, Any]:
    try:
        return json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _stacks(samplers: Any, folder: Path, state: dict[str, Any], seconds: float) -> tuple:
    return program_stacks(folder, state.get("pid", 0), state.get("main_thread"),
                          samplers.rate, samplers.gil_rate, seconds)


def _report(program: list[str], module: bool, ran: Ran, timeout: float | None
            ) -> ProgramReport:
    state, note, stacks = ran.state, ran.sampling, ran.stacks
    code, timed_out, seconds = ran.outcome
    wall = state.get("wall_seconds") or seconds
    cost = _cost(state, wall, stacks)
    activity = SiteSamples(stacks)
    records = state.get("functions", [])
    candidates = [quoted(each) for each in
                  rank(records, wall, cpu_count(), looped, activity, name=shown)]
    functions = busiest([each for each in records if not library(each["file"])], wall,
                        activity, name=shown)
    return ProgramReport(
        argv=tuple(program), module=module, exit_code=code, wall_seconds=wall,
        timed_out=timed_out, recorder=cost, candidates=tuple(candidates),
        python=platform.python_version(), cpu_count=cpu_count(), sampling=note,
        left_running=tuple(state.get("left_running", ())),
        failure=_failure(code, timed_out, timeout, state), functions=tuple(functions))


def _diagnosed(report: ProgramReport, chosen: Candidate, argv: list[str], module: bool,
               timeout: float | None, rate: int, diagnose: Callable[[Job], Diagnosis],
               count: int, seed: int) -> ProgramReport:
    """Run the program again capturing ``count`` of the chosen call site's calls, and
    diagnose those."""
    report = replace(report, chosen=chosen.function, diagnosed=chosen)
    script = None if module else argv[0]
    line = loops.unguarded(script) if script and chosen.module == "__main__" else None
    if line is not None:
        return replace(report, not_diagnosed=(
            f"{shown(script or '')}:{line} runs the program's work when the file is "
            "imported, which the diagnosis (and a process pool's workers) would do again: "
            'put it under if __name__ == "__main__":'))
    spread = (dict(picks=tuple(picks(chosen.calls, count, seed))) if chosen.counted_all
              else dict(picks=(), reservoir=count, seed=seed))
    wanted = Wanted(file=chosen.file, line=chosen.line, qualname=chosen.qualname,
                    site_file=chosen.site_file, site_line=chosen.site_line, **spread)
    main = {"module": main_module(argv[1])} if module else {
        "path": os.path.realpath(argv[0])}
    folder_of = os.getcwd() if module else os.path.dirname(os.path.realpath(argv[0]))

    def job(calls: Path, got: dict[str, Any], total: int) -> Job:
        write_captured(str(calls), got["blobs"], total, main)
        return Job(_target(chosen, main), InputSpec(captured=str(calls)),
                   extra_sys_path=(folder_of,), seed=seed)

    with tempfile.TemporaryDirectory(prefix="concdoctor-capture-") as tmp:
        folder = Path(tmp)
        made: list[Diagnosis] = []

        def meanwhile() -> None:  # all picks taken, the program waits: diagnose them now
            got = _captured(folder / "captured.pickle")
            if got["blobs"]:
                made.append(diagnose(job(folder / "calls.pickle", got, chosen.calls)))

        second = _run_once(argv, timeout=timeout, sampling=False, rate=rate, wanted=wanted,
                           folder=folder, paused=meanwhile if wanted.picks else None)
        got = _captured(folder / "captured.pickle")
        # a function the first run stopped counting: the capture's run counted it all
        total = chosen.calls if chosen.counted_all else max(chosen.calls, got["seen"])
        code, timed_out, _ = second.outcome
        facts = CaptureFacts(
            captured=len(got["blobs"]), wanted=len(wanted.picks) or wanted.reservoir,
            seen=got["seen"], total=total, too_big=got["too_big"], problem=got["problem"],
            seed=seed, per_call_bytes=got["per_call_bytes"],
            run_failure=_failure(code, timed_out, timeout, second.state),
            while_running=bool(made))
        report = replace(report, capture=facts)
        why = _not_captured(facts, second)
        if why is not None:
            return replace(report, not_diagnosed=why)
        diagnosis = made[0] if made else diagnose(job(folder / "calls.pickle", got, total))
        return _rewritten(replace(report, diagnosis=diagnosis), chosen)


def main_module(name: str) -> str:
    """The module ``python -m name`` runs as ``__main__``: ``name``, or for a package its
    ``__main__`` submodule."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return name
    return f"{name}.__main__" if spec is not None and spec.submodule_search_locations else name


def _target(chosen: Candidate, main: dict[str, str]) -> TargetSpec:
    """The chosen function as the diagnosis imports it: by its module's dotted name, as
    the program imported it (a package's relative imports work, and there is one copy of
    its state); the program's own script by its path; a ``-m`` program's main module by
    the name it has when it is not run."""
    qualname = chosen.qualname
    if chosen.module == "__main__":
        if "module" in main:
            return TargetSpec(text=f"{main['module']}:{qualname}", module=main["module"],
                              attribute=qualname)
        return TargetSpec(text=chosen.function, path=os.path.realpath(chosen.file),
                          attribute=qualname)
    if chosen.module:
        return TargetSpec(text=f"{chosen.module}:{qualname}", module=chosen.module,
                          attribute=qualname)
    return TargetSpec(text=chosen.function, path=os.path.realpath(chosen.file),
                      attribute=qualname)


def _rewritten(report: ProgramReport, chosen: Candidate) -> ProgramReport:
    """The report with the loop rewritten for the advice, or why it is not; and whether
    the calls depend on each other in the loop, which no advice can change."""
    from concdoctor import executors as registry
    from concdoctor.program.loopshape import carried
    from concdoctor.program.rewrite import loop_snippet

    try:
        source = Path(chosen.site_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return replace(report, rewrite_refused=f"cannot read {shown(chosen.site_file)}: {exc}")
    loop, name = int(chosen.loop.rpartition(":")[2]), chosen.qualname.rpartition(".")[2]
    names = carried(source, loop, chosen.site_line, name)
    if names:
        said = ", ".join(f"`{each}`" for each in names)
        report = replace(report, depends=(
            f"each call's arguments use {said}, which the loop sets at or after the call: "
            "each call takes what the pass before it left (often an earlier call's result)"))
    rec = report.diagnosis.recommendation if report.diagnosis else None
    if (rec is None or rec.executor == registry.SEQUENTIAL or not registry.known(rec.executor)
            or report.depends):
        return report
    made = loop_snippet(source, loop, chosen.site_line, name, registry.get(rec.executor),
                        rec.workers, python=platform.python_version())
    if isinstance(made, str):
        return replace(report, rewrite_refused=made)
    return replace(report, rewrite=LoopRewrite(
        file=shown(chosen.site_file), first_line=made.first_line, last_line=made.last_line,
        imports=made.imports, before=made.before, after=made.after, note=made.note))


def _captured(path: Path) -> dict[str, Any]:
    """The boot's capture (bytes, counts and text only: safe to load here)."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError):
        return {"blobs": [], "seen": 0, "too_big": 0, "problem": None, "per_call_bytes": 0}


def _not_captured(facts: CaptureFacts, second: Ran) -> str | None:
    """Why the captured calls cannot be diagnosed, or None."""
    ended = facts.run_failure
    if facts.captured:
        return None
    if facts.problem:
        return f"the captured calls' arguments do not pickle ({facts.problem})"
    if facts.too_big:
        return (f"each captured call's arguments took more than "
                f"{facts.per_call_bytes:,} bytes; capture fewer calls")
    last = second.output.strip().splitlines()[-1:] if second.output.strip() else []
    told = f" (it said: {last[0][:160]})" if last else ""
    if ended:
        return f"the capture's run of the program failed: {ended}{told}"
    return ("the program's second run made none of those calls: it may read its input "
            "(the second run has none) or behave differently from run to run")


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
