"""The pytest plugin: pure checks on hand-built data, then real pytest runs via pytester.

The pytester runs profile real functions (sleeps: this machine has 2 noisy cores, so
speedups are asserted with wide margins, e.g. >= 3x where 8 overlapped 0.1 s sleeps
give ~7x). Each inner run is a subprocess, as a user's run would be.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest

from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    ExecutorResult,
    Failure,
    Recommendation,
    Workload,
)
from concdoctor.pytest_plugin.marker import MarkerError, parse_mark, parse_marks
from concdoctor.pytest_plugin.session import ConcdoctorSession, Record
from concdoctor.pytest_plugin.verdict import (
    check_confirmed,
    check_executor,
    check_kind,
    check_speedup,
    explain,
    failure_message,
)

INNER_TIMEOUT = 120.0
SLEEPER = """
import time

def nap(seconds):
    time.sleep(seconds)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner pytest run as a user would start it; warnings are errors there too."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args,
                                         timeout=INNER_TIMEOUT)


# -- hand-built data --------------------------------------------------------------------------
def revised_diagnosis(**changes: object) -> Diagnosis:
    """A CPU-bound verdict whose advice (process) was revised to thread by measurement."""
    base = Diagnosis(
        target="pkg.mod:crunch", workload=Workload(tasks=8),
        environment=Environment(python="3.11.7", cpu_count=2),
        evidence=Evidence(wall_seconds=2.0, cpu_seconds=1.9, thread_cpu_seconds=1.9,
                          task_seconds_median=0.25, idle_fraction=0.05, gil_fraction=0.15,
                          released_fraction=0.8, samples=400, sampling_rate=200),
        classification=Classification("gil_released_c", 0.8, ("80% of samples released",)),
        recommendation=Recommendation(
            executor="thread", workers=2, rule="c-released-threads", reason="C releases it.",
            revised_from="process", revision_reason="process measured 1.05x; thread 1.80x"),
        confirmation=Confirmation(
            baseline_seconds=2.0, recommended_seconds=1.11, speedup=1.8, confirmed=True,
            trials=3, executors={"sequential": 2.0, "thread": 1.11},
            results=(ExecutorResult("process", 2, (1.9, 1.9), 1.9, 1.05),
                     ExecutorResult("thread", 2, (1.1, 1.11), 1.11, 1.8),
                     ExecutorResult("interpreter", 2, skipped="no InterpreterPoolExecutor"))),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_explain_lists_kind_shares_rule_revision_and_every_executor() -> None:
    text = explain(revised_diagnosis())
    for expected in ("gil_released_c (confidence 0.80)", "idle 5%, GIL 15%, released 80%",
                     "400 py-spy samples", "thread x2 (rule c-released-threads)",
                     "from process: process measured 1.05x", "process x2", "1.05x",
                     "thread x2", "1.80x", "skipped: no InterpreterPoolExecutor"):
        assert expected in text, f"{expected!r} missing from:\n{text}"


def test_checks_explain_the_verdict_when_they_fail() -> None:
    d = revised_diagnosis()
    assert check_kind(d, ["gil_released_c"]) is None
    assert check_executor(d, ["thread", "asyncio"]) is None
    kind = check_kind(d, ["io_bound"])
    assert kind is not None and kind.headline.startswith(
        "expected kind io_bound, but pkg.mod:crunch was diagnosed gil_released_c")
    executor = check_executor(d, ["process"])
    assert executor is not None and "revised from process" in executor.headline
    assert "released 80%" in executor.message(d)
    speedup, problem = check_speedup(d, 4)
    assert speedup == 1.8 and problem is not None
    assert "at least 4.00x, but thread x2 measured 1.80x" in problem.headline
    assert check_speedup(d, 1.0, executor="process") == (1.05, None)
    skipped = check_speedup(d, 1.0, executor="interpreter")[1]
    assert skipped is not None and "skipped: no InterpreterPoolExecutor" in skipped.headline
    missing = check_speedup(d, 1.0, executor="asyncio")[1]
    assert missing is not None and "compare_all=True" in missing.headline
    assert check_confirmed(d) is None


def test_checks_without_confirmation_are_unmeasured_and_typos_raise() -> None:
    d = revised_diagnosis(confirmation=None)
    problem = check_speedup(d, 2)[1]
    assert problem is not None and problem.unmeasured
    confirmed = check_confirmed(d)
    assert confirmed is not None and confirmed.unmeasured
    with pytest.raises(ValueError, match="unknown kind 'io'; known: io_bound"):
        check_kind(d, ["io"])
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        check_speedup(d, 2, executor="threads")


def test_failure_message_has_the_failure_and_the_target_traceback() -> None:
    d = revised_diagnosis(failure=Failure("baseline", "the target raised on input #0 (1)",
                                          "Traceback...\nValueError: bad"),
                          recommendation=None, confirmation=None)
    text = failure_message(d)
    assert text.startswith("concdoctor could not diagnose pkg.mod:crunch: the target raised")
    assert "ValueError: bad" in text and "baseline phase" in text


def test_marker_arguments_are_validated(tmp_path: Path) -> None:
    with pytest.raises(MarkerError, match=r"unknown argument 'foo' to @pytest.mark.concdoctor; "
                                          r"known: adaptive, budget, cluster, compare, "
                                          r"compare_all, confirm, confirmed"):
        parse_mark((), {"foo": 1}, tmp_path)
    with pytest.raises(MarkerError, match="did you mean 'min_speedup'"):
        parse_mark((), {"min_speedu": 2}, tmp_path)
    with pytest.raises(MarkerError, match="keyword arguments only"):
        parse_mark(("io_bound",), {}, tmp_path)
    for bad in ({"kind": "cpu"}, {"executor": ["thread", "fiber"]}, {"min_speedup": 0},
                {"min_speedup": True}, {"timeout": "5"}, {"trials": 0}, {"confirm": 1},
                {"rules": "missing.toml"}):
        with pytest.raises(MarkerError, match=re.escape(next(iter(bad)))):
            parse_mark((), bad, tmp_path)


def test_marks_merge_closest_first(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text("version = 1\n")
    spec = parse_marks([((), {"kind": "io_bound", "trials": 1}),
                        ((), {"kind": ["mixed"], "timeout": 5, "rules": "rules.toml"})],
                       tmp_path)
    assert spec.kind == ("io_bound",) and spec.defaults() == {
        "trials": 1, "timeout": 5, "rules": tmp_path / "rules.toml"}
    assert spec.has_expectations
    closer_none = parse_marks([((), {"timeout": None}), ((), {"timeout": 5, "trials": 2})],
                              tmp_path)
    assert closer_none.defaults() == {"trials": 2}, "the closest mark wins, even with None"


def test_session_table_merges_worker_rows_and_marks_status() -> None:
    session = ConcdoctorSession()
    rows = [Record("t.py::a", "t:nap", "io_bound", "thread", 8, 7.5, True, True).to_dict(),
            Record("t.py::b", "t:boom", None, None, None, None, False, False,
                   failure="baseline: the target raised").to_dict()]
    session.merge(json.loads(json.dumps(rows[:1])), "gw0")
    session.merge(rows[1:], "gw1")
    table = session.table()
    assert table[0].split() == ["test", "target", "kind", "executor", "workers", "speedup",
                                "confirmed", "xdist"]
    assert table[2].split() == ["t.py::a", "t:nap", "io_bound", "thread", "8", "7.50x", "yes",
                                "gw0"]
    assert table[3].split()[-2:] == ["failed", "gw1"]
    notes = "\n".join(session.footnotes())
    assert "failed: t.py::b (t:boom): baseline: the target raised" in notes
    assert "2 pytest-xdist workers" in notes and "speedups" in notes


# -- real pytest runs ---------------------------------------------------------------------------
def test_fixture_diagnoses_sleeping_function_and_summarises(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sleep=SLEEPER + """
from concdoctor.diagnosis import Diagnosis

def test_nap(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[0.1] * 8)
    assert isinstance(diagnosis, Diagnosis) and diagnosis.complete
    concdoctor.assert_kind(diagnosis, "io_bound")
    concdoctor.assert_executor(diagnosis, "thread", "asyncio")
    assert concdoctor.assert_speedup(diagnosis, at_least=3) >= 3
    concdoctor.assert_confirmed(diagnosis)
    assert concdoctor.diagnoses == [diagnosis]
""")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "plugins:*concdoctor*",
        "*- concdoctor: 1 diagnosis -*",
        "test*target*kind*executor*workers*speedup*confirmed",
        "test_sleep.py::test_nap*test_sleep:nap*io_bound*thread*8*x*yes",
    ])


def test_unused_plugin_prints_nothing_and_imports_no_profiler(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import sys

def test_light():
    heavy = [name for name in sys.modules if name.split(".")[0] in ("rich", "jinja2", "yappi")
             or name.startswith(("concdoctor.api", "concdoctor.pipeline", "concdoctor.render",
                                 "concdoctor.diagnosis", "concdoctor.pytest_plugin.fixture"))]
    assert "concdoctor.pytest_plugin.plugin" in sys.modules
    assert heavy == []
""")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "concdoctor:" not in result.stdout.str()


def test_marker_is_declared_and_validated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.concdoctor(foo=1)
def test_unknown():
    pass

@pytest.mark.concdoctor("io_bound")
def test_positional():
    pass

@pytest.mark.concdoctor(kind="cpu")
def test_bad_kind():
    pass

@pytest.mark.concdoctor(min_speedup=-1)
def test_bad_speedup():
    pass

@pytest.mark.concdoctor(timeout=5, trials=1)
def test_defaults_only():
    pass

@pytest.mark.concdoctor(kind="io_bound")
def test_expects_but_no_diagnosis():
    pass
""")
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=1, failed=5)
    result.stdout.fnmatch_lines_random([
        ("unknown argument 'foo' to @pytest.mark.concdoctor; known: adaptive, budget, "
         "cluster, compare, compare_all, confirm, confirmed, executor, keep_detached, kind, "
         "memory_limit, min_speedup, rate, rules, sample, sampling, seed, start_method, "
         "timeout, trials"),
        "@pytest.mark.concdoctor takes keyword arguments only, got positional ('io_bound')*",
        "@pytest.mark.concdoctor(kind='cpu'): unknown kind; known: io_bound*",
        "@pytest.mark.concdoctor(min_speedup=...) takes a number greater than 0, got -1",
        "@pytest.mark.concdoctor sets expectations, but the test made no diagnosis*",
    ])
    markers = run(pytester, "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.concdoctor(kind=None, executor=None, *"])


def test_marker_expectations_and_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=SLEEPER + """
import pytest

@pytest.mark.concdoctor(kind="io_bound", executor=["thread", "asyncio"], min_speedup=1.5,
                        trials=1, timeout=60)
def test_meets(concdoctor):
    concdoctor.profile(nap, inputs=[0.05] * 6)

@pytest.mark.concdoctor(kind="python_cpu_bound", trials=1)
def test_misses(concdoctor):
    concdoctor.profile(nap, inputs=[0.05] * 6)

@pytest.mark.concdoctor(confirm=False)
def test_marker_default_applies(concdoctor):
    assert concdoctor.profile(nap, inputs=[0.02] * 4).confirmation is None
    assert concdoctor.profile(nap, inputs=[0.05] * 8, confirm=True, trials=1).confirmed
""")
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_misses _*",
        "@pytest.mark.concdoctor expectations not met:",
        ("the diagnosis: expected kind python_cpu_bound, but test_marked:nap was diagnosed "
         "io_bound (confidence *)"),
        "concdoctor verdict for test_marked:nap (6 tasks, *",
        "  kind       io_bound (confidence *",
        "  shares     idle *%, GIL *%, released *% of * py-spy samples*",
        "  advice     thread x6 (rule io-threads): *",
        "  measured   sequential * s  baseline",
        "             thread x6 * s  *x",
    ])
    result.stdout.fnmatch_lines(["*- concdoctor: 4 diagnoses -*",
                                 "*test_marked.py::test_marker_default_applies*off*"])


def test_assertion_messages_and_target_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_messages=SLEEPER + """
import pytest

def test_speedup_too_high(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[0.05] * 6, trials=1)
    with pytest.raises(AssertionError, match="expected kind mixed, but .* io_bound"):
        concdoctor.assert_kind(diagnosis, "mixed")
    with pytest.raises(AssertionError, match="expected executor process, but .* thread x6"):
        concdoctor.assert_executor(diagnosis, "process")
    with pytest.raises(AssertionError, match="process was not measured.*compare_all=True"):
        concdoctor.assert_speedup(diagnosis, at_least=1, executor="process")
    concdoctor.assert_speedup(diagnosis, at_least=1000)

def boom(item):
    raise ValueError(f"cannot handle {item}")

def test_target_raises(concdoctor):
    concdoctor.profile(boom, inputs=[1, 2])

def test_target_raises_allowed(concdoctor):
    diagnosis = concdoctor.profile(boom, inputs=[1, 2], allow_failure=True)
    assert diagnosis.failure.phase == "baseline"
    concdoctor.assert_kind(diagnosis, "io_bound")
""")
    result = run(pytester)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_speedup_too_high _*",
        ("E*AssertionError: expected a speedup of at least 1000.00x, but thread x6 measured *x "
         "over sequential"),
        "E*concdoctor verdict for test_messages:nap (6 tasks*",
        "E*shares     idle *%, GIL *%, released *%*",
        "E*advice     thread x6 (rule io-threads)*",
        "E*thread x6 * s  *x",
        "E*confirmed  yes: thread x6 measured *x, the rule asks for 2.00x",
        "*_ test_target_raises _*",
        ("E*Failed: concdoctor could not diagnose test_messages:boom: the target raised on "
         "input #0 (1): ValueError: cannot handle 1"),
        "E*Traceback (most recent call last):",
        "E*ValueError: cannot handle 1",
        "*_ test_target_raises_allowed _*",
        "E*AssertionError: concdoctor could not diagnose test_messages:boom*",
    ])
    result.stdout.fnmatch_lines(["*test_messages.py::test_target_raises *failed*",
                                 "failed: test_messages.py::test_target_raises (*"])


def test_lambda_skips_process_with_reason_and_measures_thread(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unpicklable="""
import time

def test_lambda(concdoctor):
    diagnosis = concdoctor.profile(lambda s: time.sleep(s), inputs=[0.05] * 6,
                                   compare_all=True, trials=1)
    results = {r.executor: r for r in diagnosis.confirmation.results}
    assert "cannot be pickled" in results["process"].skipped
    assert results["thread"].skipped is None and results["thread"].speedup > 1.5
    assert any("process executor unavailable" in note for note in diagnosis.notes)
    concdoctor.assert_speedup(diagnosis, at_least=1.5, executor="thread")
    concdoctor.assert_speedup(diagnosis, at_least=1, executor="process")
""")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ("E*AssertionError: expected process to measure at least 1.00x, but process was "
         "skipped: the function test_lambda.<locals>.<lambda> cannot be pickled*"),
        "E*process x* skipped: the function *cannot be pickled*",
        ("*test_unpicklable.py::test_lambda*test_unpicklable:test_lambda.<locals>.<lambda>*"
         "io_bound*thread*yes*"),
    ])


def test_no_confirm_option_skips_speedup_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_quick=SLEEPER + """
import pytest

def test_unconfirmed(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[0.02] * 4)
    assert diagnosis.confirmation is None
    concdoctor.assert_kind(diagnosis, "io_bound")
    concdoctor.assert_speedup(diagnosis, at_least=2)
    pytest.fail("not reached: the speedup check skips")

def test_explicit_confirm_wins(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[0.02] * 4, confirm=True, trials=1)
    assert diagnosis.confirmation is not None

@pytest.mark.concdoctor(kind="io_bound", min_speedup=2)
def test_marker_speedup_unchecked(concdoctor):
    concdoctor.profile(nap, inputs=[0.02] * 4)

@pytest.mark.concdoctor(kind="mixed", min_speedup=2)
def test_marker_kind_still_checked(concdoctor):
    concdoctor.profile(nap, inputs=[0.02] * 4)
""")
    result = run(pytester, "--concdoctor-no-confirm", "-rs")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    out = result.stdout.str()
    assert "expected kind mixed" in out and "expected a speedup" not in out
    result.stdout.fnmatch_lines_random([
        ("SKIPPED *test_quick.py:*: speedup not measured: confirmation was turned off by "
         "--concdoctor-no-confirm"),
        "*test_quick.py::test_unconfirmed*io_bound*off",
        "confirmed 'off': confirmation did not run*",
    ])


def test_report_dir_rules_and_timeout_options(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", custom_rules="""
version = 1

[[rule]]
id = "custom-io"
priority = 1000
when = { kind = "io_bound" }
executor = "thread"
workers = 3
reason = "A custom rule for {tasks} tasks."
""")
    pytester.makepyfile(test_opts=SLEEPER + """
def test_custom_rule(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[0.02] * 4, trials=1)
    assert (diagnosis.recommendation.rule, diagnosis.workers) == ("custom-io", 3)

def test_timeout(concdoctor):
    diagnosis = concdoctor.profile(nap, inputs=[5.0], allow_failure=True)
    assert diagnosis.failure.phase == "baseline"
    assert "ran past the --timeout" in diagnosis.failure.message
""")
    result = run(pytester, "--concdoctor-report-dir", "reports", "--concdoctor-rules",
                 "custom_rules.toml", "--concdoctor-timeout", "1", "-v")
    result.assert_outcomes(passed=2)
    folders = sorted(p for p in (pytester.path / "reports").iterdir() if p.is_dir())
    assert len(folders) == 2
    reports = [Diagnosis.from_json((f / "report.json").read_text()) for f in folders]
    assert {r.command for r in reports} == {"pytest test_opts.py::test_custom_rule",
                                            "pytest test_opts.py::test_timeout"}
    assert all((f / "report.html").is_file() for f in folders)
    result.stdout.fnmatch_lines_random([f"reports: 2 folders in {pytester.path / 'reports'}",
                                        "report: test_opts.py::test_timeout: *reports*"])


@pytest.mark.parametrize(("args", "message"), [
    (["--concdoctor-timeout", "soon"],
     "*--concdoctor-timeout: timeout must be a number of seconds above 0, got 'soon'"),
    (["--concdoctor-timeout", "0"],
     "*--concdoctor-timeout: timeout must be a number of seconds above 0, got 0.0"),
    (["--concdoctor-trials", "0"],
     "*--concdoctor-trials: trials must be a whole number of at least 1, got 0"),
    (["--concdoctor-rules", "nope.toml"], "*--concdoctor-rules: no such rules file: 'nope.toml'"),
    (["--concdoctor-rules", "bad.toml"], "*--concdoctor-rules: *bad.toml: invalid TOML*"),
    (["--concdoctor-report-dir", "bad.toml"],
     "*--concdoctor-report-dir: 'bad.toml' is not a folder"),
])
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester, args: list[str],
                                            message: str) -> None:
    pytester.makefile(".toml", bad="[[rule]\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_xdist_summary_lists_every_worker(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_parallel=SLEEPER + """
import pytest

@pytest.mark.parametrize("case", ["one", "two"])
def test_nap(concdoctor, case):
    diagnosis = concdoctor.profile(nap, inputs=[0.05] * 6, trials=1)
    concdoctor.assert_kind(diagnosis, "io_bound")
""")
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*- concdoctor: 2 diagnoses -*",
        "test*target*kind*executor*workers*speedup*confirmed*xdist",
        "tests ran on 2 pytest-xdist workers sharing * CPUs: *speedups*lower*",
    ])
    rows = [line for line in result.stdout.lines if line.startswith("test_parallel.py::")]
    assert len(rows) == 2 and {row.split()[-1] for row in rows} == {"gw0", "gw1"}
    assert all("io_bound" in row for row in rows)


@pytest.mark.skipif(sys.platform == "win32", reason="the fork-based runner is POSIX only")
def test_fixture_works_in_this_session(concdoctor: object) -> None:
    """The fixture needs no conftest: it is here through the pytest11 entry point."""
    from concdoctor.pytest_plugin import ConcdoctorFixture

    assert isinstance(concdoctor, ConcdoctorFixture) and concdoctor.diagnoses == []
