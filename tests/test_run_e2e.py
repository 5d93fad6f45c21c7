"""``concdoctor run`` end to end: the real CLI in a subprocess, the real py-spy, on whole
programs (``examples/programs``) and on misbehaving ones (``tests/targets/programs``).

The ``cli`` fixture of the fault tests marks every run's environment and fails a test
whose processes outlive it; the autouse check fails one that leaves children of pytest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from test_faults import Cli, Result
from test_faults import cli as cli  # noqa: F401 - the fixture, by import
from test_faults import no_descendants_left as no_descendants_left  # noqa: F401

from concdoctor import executors

pytestmark = pytest.mark.e2e
EXAMPLES = ROOT / "examples" / "programs"
PROGRAMS = Path(__file__).resolve().parent / "targets" / "programs"


def run(cli: Cli, *args: str | Path, stdin: bytes | None = None) -> Result:
    json_path = cli.tmpdir.parent / "run.json"
    if stdin is None:  # concdoctor's options go before the script: json_path stays None
        result = cli.run("run", "--json", json_path, *args)
        result.json_path = json_path
        return result
    done = subprocess.run(cli.command("run", "--json", json_path, *args), cwd=cli.cwd,
                          env=cli.env(), input=stdin, capture_output=True, timeout=120)
    return Result(done.returncode, done.stdout.decode(), done.stderr.decode(), 0.0,
                  cli.tmpdir, json_path)


def top(result: Result) -> dict:
    candidates = result.report()["program"]["candidates"]
    assert candidates, result.explain()
    return candidates[0]


def alike(advised: str, expected: str) -> bool:
    """The advice, or a rival of it that runs the same work much the same way (a process
    pool and processes running threads, on 2 cores): which of them measures faster on a
    busy machine is the measurement's to say, run by run."""
    return advised == expected or (
        executors.known(expected) and advised in executors.get(expected).rivals)


def calls(*arguments: tuple[list, dict]) -> str:
    """``--calls --inputs`` for a direct profile of the same calls."""
    return json.dumps([list(each) for each in arguments])


@pytest.mark.parametrize(("script", "args", "output", "function", "kind", "loop", "direct"), [
    ("fetch_loop.py", ["30"], "fetched 30 pages", "fetch", "io_bound", 31,
     calls(*(([f"https://example.org/{page}"], {"timeout": 5}) for page in range(30)))),
    ("cpu_loop.py", ["24"], "best score", "score", "python_cpu_bound", 31,
     calls(*(([seed], {}) for seed in range(24)))),
    ("shared_loop.py", [], "final total 435", "step", "io_bound", 27,
     calls(*(([amount], {}) for amount in range(30)))),
])
def test_the_top_candidate_is_found_captured_and_advised_as_profile_advises_it(
        cli: Cli, script: str, args: list[str], output: str, function: str, kind: str,
        loop: int, direct: str) -> None:
    expected = {"fetch_loop.py": "thread", "cpu_loop.py": "process",
                "shared_loop.py": "sequential"}[script]
    for attempt in range(3):  # a busy 2-core machine can deny a process pool its speedup
        result = run(cli, "--seed", str(3 + attempt), EXAMPLES / script, *args)
        assert result.returncode == 0, result.explain()
        diagnosis = result.report()["program"]["diagnosis"]
        assert diagnosis is not None, result.explain()
        advised = diagnosis["recommendation"]["executor"]
        # the same calls, given to profile directly, get the same advice
        json_path = cli.tmpdir.parent / "profile.json"
        profiled = cli.run("profile", f"{EXAMPLES / script}:{function}", "--calls",
                           "--inputs", direct, "--seed", "3", "--no-save",
                           json_path=json_path)
        assert profiled.returncode == 0, profiled.explain()
        direct_advice = profiled.report()["recommendation"]["executor"]
        if alike(advised, expected) and alike(direct_advice, expected):
            break
    assert alike(advised, expected) and alike(direct_advice, expected), (
        f"run advised {advised}, profile {direct_advice}\n{result.explain()}")
    assert result.stdout.count(output) == 1  # its output passes through, once
    best = top(result)
    assert best["function"] == f"{EXAMPLES / script}:{function}"
    assert best["loop"] == f"{EXAMPLES / script}:{loop}"
    assert best["picklable"], best
    # on 3.10 py-spy shows a sleeping thread as active: the calls' CPU time corrects it
    assert best["kind"] == kind, best
    assert best["share"] > 0.4 and best["calls"] >= 10
    program = result.report()["program"]
    assert program["exit_code"] == 0 and program["recorder_overhead"]["fraction"] >= 0
    times = {each["function"]: each for each in program["functions"]}
    assert times[best["function"]]["calls"] == best["calls"]
    assert f"{EXAMPLES / script}:main" in times  # the caller, with the loop in it
    # captured: every call of these small loops (the default takes up to 120)
    assert program["chosen"] == best["function"] == result.report()["target"]
    assert program["capture"]["captured"] == best["calls"] == program["capture"]["seen"]
    assert diagnosis["workload"]["input_source"] == "captured"
    assert diagnosis["workload"]["tasks"] == best["calls"]
    # the answer, in the program's terms
    assert f"calls of {function}(" in result.stdout
    if advised == "sequential":
        assert "Keep the loop as it is" in result.stdout
        assert "changed the results" in diagnosis["recommendation"]["reason"]
    else:
        assert "The loop would take" in result.stdout


def test_a_named_function_is_diagnosed_rather_than_the_top_candidate(cli: Cli) -> None:
    result = run(cli, "--function", f"{EXAMPLES / 'cpu_loop.py'}:normalize", "--capture",
                 "50", EXAMPLES / "cpu_loop.py", "4")
    assert result.returncode == 0, result.explain()
    program = result.report()["program"]
    assert program["chosen"].endswith("cpu_loop.py:normalize")
    assert program["capture"]["captured"] == 50
    # the recorder stopped counting this tiny function; the capture's run counted it all
    assert program["capture"]["seen"] == 20_000
    diagnosis = program["diagnosis"]
    assert diagnosis["workload"]["tasks"] == 20_000
    assert diagnosis["classification"]["kind"] == "overhead_bound"
    assert diagnosis["recommendation"]["executor"] == "sequential"


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--function", "cpu_loop:nothing", "--function cpu_loop:nothing: the program made no "
                                       "such call"),
    ("--line", "examples/programs/cpu_loop.py:999", "the program made no such call"),
])
def test_a_choice_the_program_does_not_make_is_a_usage_error(
        cli: Cli, option: str, value: str, message: str) -> None:
    shutil.copytree(EXAMPLES, cli.cwd / "examples" / "programs")
    result = run(cli, option, value, "examples/programs/cpu_loop.py", "10")
    assert result.returncode == 2, result.explain()
    assert message in result.stderr.strip().splitlines()[-1], result.explain()
    assert result.report()["program"]["candidates"]  # the ranking is kept


def test_a_malformed_choice_is_refused_before_the_program_runs(cli: Cli) -> None:
    result = run(cli, "--line", "cpu_loop.py", EXAMPLES / "cpu_loop.py")
    assert result.returncode == 2, result.explain()
    assert "give it as path/to/file.py:N" in result.stderr
    assert "best score" not in result.stdout


def test_calls_that_take_an_earlier_calls_result_are_not_advised_onto_a_pool(
        cli: Cli) -> None:
    result = run(cli, PROGRAMS / "carried.py")
    assert result.returncode == 0, result.explain()
    program = result.report()["program"]
    assert program["chosen"].endswith("carried.py:step")
    assert "`state`" in program["depends"]
    assert program["rewrite"] is None
    assert "They depend on each other" in result.stdout
    assert "The loop would take" not in result.stdout


def test_a_package_run_with_dash_m_is_diagnosed_by_its_modules_names(cli: Cli) -> None:
    """Its loop calls a module that imports relatively: imported by its file's path, it
    could not be; by its dotted name, as the program imported it, it is."""
    shutil.copytree(PROGRAMS / "pkgprog", cli.cwd / "pkgprog")
    result = run(cli, "-m", "pkgprog")
    assert result.returncode == 0, result.explain()
    assert "pkgprog fetched 24" in result.stdout
    program = result.report()["program"]
    assert program["diagnosed"]["module"] == "pkgprog.work", program["not_diagnosed"]
    diagnosis = program["diagnosis"]
    assert diagnosis["target"] == "pkgprog.work:fetch" and diagnosis["failure"] is None
    assert diagnosis["recommendation"]["executor"] == "thread"


def test_a_script_that_works_when_imported_is_not_imported_again(cli: Cli) -> None:
    script = cli.cwd / "unguarded.py"
    script.write_text((EXAMPLES / "fetch_loop.py").read_text(encoding="utf-8").replace(
        'if __name__ == "__main__":\n    main()', "main()"), encoding="utf-8")
    result = run(cli, script, "12")
    assert result.returncode == 0, result.explain()
    assert "fetched 12 pages" in result.stdout
    why = result.report()["program"]["not_diagnosed"]
    assert 'if __name__ == "__main__"' in why and "unguarded.py:" in why


def test_a_module_runs_as_python_dash_m_runs_it(cli: Cli) -> None:
    shutil.copy(EXAMPLES / "fetch_loop.py", cli.cwd / "fetch_module.py")
    result = run(cli, "-m", "fetch_module", "12")  # and diagnosed as a module
    assert result.returncode == 0, result.explain()
    assert "fetched 12 pages" in result.stdout
    assert top(result)["function"].endswith("fetch_module.py:fetch")
    assert result.report()["program"]["argv"] == ["fetch_module", "12"]
    assert result.report()["program"]["diagnosis"]["recommendation"]["executor"] == "thread"


@pytest.mark.parametrize(("script", "stderr", "exit_code"), [
    ("exits.py", "the program exited with code 3", 3),
    ("raises.py", "the program exited with code 1", 1),
    ("crashes.py", "killed by signal SIGSEGV", None),
])
def test_a_failing_program_gets_a_line_exit_1_and_its_candidates_so_far(
        cli: Cli, script: str, stderr: str, exit_code: int | None) -> None:
    result = run(cli, PROGRAMS / script)
    assert result.returncode == 1, result.explain()
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("concdoctor: error: ") and stderr in last, result.explain()
    assert "found so far" in last
    report = result.report()["program"]
    assert report["exit_code"] == (exit_code if exit_code is not None else -11)
    assert top(result)["function"].endswith(":wait")
    if script == "raises.py":
        assert "RuntimeError: the program's own bug" in result.stderr  # its traceback


def test_a_program_past_the_timeout_is_ended_with_all_it_started(cli: Cli) -> None:
    result = run(cli, "--timeout", "4", PROGRAMS / "hangs.py")
    assert result.returncode == 1, result.explain()
    assert "ran past the --timeout (4 s)" in result.stderr
    assert result.report()["program"]["timed_out"]
    assert top(result)["function"].endswith(":wait")
    # the helper it started is gone: the cli fixture fails the test otherwise


def test_the_program_reads_its_stdin(cli: Cli) -> None:
    lines = b"".join(b"line %d\n" % each for each in range(8))
    result = run(cli, PROGRAMS / "reads_stdin.py", stdin=lines)
    assert result.returncode == 0, result.explain()
    assert "LINE 7" in result.stdout
    assert top(result)["calls"] == 8
    # the capture's run has no input: it makes none of those calls, and says so
    assert "may read its input" in result.report()["program"]["not_diagnosed"]


def test_own_pools_run_and_what_the_program_leaves_running_is_ended(cli: Cli) -> None:
    result = run(cli, "--no-diagnose", PROGRAMS / "pools.py")
    assert result.returncode == 0, result.explain()
    assert "2470" in result.stdout
    left = result.report()["program"]["left_running"]
    assert any("sleep(600)" in each for each in left), left


def test_arguments_that_do_not_pickle_are_listed_with_the_reason(cli: Cli) -> None:
    result = run(cli, PROGRAMS / "unpicklable.py")
    assert result.returncode == 0, result.explain()
    best = top(result)
    assert not best["picklable"] and "lock" in best["reason"]
    assert "do not pickle" in result.stdout
    assert "its arguments do not pickle" in result.report()["program"]["not_diagnosed"]


def test_a_missing_script_is_a_usage_error(cli: Cli) -> None:
    result = run(cli, cli.cwd / "nowhere.py")
    assert result.returncode == 2, result.explain()
    assert result.stderr.strip().startswith("concdoctor: error: cannot run")


def test_calls_are_diagnosed_while_what_they_need_still_exists(cli: Cli) -> None:
    """The program removes the files its calls read when it ends: the capture's run waits
    after its last picked call while they are diagnosed. The --timeout (about twice the
    program's own 2.4 s) does not count that wait, which alone takes longer than the
    program: the baseline runs the 40 calls' 2.4 s of waits again, and more."""
    result = run(cli, "--timeout", "5", PROGRAMS / "temporary.py")
    assert result.returncode == 0, result.explain()
    assert "checked 40 distinct parts" in result.stdout  # the first run, as it printed
    program = result.report()["program"]
    assert program["chosen"].endswith("temporary.py:checksum")
    capture = program["capture"]
    assert capture["while_running"] and capture["captured"] == 40, capture
    assert capture["run_failure"] is None, capture  # it went on, and was not timed out
    diagnosis = program["diagnosis"]
    assert diagnosis["failure"] is None, diagnosis["failure"]
    assert diagnosis["recommendation"]["executor"] != "sequential", diagnosis["recommendation"]
