"""The ``concdoctor`` command as a user runs it: a real subprocess from a fresh folder.

Every run carries a marker in its environment (inherited by the child runner, py-spy and
pool workers), so a process left over after a run is found even once re-parented.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import marked_processes, own_processes

from concdoctor import __version__

FAULTY = Path(__file__).resolve().parent / "targets" / "faulty.py"
MARK_VAR = "CONCDOCTOR_CLI_TEST_RUN"
SESSION = uuid.uuid4().hex
TIMEOUT = 60


def run(*args: str | Path, cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env.update({MARK_VAR: SESSION, "COLUMNS": "200"})
    try:
        return subprocess.run([sys.executable, "-m", "concdoctor", *map(str, args)],
                              check=False, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_marked()
        pytest.fail(f"concdoctor {' '.join(map(str, args))} ran past {timeout} s")


def explain(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, explain(done)
    assert "Traceback" not in done.stdout + done.stderr, explain(done)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line on stderr, got {len(lines)}:\n{done.stderr}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


# -- orphans --------------------------------------------------------------------------------

def _marked() -> dict[int, str]:
    return marked_processes(MARK_VAR, SESSION)


def _kill_marked() -> None:
    for pid in _marked():  # carries this module's marker: started by these tests
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 3.0
    while (_marked() or own_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    left, own = _marked(), own_processes()
    _kill_marked()
    assert not left, f"processes of a concdoctor run outlived it: {left}"
    assert not own, f"descendants of the test process remain: {own}"


# -- version and help ---------------------------------------------------------------------------

def test_version(tmp_path: Path) -> None:
    done = run("--version", cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    assert done.stdout.strip() == f"concdoctor {__version__}"


def test_profile_help(tmp_path: Path) -> None:
    done = run("profile", "--help", cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    for option in ("--inputs", "--inputs-from", "--repeat", "--rules", "--timeout",
                   "--no-confirm", "--json", "--report-dir", "--no-save", "--no-sampling"):
        assert option in done.stdout, f"{option} missing from profile --help"


def test_report_help(tmp_path: Path) -> None:
    done = run("report", "--help", cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    assert "--format" in done.stdout


# -- a successful run --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[
        subprocess.CompletedProcess[str], Path]:
    """One successful run from a fresh folder with the default report folder."""
    cwd = tmp_path_factory.mktemp("profile-cwd")
    done = run("profile", f"{FAULTY}:ok", "--inputs", "[0.05, 0.05, 0.05, 0.05]",
               "--trials", "1", "--json", "out.json", "-q", cwd=cwd)
    return done, cwd


def test_profile_writes_report_folder_and_json(
        profiled: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, cwd = profiled
    assert done.returncode == 0, explain(done)
    assert "Traceback" not in done.stdout + done.stderr
    assert "Recommended" in done.stdout, "the verdict is printed"
    folders = list((cwd / ".concdoctor").iterdir())
    assert len(folders) == 1, folders
    names = {p.name for p in folders[0].iterdir()}
    assert names == {"report.json", "report.html", "report.md", "profile.speedscope.json"}, names
    report = json.loads((folders[0] / "report.json").read_text(encoding="utf-8"))
    written = json.loads((cwd / "out.json").read_text(encoding="utf-8"))
    assert report == written
    assert report["schema_version"] == 1
    assert report["failure"] is None
    assert report["target"] == f"{FAULTY}:ok"
    assert report["recommendation"]["executor"]
    assert report["confirmation"] is not None
    speedscope = json.loads((folders[0] / "profile.speedscope.json").read_text("utf-8"))
    assert "speedscope" in speedscope.get("$schema", ""), list(speedscope)
    html = (folders[0] / "report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "faulty.py" in html
    assert "## concdoctor:" in (folders[0] / "report.md").read_text(encoding="utf-8")
    assert not [p for p in cwd.rglob("*") if p.name.endswith(".tmp")]


def test_profile_no_save_writes_nothing_but_the_json(tmp_path: Path) -> None:
    done = run("profile", f"{FAULTY}:ok", "--inputs", "[0.02, 0.02]", "--no-confirm",
               "--no-sampling", "--no-save", "--json", "only.json", "-q", cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only.json"]
    report = json.loads((tmp_path / "only.json").read_text(encoding="utf-8"))
    assert report["evidence"]["degraded"] is True
    assert "--no-sampling" in report["evidence"]["degraded_reason"]


def test_json_path_in_a_new_folder_is_created(tmp_path: Path) -> None:
    done = run("profile", f"{FAULTY}:ok", "--inputs", "[0.02]", "--no-confirm",
               "--no-sampling", "--no-save", "--json", "deep/er/r.json", "-q", cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    assert (tmp_path / "deep" / "er" / "r.json").is_file()


def test_unwritable_report_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run("profile", f"{FAULTY}:ok", "--inputs", "[0.02]", "--no-confirm",
               "--no-sampling", "--report-dir", blocker / "reports", "-q", cwd=tmp_path)
    assert_one_line_error(done, "cannot write the report", "--report-dir")


# -- concdoctor report ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["html", "md", "json", "terminal"])
def test_report_rerenders_a_saved_json(profiled: tuple[subprocess.CompletedProcess[str], Path],
                                       tmp_path: Path, fmt: str) -> None:
    _, cwd = profiled
    saved = cwd / "out.json"
    done = run("report", saved, "--format", fmt, cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    assert "Traceback" not in done.stderr
    text = done.stdout
    if fmt == "html":
        assert "<html" in text.lower() and "faulty.py:ok" in text
    elif fmt == "md":
        assert text.startswith("## concdoctor:") and "faulty.py:ok" in text
    elif fmt == "json":
        assert json.loads(text) == json.loads(saved.read_text(encoding="utf-8"))
    else:
        assert "Recommended" in text and "faulty.py:ok" in text
    out = tmp_path / f"again.{fmt}"
    done = run("report", saved, "--format", fmt, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, explain(done)
    if fmt != "terminal":
        assert out.read_text(encoding="utf-8").strip() == text.strip()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_of_schema_version_2_is_refused(
        profiled: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path) -> None:
    _, cwd = profiled
    data = json.loads((cwd / "out.json").read_text(encoding="utf-8"))
    data["schema_version"] = 2
    future = tmp_path / "future.json"
    future.write_text(json.dumps(data), encoding="utf-8")
    for fmt in ("html", "terminal"):
        done = run("report", future, "--format", fmt, cwd=tmp_path)
        assert_one_line_error(done, "future.json", "schema_version 2", "version 1",
                              "re-run 'concdoctor profile'")
    assert not done.stdout.strip(), "nothing is rendered from a report it cannot read"


def test_report_of_missing_file(tmp_path: Path) -> None:
    done = run("report", "nowhere.json", "--format", "html", cwd=tmp_path)
    assert_one_line_error(done, "nowhere.json", "No such file")


@pytest.mark.parametrize(("text", "fragment"), [
    ("{not json", "not a JSON report"),
    ('{"schema_version": 1}', "does not match schema version 1"),
    ("[1, 2]", "JSON object"),
])
def test_report_of_a_file_that_is_not_a_report(tmp_path: Path, text: str, fragment: str
                                               ) -> None:
    (tmp_path / "junk.json").write_text(text, encoding="utf-8")
    done = run("report", "junk.json", cwd=tmp_path)
    assert_one_line_error(done, "junk.json", fragment)


# -- click-level usage errors ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    pytest.param(["profile", "m:f", "--inputs", "[1]", "--bogus"], id="unknown-option"),
    pytest.param(["profile", "m:f", "--inputs", "[1]", "--timeout", "0"], id="timeout-too-small"),
    pytest.param(["profile", "m:f", "--inputs", "[1]", "--trials", "zero"], id="trials-not-int"),
    pytest.param(["report", "x.json", "--format", "pdf"], id="unknown-format"),
    pytest.param(["profile"], id="missing-target"),
    pytest.param(["frobnicate"], id="unknown-command"),
])
def test_bad_command_line_is_exit_2_without_traceback(tmp_path: Path, args: list[str]) -> None:
    done = run(*args, cwd=tmp_path)
    assert "Traceback" not in done.stdout + done.stderr, explain(done)
    assert done.returncode == 2, explain(done)
    assert done.stderr.strip(), "the error is explained on stderr"


# -- last: nothing left ---------------------------------------------------------------------------

FAKE_CHILD = """
import json, os, sys
with os.fdopen(int(sys.argv[3]), "w") as answers:
    ready = {"type": "ready", "protocol": 0, "location": os.path.dirname(__file__)}
    answers.write(json.dumps(ready) + "\\n")
"""


def test_a_child_that_imports_another_concdoctor_is_refused(tmp_path: Path) -> None:
    """The child finds the user's folder first on sys.path: an old copy of concdoctor
    there speaks another protocol, and the run says so in one line."""
    fake = tmp_path / "concdoctor"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "child.py").write_text(FAKE_CHILD)
    script = Path(sys.executable).parent / "concdoctor"
    env = {**os.environ, MARK_VAR: SESSION}
    done = subprocess.run([str(script), "profile", f"{FAULTY}:ok", "--inputs", "[1]",
                           "--no-save"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)
    assert_one_line_error(done, str(fake), "protocol 0", "sys.path")


def test_zz_no_orphans_after_the_module() -> None:
    assert not _marked(), f"processes from this module's runs remain: {_marked()}"
    assert not own_processes()
