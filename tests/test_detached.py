"""Nothing the target starts outlives concdoctor, however it detaches it.

The end-to-end tests run the real CLI in a subprocess against targets that start a
helper per call in a session of their own, by a double fork, or one that ignores
SIGTERM (tests/targets/detached.py), with the child's own cgroup where this machine
allows one and with the subreaper alone (the cgroup turned off). Every run carries a
marker in its environment, which the child, its helpers and their helpers inherit: a
marked process alive after the run is one that escaped. The unit tests drive the
process-table code and the report's note directly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conftest
import pytest

from concdoctor import cgroup, descendants
from concdoctor.conclude import findings
from concdoctor.diagnosis import Diagnosis, Environment, Leftover, Workload
from concdoctor.render import get_renderer

TARGETS = Path(__file__).resolve().parent / "targets"
DETACHED = TARGETS / "detached.py"
HELPER = "concdoctor-detached-helper"
MARK_VAR = "CONCDOCTOR_DETACHED_TEST_RUN"
SESSION = uuid.uuid4().hex
RUN_TIMEOUT = 90.0
NO_CGROUP = ("import sys; from pathlib import Path; import concdoctor.cgroup as c; "
             "c.MOUNTINFO = Path('/nonexistent'); from concdoctor.cli import main; "
             "main(sys.argv[1:])")
"""The CLI with cgroups out of reach, as on a machine that offers none."""
HOLDERS = ["cgroup", "subreaper"]


# -- running the CLI and reading the process table -----------------------------------------

@dataclass
class Run:
    returncode: int
    output: str
    pid: int
    json_path: Path

    def report(self) -> dict[str, Any]:
        assert self.json_path.is_file(), f"no JSON report\n{self.output[-3000:]}"
        return json.loads(self.json_path.read_text(encoding="utf-8"))


@dataclass
class Cli:
    cwd: Path
    token: str
    holder: str = "cgroup"

    def start(self, *args: str | Path) -> tuple[subprocess.Popen[bytes], Path]:
        prefix = ["-m", "concdoctor"] if self.holder == "cgroup" else ["-c", NO_CGROUP]
        out = self.cwd / "output.txt"
        env = {**os.environ, MARK_VAR: self.token, "COLUMNS": "250"}
        env.pop("FORCE_COLOR", None)
        with open(out, "wb") as sink:
            process = subprocess.Popen(
                [sys.executable, *prefix, "profile", *map(str, args), "--no-save",
                 "--json", str(self.cwd / "out.json")],
                cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT)
        return process, out

    def run(self, *args: str | Path) -> Run:
        process, out = self.start(*args)
        try:
            process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"concdoctor ran past {RUN_TIMEOUT} s: {out.read_text()[-3000:]}")
        return Run(process.returncode, out.read_text(errors="replace"), process.pid,
                   self.cwd / "out.json")

    def marked(self) -> dict[int, str]:
        return conftest.marked_processes(MARK_VAR, self.token)

    def helpers(self) -> dict[int, str]:
        return {pid: cmd for pid, cmd in self.marked().items() if HELPER in cmd}


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_until_gone(cli: Cli, grace: float = 5.0) -> dict[int, str]:
    """Marked processes still alive after ``grace`` seconds (killed, then returned)."""
    deadline = time.monotonic() + grace
    left = cli.marked()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = cli.marked()
    kill_all(list(left))
    return left


def cgroups_of(pid: int) -> list[Path]:
    """Cgroup folders a concdoctor process ``pid`` made and left behind."""
    home = cgroup.home()
    return sorted(home.glob(f"{cgroup.PREFIX}{pid}-*")) if home is not None else []


@pytest.fixture(params=HOLDERS)
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    if request.param == "cgroup" and cgroup.home() is None:
        pytest.skip("no writable cgroup2 here: the subreaper runs are the test")
    runner = Cli(tmp_path, f"{SESSION}-{uuid.uuid4().hex[:12]}", request.param)
    yield runner
    left = wait_until_gone(runner, grace=1.0)
    assert not left, f"processes of this test outlived their concdoctor run: {left}"


def assert_helpers_ended(run: Run, cli: Cli, least: int) -> list[dict[str, Any]]:
    """Nothing of the run is left; the report names the helpers, ended, and says so."""
    left = wait_until_gone(cli)
    assert not left, f"left running after the run: {left}\n{run.output[-3000:]}"
    assert not cgroups_of(run.pid), cgroups_of(run.pid)
    report = run.report()
    assert report["environment"]["containment"] == cli.holder, report["environment"]
    rows = [row for row in report["left_running"] if HELPER in row["command"]]
    assert rows, (report["left_running"], run.output[-3000:])
    assert all(not row["kept"] and len(row["command"]) <= 80 for row in rows), rows
    assert sum(row["count"] for row in rows) >= least, rows
    note = next((n for n in report["notes"] if "left processes running" in n), "")
    assert "ended by concdoctor" in note and HELPER[:10] in note, report["notes"]
    assert "left processes running" in run.output, run.output[-3000:]
    return rows


# -- end to end: the helpers are ended, and named -------------------------------------------

@pytest.mark.e2e
@pytest.mark.parametrize("func", ["new_session", "double_fork", "ignores_term"])
def test_helpers_left_running_are_ended_and_named(cli: Cli, func: str) -> None:
    run = cli.run(f"{DETACHED}:{func}", "--inputs", "[1, 2, 3]", "--no-confirm", "-q")
    assert run.returncode == 0, run.output[-3000:]
    assert_helpers_ended(run, cli, least=3)  # one per call of the baseline at least


@pytest.mark.e2e
def test_every_trial_leaves_its_own_and_each_is_ended(cli: Cli) -> None:
    """The confirmation runs the batch again: its helpers are ended after each run."""
    run = cli.run(f"{DETACHED}:new_session", "--inputs", "[1, 2, 3, 4]", "--trials", "1",
                  "-q")
    assert run.returncode == 0, run.output[-3000:]
    assert run.report()["confirmation"] is not None
    assert_helpers_ended(run, cli, least=8)  # the baseline's and the trial's


@pytest.mark.e2e
def test_a_timeout_ends_the_helpers_too(cli: Cli) -> None:
    run = cli.run(f"{DETACHED}:new_session_then_hang", "--inputs", "[1, 2, 3, 4]",
                  "--timeout", "3", "--no-confirm", "-q")
    assert run.returncode == 1, run.output[-3000:]
    assert "timeout" in run.report()["failure"]["message"]
    assert_helpers_ended(run, cli, least=3)  # inputs 1 and 2, and 3 that hangs


@pytest.mark.e2e
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_ends_the_helpers(cli: Cli, signum: int, code: int) -> None:
    process, out = cli.start(f"{DETACHED}:new_session_then_hang", "--inputs",
                             "[1, 2, 3, 4]", "--no-confirm")
    try:
        deadline = time.monotonic() + 60
        while len(cli.helpers()) < 3:  # the target hangs on its third call
            assert process.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, "the helpers never started"
            time.sleep(0.05)
        process.send_signal(signum)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, out.read_text()[-3000:]
    left = wait_until_gone(cli)
    assert not left, f"left running after the interrupted run: {left}"
    assert not cgroups_of(process.pid), cgroups_of(process.pid)


@pytest.mark.e2e
def test_keep_detached_leaves_them_running_and_says_so(cli: Cli) -> None:
    run = cli.run(f"{DETACHED}:new_session", "--inputs", "[1, 2, 3]", "--no-confirm",
                  "--keep-detached", "-q")
    helpers = cli.helpers()
    try:
        assert run.returncode == 0, run.output[-3000:]
        rows = [row for row in run.report()["left_running"] if HELPER in row["command"]]
        assert rows and all(row["kept"] for row in rows), rows
        assert sum(row["count"] for row in rows) == len(helpers) >= 3, (rows, helpers)
        assert "--keep-detached" in " ".join(run.report()["notes"])
        for pid in helpers:  # moved out of the child's cgroup, which is gone
            assert cgroup.PREFIX not in Path(f"/proc/{pid}/cgroup").read_text()
        assert not cgroups_of(run.pid)
    finally:
        kill_all(list(helpers))


# -- a traceback of the inputs shows the user's frames ------------------------------------------

def test_inputs_that_raise_show_only_the_users_frames(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = subprocess.run(
        [sys.executable, "-m", "concdoctor", "profile", f"{DETACHED}:ok", "--inputs-from",
         f"{DETACHED}:broken_inputs", "--no-save", "--json", str(out)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=RUN_TIMEOUT)
    assert done.returncode == 1, done.stdout + done.stderr
    detail = json.loads(out.read_text(encoding="utf-8"))["failure"]["detail"]
    assert "in _inputs" in detail and "LookupError: the third input is missing" in detail
    for text in (detail, done.stdout + done.stderr):
        assert "concdoctor/" not in text.replace("concdoctor-", ""), text
        assert "importlib" not in text, text


def test_a_usage_error_leaves_no_cgroup_behind(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "concdoctor", "profile", f"{DETACHED}:no_such_function",
         "--inputs", "[1]", "--no-save"], cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 2 and b"no_such_function" in err, err
    assert not cgroups_of(process.pid)


# -- the process table, directly ------------------------------------------------------------

@contextmanager
def _started(code: str, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process that says so once ``code`` has run, then sleeps; killed after."""
    process = subprocess.Popen(
        [sys.executable, "-c", f"{code}\nprint('ready', flush=True)\nimport time\n"
         f"time.sleep(120)  # {HELPER}"], stdout=subprocess.PIPE, **kwargs)
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == b"ready\n"
        yield process
    finally:
        kill_all([process.pid])
        process.wait(timeout=10)  # reaped already, or now
        process.stdout.close()


def test_end_kills_what_ignores_sigterm_after_the_grace() -> None:
    with _started("import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)") as process:
        proc = descendants.read(process.pid)
        assert proc is not None and proc.running
        descendants.end([proc], grace=0.2)
        assert descendants.read(process.pid) is None, "ended and reaped"


TREE = ("import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)  # "
        f"{HELPER}'], start_new_session=True)")


@pytest.mark.parametrize("keep", [False, True])
def test_end_tree_freezes_and_kills_the_tree(keep: bool) -> None:
    with _started(TREE, start_new_session=True) as root:
        deadline = time.monotonic() + 10
        while not any(HELPER in descendants.command(p.pid) for p in descendants.tree(root.pid)):
            assert time.monotonic() < deadline, "the grandchild never started"
            time.sleep(0.02)
        (helper,) = descendants.tree(root.pid)
        found = descendants.end_tree(root.pid, root.pid, None, keep=set(),
                                     keep_detached=keep, alive=True)
        root.wait(timeout=10)
        assert root.returncode == -signal.SIGKILL
        assert len(found) == 1 and HELPER in found[0], found
        still = descendants.read(helper.pid)
        try:
            assert (still is not None and still.running) is keep
        finally:
            kill_all([helper.pid])


def test_command_is_the_programs_name_and_its_arguments_cut() -> None:
    with _started("x = '" + "a" * 200 + "'") as process:
        text = descendants.command(process.pid)
    assert text.startswith("python") and "/" not in text.split()[0], text
    assert len(text) == descendants.COMMAND_CHARS and text.endswith("…"), text


def _cgroup_files(tmp_path: Path, mount: str, own: str) -> tuple[Path, Path]:
    mountinfo, membership = tmp_path / "mountinfo", tmp_path / "cgroup"
    mountinfo.write_text(f"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n{mount}\n")
    membership.write_text(f"4:memory:/x\n0::{own}\n")
    return mountinfo, membership


@pytest.mark.parametrize(("root", "own", "folder"), [
    ("/", "/a/b", "a/b"),         # a hybrid or pure v2 host
    ("/a", "/a/b", "b"),          # the mount shows part of the hierarchy
    ("/", "/", ""),               # a container's namespace: its root
])
def test_cgroup_home_is_where_this_process_is(tmp_path: Path, root: str, own: str,
                                              folder: str) -> None:
    point = tmp_path / "my cgroup2"
    (point / folder).mkdir(parents=True, exist_ok=True)
    (point / folder / "cgroup.procs").write_text("")
    escaped = str(point).replace(" ", "\\040")
    files = _cgroup_files(tmp_path, f"41 31 0:38 {root} {escaped} rw - cgroup2 cgroup2 rw",
                          own)
    assert cgroup.home(*files) == point / folder


@pytest.mark.parametrize(("mount", "own"), [
    ("41 31 0:38 / {point} rw - cgroup cgroup rw,memory", "/a"),  # v1 only
    ("41 31 0:38 /other {point} rw - cgroup2 cgroup2 rw", "/a"),  # another subtree
    ("41 31 0:38 / {point} rw - cgroup2 cgroup2 rw", "/missing"),  # not there to write
])
def test_no_cgroup_home_falls_back_quietly(tmp_path: Path, mount: str, own: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "cgroup.procs").write_text("")
    files = _cgroup_files(tmp_path, mount.format(point=tmp_path), own)
    assert cgroup.home(*files) is None


# -- the report -------------------------------------------------------------------------------

def _diagnosis(*seen: tuple[str, bool]) -> Diagnosis:
    left = findings.tally(seen)
    note = findings.left_running(left)
    return Diagnosis(target="x.py:f", workload=Workload(3),
                     environment=Environment("3.11.7", 2, containment="subreaper"),
                     left_running=left, notes=(note,) if note else ())


def test_the_note_counts_by_command_and_says_what_was_done() -> None:
    sleep, other = "python -c 'import time; time.sleep(120)'", "sleep 60"
    d = _diagnosis(*[(sleep, False)] * 3, (other, False), (other, True))
    assert d.left_running == (Leftover(sleep, 3), Leftover(other, 1),
                              Leftover(other, 1, kept=True))
    (note,) = d.notes
    ended = "4 processes ended by concdoctor (SIGTERM, then SIGKILL after 2 s)"
    assert f"{ended}: {sleep} ×3, " in note
    assert f"{other} ×1" in note and "1 process left running at --keep-detached" in note
    assert findings.left_running(()) is None


def test_the_report_keeps_them_and_every_renderer_shows_them() -> None:
    d = _diagnosis(("sleep 60", False), ("sleep 60", False))
    again = Diagnosis.from_json(d.to_json())
    assert again == d
    assert json.loads(d.to_json())["left_running"] == [
        {"command": "sleep 60", "count": 2, "kept": False}]
    for name in ("terminal", "markdown", "html"):
        text = get_renderer(name).render(d)
        assert "sleep 60 ×2" in text, name
    assert "a subreaper" in get_renderer("markdown").render(d)


def test_zz_nothing_of_this_module_is_left() -> None:
    left = conftest.marked_processes(MARK_VAR, SESSION)
    kill_all(list(left))
    assert not left, left
