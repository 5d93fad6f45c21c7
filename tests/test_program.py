"""``concdoctor run``'s pure parts on hand-built data: loops, ranking, report, wording;
and the recorder itself, in this process (and on 3.12+ interpreters where installed)."""

from __future__ import annotations

import ast
import glob
import json
import subprocess
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from concdoctor.diagnosis import StackSamples
from concdoctor.program import loops
from concdoctor.program.candidates import Candidate, busiest, caller_name, kind_of, rank
from concdoctor.program.recorder import Recorder
from concdoctor.program.report import ProgramReport, RecorderCost
from concdoctor.render.program import headline, summary


def samples(idle: int = 0, gil: int = 0, released: int = 0) -> StackSamples:
    return StackSamples(frames=(), idle=idle, gil=gil, released=released)


SOURCE = textwrap.dedent("""\
    def main(items):
        setup(items)
        for item in items:
            work(item)
            if item:
                while item:
                    item = shrink(item)
        total = [score(x) for x in items]

        def inner():
            return helper()
        return inner

    for name in NAMES:
        top(name)
    """)


@pytest.mark.parametrize(("line", "loop"), [
    (2, None),   # set-up before the loop
    (3, None),   # the for's own line: its iterable is evaluated once
    (4, 3),      # in the for's body
    (7, 6),      # the innermost loop: the while
    (8, 8),      # a comprehension
    (11, None),  # in a nested function: not in main's loop
    (15, 14),    # a module-level loop
])
def test_enclosing_loop_of_a_line(line: int, loop: int | None) -> None:
    assert loops.enclosing_loop(ast.parse(SOURCE), line) == loop


def test_loop_line_reads_the_file_and_knows_old_comprehension_frames(tmp_path: Path) -> None:
    path = tmp_path / "prog.py"
    path.write_text(SOURCE)
    assert loops.loop_line(str(path), "main", 4) == 3
    assert loops.loop_line(str(path), "main.<locals>.<listcomp>", 8) == 8
    assert loops.loop_line(str(tmp_path / "missing.py"), "main", 4) is None


@pytest.mark.parametrize(("qualname", "shown"), [
    ("main", "main"), ("main.<locals>.<listcomp>", "main"), ("<listcomp>", "<module>"),
    ("Job.run.<locals>.<genexpr>", "Job.run"),
])
def test_caller_name_shows_the_function_holding_a_comprehension(qualname: str,
                                                                shown: str) -> None:
    assert caller_name(qualname) == shown


@pytest.mark.parametrize(("activity", "per_call", "kind"), [
    (samples(idle=95, gil=3, released=2), 0.05, "io_bound"),
    (samples(idle=0, gil=90, released=10), 0.05, "python_cpu_bound"),
    (samples(idle=5, gil=5, released=90), 0.05, "gil_released_c"),
    (samples(idle=40, gil=30, released=30), 0.05, "mixed"),
    (samples(), 0.05, "unmeasured"),
    (samples(idle=100), 1e-6, "overhead_bound"),
])
def test_kind_from_the_samples_inside_the_calls(activity: StackSamples, per_call: float,
                                                kind: str) -> None:
    assert kind_of(activity, per_call) == kind


def site(line: int, calls: int, seconds: float, pickles: Any = True,
         function: str = "main") -> dict[str, Any]:
    return {"file": "/p/prog.py", "line": line, "function": function, "function_line": 1,
            "calls": calls, "seconds": seconds, "pickles": pickles}


def record(name: str, *sites: dict[str, Any]) -> dict[str, Any]:
    return {"file": "/p/prog.py", "line": 1, "name": name,
            "calls": sum(s["calls"] for s in sites),
            "seconds": sum(s["seconds"] for s in sites), "stopped": False,
            "sites": list(sites)}


RECORDS = [
    record("fetch", site(10, 400, 6.0), site(30, 2, 2.0)),       # waits; few calls at 30
    record("parse", site(11, 400, 3.0)),                          # Python work
    record("setup", site(5, 1, 1.0)),                             # once
    record("tiny", site(12, 5000, 0.5)),                          # 5 % of the run
    record("locked", site(13, 50, 3.0, pickles="TypeError: cannot pickle '_thread.lock'")),
    record("outside", site(40, 100, 3.0)),                        # not in a loop
]
KINDS = {"fetch": samples(idle=97, gil=3), "parse": samples(gil=95, released=5),
         "locked": samples(idle=90, gil=10)}


def ranked() -> list[Candidate]:
    def looped(path: str, function: str, line: int) -> int | None:
        return None if line in (5, 40) else 9

    def activity(rec: dict[str, Any], _: dict[str, Any]) -> StackSamples:
        return KINDS.get(rec["name"], samples())

    return rank(RECORDS, wall_seconds=10.0, cpu_count=2, looped=looped, activity=activity,
                name=lambda path: Path(path).name)


@pytest.mark.parametrize(("source", "line"), [
    ('"""doc"""\nimport os\nX = 1\ndef main():\n    pass\nif __name__ == "__main__":\n'
     '    main()\n', None),
    ("import os\ndef main():\n    pass\nmain()\n", 4),
    ("for x in range(3):\n    print(x)\n", 1),
    ("with open('f') as f:\n    pass\n", 1),
])
def test_a_script_that_works_when_imported_is_told(source: str, line: int | None,
                                                    tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(source, encoding="utf-8")
    assert loops.unguarded(str(script)) == line


def test_cpu_time_tells_waiting_calls_from_what_py_spy_saw_as_active() -> None:
    """py-spy on Python 3.10 shows a thread asleep in time.sleep as active, without the
    GIL; the calls' 1 % of CPU time says they waited."""
    asleep = samples(released=97, gil=3)
    assert kind_of(asleep, 0.03) == "gil_released_c"
    assert kind_of(asleep, 0.03, busy=0.01) == "io_bound"
    working = samples(gil=95, released=5)
    assert kind_of(working, 0.03, busy=0.98) == "python_cpu_bound"


def test_candidates_are_ranked_by_what_concurrency_could_save() -> None:
    found = ranked()
    assert [c.function for c in found] == ["prog.py:fetch", "prog.py:parse",
                                           "prog.py:locked"]
    fetch, parse, locked = found
    assert fetch.call_site == "prog.py:10 in main" and fetch.loop == "prog.py:9"
    assert (fetch.calls, fetch.share, fetch.kind) == (400, 0.6, "io_bound")
    assert fetch.saving_seconds == pytest.approx(6.0 * (1 - 1 / 32))
    assert parse.kind == "python_cpu_bound"
    assert parse.saving_seconds == pytest.approx(1.5)  # two cores
    assert not locked.picklable and "_thread.lock" in (locked.reason or "")
    assert locked.saving_seconds > parse.saving_seconds  # listed last all the same


def test_busiest_functions_keep_their_call_sites_and_states() -> None:
    found = busiest(RECORDS, 10.0, lambda rec: KINDS.get(rec["name"], samples()),
                    name=lambda path: Path(path).name, limit=2)
    assert [each.function for each in found] == ["prog.py:fetch", "prog.py:parse"]
    fetch = found[0]
    assert (fetch.calls, fetch.seconds, fetch.share, fetch.idle) == (402, 8.0, 0.8, 0.97)
    assert fetch.call_sites == ("prog.py:10 in main (400 calls)",
                                "prog.py:30 in main (2 calls)")


def test_report_round_trips_through_json_with_the_documented_fields() -> None:
    report = ProgramReport(
        argv=("etl.py", "config.yaml"), module=False, exit_code=0, wall_seconds=10.0,
        timed_out=False,
        recorder=RecorderCost("sys.setprofile", 2e-6, 2e-7, 1.5, 5000, 1000, 0.5, 0.05),
        candidates=tuple(ranked()), python="3.11.7", cpu_count=2,
        functions=tuple(busiest(RECORDS, 10.0, lambda rec: samples(idle=1))))
    data = json.loads(report.to_json())
    assert data["schema_version"] == 1 and data["target"] is None
    program = data["program"]
    assert {"argv", "exit_code", "wall_seconds", "recorder_overhead", "candidates",
            "chosen"} <= set(program)
    assert {"function", "call_site", "calls", "share", "kind", "picklable"} <= set(
        program["candidates"][0])
    assert ProgramReport.from_json(report.to_json()) == report


def test_headline_answers_in_the_programs_terms() -> None:
    report = ProgramReport(argv=("etl.py",), module=False, exit_code=3, wall_seconds=10.0,
                           timed_out=False, recorder=None, candidates=tuple(ranked()),
                           python="3.11.7", cpu_count=2,
                           failure="the program exited with code 3")
    assert headline(report).startswith(
        "60% of this run was 400 calls of fetch() from main() at prog.py:10 (the loop at "
        "prog.py:9), mostly waiting: concurrency could save up to 5.81 s")
    assert "the program exited with code 3" in summary(report)
    empty = ProgramReport(argv=("etl.py",), module=False, exit_code=0, wall_seconds=1.0,
                          timed_out=False, recorder=None, candidates=(), python="3.11.7",
                          cpu_count=2)
    assert headline(empty).startswith("No candidate")


# -- the recorder, in this process ----------------------------------------------------------

def wait(value: Any, flag: int = 0) -> Any:
    threading.Event().wait(0.002)
    return value


def deep(n: int) -> int:
    return 0 if n == 0 else 1 + deep(n - 1)


def program() -> None:
    lock = threading.Lock()
    for each in range(6):
        wait(each, flag=1)
    for _ in range(4):
        wait(lock)
    deep(30)


def recorded() -> dict[str, dict[str, Any]]:
    recorder = Recorder(ignore=())
    recorder.install()
    try:
        program()
    finally:
        recorder.uninstall()
    return {each["name"]: each for each in recorder.snapshot()}


def test_recorder_counts_calls_per_site_and_checks_pickling_once() -> None:
    functions = recorded()
    sites = {s["line"]: s for s in functions["wait"]["sites"]}
    assert functions["wait"]["calls"] == 10
    assert sorted(s["calls"] for s in sites.values()) == [4, 6]
    assert [s["pickles"] for s in sorted(sites.values(), key=lambda s: s["calls"])][1] is True
    assert "lock" in str(min(sites.values(), key=lambda s: s["calls"])["pickles"])
    assert all(s["function"] == "program" for s in sites.values())
    assert functions["wait"]["seconds"] >= 10 * 0.002


def test_recorder_times_only_the_outermost_recursive_call() -> None:
    functions = recorded()
    assert functions["deep"]["calls"] == 31
    assert functions["deep"]["seconds"] <= functions["program"]["seconds"]


def test_recorder_stops_counting_tiny_functions() -> None:
    recorder = Recorder(ignore=(), stop_after=100)
    recorder.install()
    try:
        for each in range(1000):
            caller_name(str(each))
    finally:
        recorder.uninstall()
    counted = {each["name"]: each for each in recorder.snapshot()}["caller_name"]
    assert counted["stopped"] and 100 <= counted["calls"] < 1000


NEWER = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]"))


@pytest.mark.skipif(not NEWER, reason="no Python 3.12+ interpreter installed here")
@pytest.mark.parametrize("python", NEWER)
def test_recorder_on_sys_monitoring(python: str, tmp_path: Path) -> None:
    """The recorder module imports nothing of concdoctor's: run it by path on 3.12+."""
    src = Path(loops.__file__).parent / "recorder.py"
    script = textwrap.dedent(f"""\
        import importlib.util, json, sys, time
        spec = importlib.util.spec_from_file_location("recorder", {str(src)!r})
        recorder = importlib.util.module_from_spec(spec)
        sys.modules["recorder"] = recorder; spec.loader.exec_module(recorder)
        def work(x, k=2):
            time.sleep(0.001); return x * k
        def main():
            for i in range(6):
                work(i, k=3)
            return [work(i) for i in range(4)]
        r = recorder.Recorder(ignore=())
        r.install(); main(); r.uninstall()
        print(json.dumps([r.backend, r.snapshot()]))
        """)
    path = tmp_path / "prog.py"  # code from "-c" is "<string>", which the recorder skips
    path.write_text(script)
    done = subprocess.run([python, str(path)], capture_output=True, text=True, timeout=60,
                          check=True)
    backend, functions = json.loads(done.stdout)
    assert backend == "sys.monitoring"
    work = next(each for each in functions if each["name"] == "work")
    assert work["calls"] == 10
    assert sorted((s["function"], s["calls"]) for s in work["sites"]) == [("main", 4),
                                                                         ("main", 6)]
