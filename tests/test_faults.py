"""Failure modes, end to end: the real CLI in a subprocess against misbehaving targets.

Every run of the CLI gets a marker in its environment, which the child runner, py-spy,
pool workers and any grandchild inherit; a process carrying the marker after the run is
an orphan. Each run also gets a TMPDIR of its own, so leftover temporary files show.
Targets live in tests/targets/faulty.py (a plain folder, used as path targets).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import conftest
import pytest
from conftest import own_processes

from concdoctor import api
from concdoctor.baseline import stacks as sampling

TARGETS = Path(__file__).resolve().parent / "targets"
FAULTY = TARGETS / "faulty.py"
MARK_VAR = "CONCDOCTOR_FAULTS_TEST_RUN"
SESSION = uuid.uuid4().hex
RUN_TIMEOUT = 60.0
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def target(name: str, path: Path = FAULTY) -> str:
    return f"{path}:{name}"


# -- process bookkeeping ----------------------------------------------------------------

def marked_processes(prefix: str) -> dict[int, str]:
    return conftest.marked_processes(MARK_VAR, prefix)


def wait_until_gone(prefix: str, grace: float = 3.0) -> dict[int, str]:
    """Marked processes still alive after ``grace`` seconds (killed, then returned)."""
    deadline = time.monotonic() + grace
    left = marked_processes(prefix)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = marked_processes(prefix)
    for pid in left:  # started by this suite (they carry its marker): clean up, then fail
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


# -- running the CLI --------------------------------------------------------------------

@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    tmpdir: Path
    json_path: Path | None = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def report(self) -> dict[str, Any]:
        assert self.json_path is not None and self.json_path.is_file(), (
            f"no JSON report was written\n{self.output[-3000:]}")
        return json.loads(self.json_path.read_text(encoding="utf-8"))

    def explain(self) -> str:
        return f"exit {self.returncode} after {self.seconds:.1f} s\n{self.output[-4000:]}"


@dataclass
class Cli:
    """Runs ``python -m concdoctor`` in a subprocess, from ``cwd``, with a marker."""

    cwd: Path
    token: str
    tmpdir: Path
    python: str = sys.executable
    env_changes: dict[str, str] = field(default_factory=dict)

    def env(self, **changes: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FORCE_COLOR", None)
        env.update({MARK_VAR: self.token, "TMPDIR": str(self.tmpdir), "COLUMNS": "250"})
        env.update(self.env_changes)
        env.update(changes)
        return env

    def command(self, *args: str | Path, python: str | None = None) -> list[str]:
        return [python or self.python, "-m", "concdoctor", *map(str, args)]

    def run(self, *args: str | Path, timeout: float = RUN_TIMEOUT, python: str | None = None,
            env: dict[str, str] | None = None, json_path: Path | None = None,
            stdin: Any = subprocess.DEVNULL) -> Result:
        if json_path is not None:
            args = (*args, "--json", str(json_path))
        if stdin == "open":
            return self._run_with_open_stdin(list(args), timeout, python, env, json_path)
        start = time.monotonic()
        try:
            done = subprocess.run(self.command(*args, python=python), check=False, cwd=self.cwd,
                                  env=self.env(**(env or {})), stdin=stdin,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            wait_until_gone(self.token, grace=0)
            out = (exc.stdout or b"")[-2000:] + (exc.stderr or b"")[-2000:]
            pytest.fail(f"concdoctor {' '.join(map(str, args))} ran past {timeout} s: "
                        f"{out.decode('utf-8', 'replace')}")
        return Result(done.returncode, done.stdout.decode("utf-8", "replace"),
                      done.stderr.decode("utf-8", "replace"), time.monotonic() - start,
                      self.tmpdir, json_path)

    def _run_with_open_stdin(self, args: list[str | Path], timeout: float, python: str | None,
                             env: dict[str, str] | None, json_path: Path | None) -> Result:
        """Like ``run``, but stdin is a pipe that stays open, as a terminal would."""
        out_path, err_path = self.tmpdir.parent / "stdout.txt", self.tmpdir.parent / "stderr.txt"
        start = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(self.command(*args, python=python), cwd=self.cwd,
                                       env=self.env(**(env or {})), stdin=subprocess.PIPE,
                                       stdout=out, stderr=err)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            wait_until_gone(self.token, grace=0)
            pytest.fail(f"concdoctor {' '.join(map(str, args))} ran past {timeout} s with "
                        "stdin open")
        finally:
            assert process.stdin is not None
            process.stdin.close()
        return Result(process.returncode, out_path.read_text(errors="replace"),
                      err_path.read_text(errors="replace"), time.monotonic() - start,
                      self.tmpdir, json_path)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """A CLI runner from a fresh cwd; after the test, no process of its runs may live."""
    cwd = tmp_path / "cwd"
    tmpdir = tmp_path / "tmpdir"
    cwd.mkdir()
    tmpdir.mkdir()
    runner = Cli(cwd=cwd, token=f"{SESSION}-{uuid.uuid4().hex[:12]}", tmpdir=tmpdir)
    yield runner
    left = wait_until_gone(runner.token)
    assert not left, f"processes of this test outlived their concdoctor run: {left}"


@pytest.fixture(autouse=True)
def no_descendants_left() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 3.0
    left = own_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = own_processes()
    assert not left, f"child processes of the test process remain: " \
                     f"{ {pid: conftest.cmdline(pid) for pid in left} }"


def leftovers(tmpdir: Path) -> list[str]:
    return sorted(str(p.relative_to(tmpdir)) for p in tmpdir.rglob("*"))


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.returncode == 2, result.explain()
    assert "Traceback" not in result.output, result.explain()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line on stderr, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("concdoctor: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


# -- usage errors: exit 2, one line, no traceback ----------------------------------------

SYNTAX_ERROR = "def f(x):\n    return (x\n"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(["no_such_module_zz9:func", "--inputs", "[1]"],
                     ["'no_such_module_zz9'", "not found", "run from the directory"],
                     id="module-not-found"),
        pytest.param([target("no_such_function"), "--inputs", "[1]"],
                     ["no attribute 'no_such_function'", "it has:", "ask_input"],
                     id="attribute-missing"),
        pytest.param([target("NOT_CALLABLE"), "--inputs", "[1]"],
                     ["NOT_CALLABLE", "is int, not a function", "name a callable"],
                     id="not-callable"),
        pytest.param(["{syntax}:f", "--inputs", "[1]"],
                     ["syntax error", "broken.py:2", "fix the file"], id="syntax-error"),
        pytest.param([target("ok"), "--inputs", "[1, 2"],
                     ["--inputs is not valid JSON", "pass a JSON list"], id="bad-json"),
        pytest.param([target("ok")], ["no inputs", "--inputs", "--inputs-from", "--repeat"],
                     id="no-inputs-option"),
        pytest.param([target("ok"), "--inputs", '{"a": 1}'],
                     ["must be a JSON list", "got dict", "wrap it in [...]"],
                     id="inputs-not-a-list"),
        pytest.param([target("ok"), "--inputs", "[]"], ["empty", "at least one item"],
                     id="inputs-empty"),
        pytest.param([target("two_args"), "--inputs", "[1, 2]"],
                     ["two_args(a, b)", "cannot be called with one argument"],
                     id="too-many-parameters"),
        pytest.param([target("no_args"), "--inputs", "[1, 2]"],
                     ["no_args()", "cannot be called with one argument", "--repeat"],
                     id="no-parameters-but-inputs"),
        pytest.param([target("ok"), "--repeat", "2"],
                     ["ok(x)", "cannot be called with no arguments", "--inputs"],
                     id="repeat-but-needs-argument"),
        pytest.param([target("ok"), "--inputs", "[1]", "--repeat", "2"],
                     ["only one of", "--inputs", "--repeat"], id="two-inputs-options"),
        pytest.param([target("use_lock"), "--inputs-from", target("NO_SUCH_INPUTS")],
                     ["--inputs-from", "no attribute 'NO_SUCH_INPUTS'"],
                     id="inputs-from-missing"),
        pytest.param(["not a target", "--inputs", "[1]"],
                     ["is not of the form", "package.module:function"], id="no-colon"),
        pytest.param(["missing/file.py:f", "--inputs", "[1]"],
                     ["'missing/file.py' not found", "check the path"], id="file-missing"),
    ],
)
def test_usage_error_is_one_line_exit_2(cli: Cli, args: list[str], fragments: list[str]
                                        ) -> None:
    broken = cli.cwd / "broken.py"
    broken.write_text(SYNTAX_ERROR, encoding="utf-8")
    args = [arg.replace("{syntax}", str(broken)) for arg in args]
    result = cli.run("profile", *args, "--no-confirm", "--no-save",
                     json_path=cli.cwd / "out.json")
    assert_usage_error(result, *fragments)
    assert not (cli.cwd / "out.json").exists(), "a usage error must not write a report"
    assert not (cli.cwd / ".concdoctor").exists(), "a usage error must not write a report"


# -- the target raises ---------------------------------------------------------------------

def test_target_raises_exit_1_with_its_traceback_and_failing_input(cli: Cli) -> None:
    result = cli.run("profile", target("raise_on_13"), "--inputs", "[10, 11, 12, 13, 14]",
                     "--no-save", json_path=cli.cwd / "out.json")
    out = result.output
    for fragment in ("input #3", "(13)", "ValueError: the value 13 is unlucky",
                     "faulty.py", "in raise_on_13", 'raise ValueError(f"the value {x}'):
        assert fragment in out, f"{fragment!r} missing from the output\n{result.explain()}"
    for internal in ("concdoctor/pipeline.py", "concdoctor/child/", "concdoctor/cli.py"):
        assert internal not in out, f"concdoctor's own frames are shown\n{result.explain()}"
    report = result.report()
    assert report["failure"]["phase"] == "baseline"
    assert "#3" in report["failure"]["message"] and "13" in report["failure"]["message"]
    assert "in raise_on_13" in report["failure"]["detail"]
    assert report["confirmation"] is None, "a target that raised must not be confirmed"
    assert report["recommendation"] is None
    assert result.returncode == 1, result.explain()


# -- the target hangs ------------------------------------------------------------------------

@pytest.mark.parametrize(("func", "inputs", "phase"), [
    ("hang_on_2", "[1, 2, 3]", "baseline"),
    ("hang_with_grandchild", "[1, 2, 3]", "baseline"),
    ("hang_in_pool", "[1, 2, 3, 4]", "confirm"),
])
def test_timeout_ends_the_tree_and_reports_the_phase(cli: Cli, func: str, inputs: str,
                                                     phase: str) -> None:
    args = ["profile", target(func), "--inputs", inputs, "--timeout", "3", "--trials", "1",
            "--no-save", "-q"]
    if phase == "baseline":
        args.append("--no-confirm")
    result = cli.run(*args, json_path=cli.cwd / "out.json", timeout=45)
    left = wait_until_gone(cli.token, grace=1.0)
    assert not left, f"the timeout left processes running: {left}"
    assert "Traceback" not in result.output, result.explain()
    assert result.seconds < 30, result.explain()
    failure = result.report()["failure"]
    assert failure is not None, result.explain()
    assert failure["phase"].startswith(phase), failure
    assert "timeout" in failure["message"], failure
    assert "timeout" in result.output
    assert result.returncode == 1, result.explain()


# -- the target crashes the interpreter ---------------------------------------------------

@pytest.mark.parametrize(("func", "expected"), [
    ("segfault", "SIGSEGV"),
    ("null_read", "SIGSEGV"),
    ("exit_3", "code 3"),
])
def test_interpreter_crash_is_reported_and_concdoctor_survives(cli: Cli, func: str,
                                                               expected: str) -> None:
    result = cli.run("profile", target(func), "--inputs", "[0, 1, 2]", "--no-save",
                     json_path=cli.cwd / "out.json")
    assert "Traceback" not in result.output, result.explain()
    assert expected in result.output, result.explain()
    failure = result.report()["failure"]
    assert failure["phase"] == "baseline" and expected in failure["message"], failure
    assert result.returncode == 1, result.explain()


# -- unpicklable function, inputs or results ------------------------------------------------

@pytest.mark.parametrize("args", [
    pytest.param([target("make_generator"), "--inputs", "[0.05, 0.05, 0.05, 0.05]"],
                 id="result-generator"),
    pytest.param([target("make_lock"), "--inputs", "[0.05, 0.05, 0.05, 0.05]"],
                 id="result-lock"),
    pytest.param([target("use_lock"), "--inputs-from", target("LOCKS")], id="inputs-locks"),
    pytest.param([target("closure"), "--inputs", "[0.05, 0.05, 0.05, 0.05]"],
                 id="function-closure"),
])
def test_unpicklable_skips_process_and_measures_the_rest(cli: Cli, args: list[str]) -> None:
    result = cli.run("profile", *args, "--compare", "all,loky", "--trials", "1", "--no-save",
                     "-q", json_path=cli.cwd / "out.json")
    assert result.returncode == 0, result.explain()
    report = result.report()
    assert report["failure"] is None, report["failure"]
    results = {row["executor"]: row for row in report["confirmation"]["results"]}
    assert "process" in results, results
    assert results["process"]["skipped"] and "pickle" in results["process"]["skipped"], results
    assert results["process"]["median_seconds"] is None
    assert results["thread"]["skipped"] is None, results
    assert results["thread"]["median_seconds"] is not None, results
    assert report["recommendation"]["executor"] != "process"
    loky = results["loky"]  # ships by value: a closure goes, a lock or a generator does not
    if "closure" in args[0]:
        assert loky["skipped"] is None and loky["check"]["status"] == "same", loky
        assert "loky" in results["process"]["skipped"]  # the fix, beside the cause
    else:
        assert loky["skipped"] and "even by value" in loky["skipped"], loky


# -- py-spy missing or not allowed -----------------------------------------------------------

FAKE_PY_SPY = "#!/bin/sh\necho 'Error: Permission Denied'\nexit 1\n"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A Python whose bin folder has no py-spy (a venv that sees this venv's packages),
    and a PATH without py-spy on it."""
    root = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
                   check=True, timeout=60, capture_output=True)
    python = root / "venv" / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([str(python), "-c", code], check=True, timeout=30,
                             capture_output=True, text=True).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    Path(purelib, "_concdoctor_test_link.pth").write_text(
        f"import site; site.addsitedir({here!r})\n", encoding="utf-8")
    path = os.pathsep.join([str(python.parent)] + [
        entry for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not os.path.exists(os.path.join(entry, "py-spy"))])
    code = "from concdoctor.baseline.stacks import find_py_spy; print(find_py_spy())"
    found = subprocess.run([str(python), "-c", code], env={**os.environ, "PATH": path},
                           check=True, timeout=30, capture_output=True, text=True)
    assert found.stdout.strip() == "None", f"py-spy still found: {found.stdout}"
    return str(python), path


@pytest.fixture
def fake_py_spy(tmp_path: Path) -> Path:
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "py-spy"
    script.write_text(FAKE_PY_SPY, encoding="utf-8")
    script.chmod(0o755)
    return script


def assert_degraded(report: dict[str, Any], *fragments: str) -> None:
    assert report["failure"] is None, report["failure"]
    evidence = report["evidence"]
    assert evidence["degraded"] is True, evidence
    for fragment in fragments:
        assert fragment in (evidence["degraded_reason"] or ""), evidence["degraded_reason"]
    assert report["classification"] is not None
    assert report["recommendation"] is not None
    assert any("degraded" in note for note in report["notes"]), report["notes"]


def test_cli_without_py_spy_completes_degraded(cli: Cli, bare_python: tuple[str, str]
                                               ) -> None:
    python, path = bare_python
    result = cli.run("profile", target("ok"), "--inputs", "[0.05, 0.05, 0.05, 0.05]",
                     "--no-confirm", "--no-save", "-q", python=python, env={"PATH": path},
                     json_path=cli.cwd / "out.json")
    assert result.returncode == 0, result.explain()
    assert_degraded(result.report(), "py-spy is not installed", "pip install py-spy")


def test_cli_with_py_spy_not_allowed_completes_degraded(
        cli: Cli, bare_python: tuple[str, str], fake_py_spy: Path) -> None:
    python, path = bare_python
    result = cli.run("profile", target("ok"), "--inputs", "[0.05, 0.05, 0.05, 0.05]",
                     "--no-confirm", "--no-save", "-q", python=python,
                     env={"PATH": f"{fake_py_spy.parent}{os.pathsep}{path}"},
                     json_path=cli.cwd / "out.json")
    assert result.returncode == 0, result.explain()
    assert_degraded(result.report(), "Permission Denied", "ptrace_scope=0", "SYS_PTRACE")


@pytest.mark.parametrize("how", ["missing", "not-allowed"])
def test_api_degrades_when_py_spy_is_unusable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              fake_py_spy: Path, how: str) -> None:
    monkeypatch.chdir(tmp_path)
    binary = None if how == "missing" else str(fake_py_spy)
    monkeypatch.setattr(sampling, "find_py_spy", lambda: binary)
    diagnosis = api.profile(target("ok"), [0.05] * 4, confirm=False, timeout=30)
    fragments = (("pip install py-spy",) if how == "missing"
                 else ("Permission Denied", "ptrace_scope=0"))
    assert_degraded(json.loads(diagnosis.to_json()), *fragments)


# -- Ctrl-C and SIGTERM ------------------------------------------------------------------------

def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _interrupt(cli: Cli, signum: int, func: str, inputs: str, phase_text: str,
               extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen[bytes], str, Path,
                                                     dict[int, str]]:
    reports = cli.cwd / "reports"
    err_path = cli.tmpdir.parent / "stderr.txt"
    with open(err_path, "wb") as err, open(cli.tmpdir.parent / "stdout.txt", "wb") as out:
        process = subprocess.Popen(
            cli.command("profile", target(func), "--inputs", inputs, "--report-dir", reports,
                        "--json", cli.cwd / "out.json", *extra),
            cwd=cli.cwd, env=cli.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    seen: dict[int, str] = {}
    try:
        def ready() -> bool:
            seen.update(marked_processes(cli.token))
            if process.poll() is not None:
                pytest.fail(f"concdoctor ended early: {err_path.read_text()}")
            return phase_text in err_path.read_text(errors="replace")

        _wait_for(ready, 30, phase_text)
        time.sleep(0.5)
        seen.update(marked_processes(cli.token))
        process.send_signal(signum)
        process.wait(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process, err_path.read_text(errors="replace"), reports, seen


@pytest.mark.parametrize(("signum", "code", "func", "inputs", "phase_text", "extra"), [
    pytest.param(signal.SIGINT, 130, "ok", str([0.5] * 20), "running 20 tasks sequentially",
                 ("--no-confirm",), id="SIGINT-baseline"),
    pytest.param(signal.SIGTERM, 143, "ok", str([0.5] * 20), "running 20 tasks sequentially",
                 ("--no-confirm",), id="SIGTERM-baseline"),
    pytest.param(signal.SIGINT, 130, "hang_in_pool", "[1, 2, 3, 4]", "measuring thread",
                 ("--trials", "1"), id="SIGINT-confirm"),
])
def test_signal_ends_every_child_and_writes_no_partial_files(
        cli: Cli, signum: int, code: int, func: str, inputs: str, phase_text: str,
        extra: tuple[str, ...]) -> None:
    process, stderr, reports, seen = _interrupt(cli, signum, func, inputs, phase_text, extra)
    assert any("concdoctor.child" in cmd for cmd in seen.values()), seen
    if phase_text.startswith("running"):
        assert sum("py-spy" in cmd for cmd in seen.values()) >= 3, seen
    left = wait_until_gone(cli.token, grace=1.0)
    assert not left, f"processes outlived the interrupted run: {left}"
    assert "Traceback" not in stderr, stderr
    files = [p for p in cli.cwd.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp") or p.name.startswith(".")], files
    if reports.exists():
        for folder in reports.iterdir():
            names = {p.name for p in folder.iterdir()}
            assert {"report.json", "report.html", "report.md"} <= names, names
            json.loads((folder / "report.json").read_text(encoding="utf-8"))
    if (cli.cwd / "out.json").exists():
        json.loads((cli.cwd / "out.json").read_text(encoding="utf-8"))
    assert process.returncode == code, f"exit {process.returncode}, want {code}\n{stderr}"
    assert "interrupted" in stderr, stderr


# -- temporary files --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["completes", "target-raises", "sigint"])
def test_no_temporary_files_are_left_behind(cli: Cli, how: str) -> None:
    """py-spy's raw output goes to a temporary folder: it must go, however the run ends."""
    if how == "sigint":
        _interrupt(cli, signal.SIGINT, "ok", str([0.5] * 20), "running 20 tasks sequentially",
                   ("--no-confirm",))
    else:
        func, inputs = (("ok", "[0.05, 0.05, 0.05]") if how == "completes"
                        else ("raise_on_13", "[10, 11, 12, 13, 14]"))
        cli.run("profile", target(func), "--inputs", inputs, "--no-confirm", "--no-save", "-q")
    assert leftovers(cli.tmpdir) == [], f"left in TMPDIR: {leftovers(cli.tmpdir)}"


# -- hostile or malformed rules files ----------------------------------------------------------

RULE_CASES = [
    pytest.param('version = 1\n[[rule]]\nid = "broken\n', ["invalid TOML", "line 3"],
                 id="malformed-toml"),
    pytest.param('version = 1\n\n[[rule]]\nid = "fine"\nexecutor = "thread"\nreason = "ok"\n\n'
                 '[[rule]]\nid = "odd-metric"\nexecutor = "thread"\nwhen = { bogus = 3 }\n'
                 'reason = "x"\n', ["'odd-metric'", ":8:", "line 11", "unknown metric 'bogus'"],
                 id="unknown-metric"),
    pytest.param('[[rule]]\nid = "odd-op"\nexecutor = "thread"\n'
                 'when = { tasks = { "~=" = 3 } }\nreason = "x"\n',
                 ["'odd-op'", ":1:", "line 4", "unknown operator '~='"], id="unknown-operator"),
    pytest.param('[[rule]]\nid = "gpu"\nexecutor = "gpu"\nreason = "x"\n',
                 ["'gpu'", ":1:", "unknown executor 'gpu'"], id="unknown-executor"),
    pytest.param('[[rule]]\nid = "evil-reason"\nexecutor = "thread"\n'
                 'reason = "{__import__(\'os\').system(\'touch PWNED\')}"\n',
                 ["'evil-reason'", ":1:", "not a placeholder"], id="hostile-reason"),
    pytest.param('[[rule]]\nid = "evil-advice"\nexecutor = "thread"\nreason = "x"\n'
                 'advice = "{tasks.__class__.__mro__}"\n',
                 ["'evil-advice'", ":1:", "not a placeholder"], id="hostile-advice"),
    pytest.param('[[rule]]\nid = "evil-workers"\nexecutor = "thread"\nreason = "x"\n'
                 'workers = "__import__(\'os\').system(\'touch PWNED\')"\n',
                 ["'evil-workers'", ":1:", "workers", "unknown name '__import__'"],
                 id="hostile-workers"),
    pytest.param('[[rule]]\nid = "evil-chunk"\nexecutor = "process"\nreason = "x"\n'
                 'chunksize = "exec(\'open(\\"PWNED\\", \\"w\\")\')"\n',
                 ["'evil-chunk'", ":1:", "chunksize", "unknown name 'exec'"],
                 id="hostile-chunksize"),
    pytest.param('[[rule]]\nid = "evil-kind"\nexecutor = "thread"\nreason = "x"\n'
                 'when = { kind = "__import__(\'os\').system(\'touch PWNED\')" }\n',
                 ["'evil-kind'", ":1:", "unknown kind"], id="hostile-condition"),
    pytest.param('[alternatives]\nthread = "__import__(\'os\').system(\'touch PWNED\')"\n',
                 ["alternatives", "unknown name '__import__'"], id="hostile-alternatives"),
]


@pytest.mark.parametrize(("text", "fragments"), RULE_CASES)
def test_bad_rules_file_is_a_load_error_and_never_runs(cli: Cli, text: str,
                                                       fragments: list[str]) -> None:
    pwned = cli.cwd / "pwned"
    rules = cli.cwd / "my-rules.toml"
    rules.write_text(text.replace("PWNED", str(pwned)), encoding="utf-8")
    result = cli.run("profile", target("ok"), "--inputs", "[0.01, 0.01]", "--rules", rules,
                     "--no-confirm", "--no-save")
    assert_usage_error(result, str(rules), *fragments)
    assert not pwned.exists(), "the rules file ran code"


# -- markup in names, paths and exception text ---------------------------------------------------

def test_markup_is_escaped_in_html_and_markdown(cli: Cli) -> None:
    odd = cli.cwd / f"x{IMG}&'q.py"
    shutil.copyfile(FAULTY, odd)
    report_dir = cli.cwd / "reports"
    result = cli.run("profile", f"{odd}:raise_markup", "--inputs", "[0, 1, 2]", "-q",
                     "--report-dir", report_dir, json_path=cli.cwd / "out.json")
    saved = result.report()
    assert SCRIPT in saved["failure"]["message"] and IMG in saved["target"]
    rendered = {}
    for fmt in ("html", "md"):
        again = cli.run("report", cli.cwd / "out.json", "--format", fmt)
        assert again.returncode == 0, again.explain()
        rendered[fmt] = again.stdout
    (folder,) = report_dir.iterdir()
    rendered["saved html"] = (folder / "report.html").read_text(encoding="utf-8")
    rendered["saved md"] = (folder / "report.md").read_text(encoding="utf-8")
    for name, text in rendered.items():
        assert SCRIPT not in text, f"raw <script> in the {name} report"
        assert IMG not in text, f"raw <img> from the file name in the {name} report"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text or (
            "&lt;script&gt;alert(1)&lt;\\/script&gt;" in text), f"message missing in {name}"
        assert "raise_markup" in text


# -- megabytes of output, and stdin ---------------------------------------------------------------

def test_flood_of_output_is_captured_not_shown(cli: Cli) -> None:
    result = cli.run("profile", target("flood"), "--inputs", "[1, 2]", "--no-confirm",
                     "--no-save", json_path=cli.cwd / "out.json", timeout=90)
    assert result.returncode == 0, result.explain()
    size = len(result.stdout.encode()) + len(result.stderr.encode())
    assert size < 200_000, f"{size} bytes reached the terminal"
    notes = " ".join(result.report()["notes"])
    assert "bytes to stdout" in notes and "bytes to stderr" in notes, notes


@pytest.mark.parametrize("func", ["ask_input", "read_stdin"])
def test_target_reading_stdin_does_not_hang(cli: Cli, func: str) -> None:
    """stdin stays open (like a terminal): the target must not wait on it."""
    result = cli.run("profile", target(func), "--inputs", "[1, 2]", "--no-confirm",
                     "--no-save", "-q", json_path=cli.cwd / "out.json",
                     stdin="open", timeout=60)
    assert result.returncode in (0, 1), result.explain()
    assert len(result.output.encode()) < 200_000
    report = result.report()
    if result.returncode == 1:
        assert "EOFError" in report["failure"]["message"], report["failure"]


# -- last: nothing of this module's runs is left -------------------------------------------------

def test_zz_no_orphans_after_the_module() -> None:
    left = wait_until_gone(SESSION, grace=2.0)
    assert not left, f"processes from this module's runs remain: {left}"
    stray = {pid: conftest.cmdline(pid) for pid in own_processes()}
    assert not stray, f"descendants of the test process remain: {stray}"
