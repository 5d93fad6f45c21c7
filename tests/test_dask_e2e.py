"""The dask executor against a real scheduler and real workers, started with the dask CLI
as a user would, and a LocalCluster: measured beside the local executors, faults
reported, nothing left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import marked_processes

pytest.importorskip("distributed", reason="the dask executor needs concdoctor[dask]")

from concdoctor import api

pytestmark = pytest.mark.e2e
DASK = Path(sys.executable).parent / "dask"
MARK = "CONCDOCTOR_DASK_TEST"
TARGETS = Path(__file__).resolve().parent / "targets"
FAULTY = TARGETS / "faulty.py"
DEPLOYED = TARGETS / "deployed"
ROOT = Path(__file__).resolve().parent.parent


class Cluster:
    """A scheduler and two one-thread workers, each a process group of its own, run from
    a scratch folder: each imports what its ``PYTHONPATH`` gives it, and where ``bare``
    not even concdoctor (a package of that name that fails to import hides it)."""

    def __init__(self, tmp: Path, scheduler_path: tuple[Path, ...] = (),
                 worker_path: tuple[Path, ...] = (), bare: bool = False) -> None:
        self.token = uuid.uuid4().hex
        self.env = {**os.environ, MARK: self.token, "PYTHONPATH": ""}
        hidden = (_hide_concdoctor(tmp),) if bare else ()
        file = tmp / "scheduler.json"
        self.workers: subprocess.Popen[bytes] | None = None
        self.scheduler = self._start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)], tmp,
            (*hidden, *scheduler_path))
        try:  # a cluster that does not come up is stopped, not left to the next tests
            self.address = _address(file)
            self.workers = self._start(
                [str(DASK), "worker", self.address, "--nworkers", "2", "--nthreads", "1",
                 "--death-timeout", "10", "--local-directory", str(tmp)], tmp,
                (*hidden, *worker_path))
            from distributed import Client

            with Client(self.address, timeout=30) as client:
                client.wait_for_workers(2, timeout=60)
        except BaseException:
            self.stop()
            raise

    def _start(self, command: list[str], tmp: Path,
               path: tuple[Path, ...]) -> subprocess.Popen[bytes]:
        env = {**self.env, "PYTHONPATH": os.pathsep.join(map(str, path))}
        return subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        started = [each for each in (self.workers, self.scheduler) if each is not None]
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _address(file: Path) -> str:
    """The scheduler's address, once its file is written whole: the file appears before
    its text does."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return json.loads(file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _hide_concdoctor(tmp: Path) -> Path:
    folder = tmp / "bare"
    (folder / "concdoctor").mkdir(parents=True)
    (folder / "concdoctor" / "__init__.py").write_text(
        "raise ImportError('concdoctor is not installed on this node')\n")
    return folder


@contextlib.contextmanager
def running(started: Cluster) -> Iterator[Cluster]:
    """The cluster until the block ends, then checked gone."""
    try:
        yield started
    finally:
        started.stop()
    deadline = time.monotonic() + 15
    while marked_processes(MARK, started.token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_processes(MARK, started.token), "the cluster outlived the test"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with running(Cluster(tmp_path)) as started:
        yield started


def result(d, executor: str):
    return next(r for r in d.confirmation.results if r.executor == executor)


def test_a_cluster_is_measured_beside_the_local_executors(in_repo: Path,
                                                          cluster: Cluster) -> None:
    """The workers run from another folder: examples is not importable there, so the
    module is shipped to them, and the archive made for it is removed."""
    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("concdoctor-ship-*"))
    d = api.profile("examples.factorize:factorize", inputs_from="examples.factorize:INPUTS",
                    cluster=cluster.address)
    assert set(scratch.glob("concdoctor-ship-*")) <= before
    assert d.failure is None, d.failure
    assert d.environment.cluster == cluster.address and d.environment.cluster_workers == 2
    dask = result(d, "dask")
    assert dask.skipped is None and dask.speedup is not None, dask
    assert dask.workers == 2 and dask.check is not None and dask.check.status == "same"
    assert {"sequential", "dask"} <= set(d.confirmation.executors)


def test_a_script_target_is_shipped_to_the_workers(cluster: Cluster) -> None:
    d = api.profile(f"{FAULTY}:ok", inputs=[0.05] * 8, cluster=cluster.address, trials=1)
    assert result(d, "dask").check.status == "same", result(d, "dask")


def test_a_scheduler_lost_during_the_run_skips_dask_only(in_repo: Path,
                                                        cluster: Cluster) -> None:
    import threading

    def kill_soon() -> None:
        time.sleep(4)
        os.killpg(cluster.scheduler.pid, signal.SIGKILL)

    threading.Thread(target=kill_soon, daemon=True).start()
    d = api.profile("examples.io_threads:worker", inputs=[0.5] * 30, cluster=cluster.address,
                    timeout=60)
    assert d.failure is None and d.executor == "thread"
    dask = result(d, "dask")
    assert dask.skipped and ("lost" in dask.skipped or "did not finish" in dask.skipped), dask


def test_a_worker_dying_in_a_trial_skips_dask_only(cluster: Cluster) -> None:
    """Each worker the task lands on dies; the nannies restart them until the scheduler
    gives the task up (KilledWorker): reported, not waited on."""
    d = api.profile(f"{FAULTY}:die_on_dask", inputs=[0.05] * 8, cluster=cluster.address,
                    trials=1, timeout=120)
    # the first call imports distributed (CPU), the rest sleep: a local pool, never dask
    assert d.failure is None and d.executor in ("thread", "process", "hybrid"), d.failure
    dask = result(d, "dask")
    assert dask.skipped and ("died" in dask.skipped or "did not finish" in dask.skipped), dask


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "concdoctor", "profile", f"{FAULTY}:ok",
                           "--inputs", "[1]", "--cluster", "tcp://127.0.0.1:1", "--no-save"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tcp://127.0.0.1:1" in lines[0] and "Traceback" not in lines[0]
    assert time.monotonic() - started < 60


def test_a_local_cluster_leaves_nothing_running(in_repo: Path) -> None:
    token = uuid.uuid4().hex
    os.environ[MARK] = token
    try:
        d = api.profile("examples.io_threads:worker", inputs=[0.05] * 8, compare=["dask"],
                        trials=1)
    finally:
        del os.environ[MARK]
    dask = result(d, "dask")
    assert dask.skipped is None and dask.check.status == "same", dask
    time.sleep(1)
    assert not marked_processes(MARK, token)


DEPLOYMENTS = {
    # a production image: the workers have the project, a generic scheduler does not
    "scheduler-without-workers-with": dict(worker_path=(ROOT,), bare=True),
    "neither-has-it": dict(bare=True),
    "both-have-it": dict(scheduler_path=(ROOT,), worker_path=(ROOT,)),
}


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_a_deployed_cluster_measures_dask_whoever_has_the_code(
        in_repo: Path, tmp_path: Path, deployment: str) -> None:
    """The code reaches the scheduler as well as the workers: by name where both can import
    it, by value where either cannot (concdoctor itself is never needed there)."""
    with running(Cluster(tmp_path, **DEPLOYMENTS[deployment])) as started:
        d = api.profile("examples.cpu_bound:sum_of_squares", inputs=[300_000] * 8,
                        cluster=started.address, trials=1)
    dask = result(d, "dask")
    assert d.failure is None, d.failure
    assert dask.skipped is None and dask.check is not None, dask
    assert dask.check.status == "same", dask


def test_a_scheduler_that_cannot_import_the_code_skips_dask_naming_it(tmp_path: Path) -> None:
    """The workers have the target's helper module, the scheduler does not: it cannot
    unpickle the task graph, which is the deployment's problem, not the target's."""
    with running(Cluster(tmp_path, worker_path=(DEPLOYED,))) as started:
        d = api.profile(f"{DEPLOYED / 'cluster_code.py'}:scaled", inputs=list(range(8)),
                        cluster=started.address, trials=1)
    dask = result(d, "dask")
    assert d.failure is None, d.failure
    assert dask.check is None or dask.check.status != "raised", dask
    assert dask.skipped and "scheduler" in dask.skipped, dask
    assert "cluster_helper" in dask.skipped and "install" in dask.skipped, dask


def test_the_target_raising_on_the_cluster_is_still_raised(tmp_path: Path) -> None:
    """Only the target's own exception is the results check's "raised"."""
    code = (DEPLOYED,)
    with running(Cluster(tmp_path, scheduler_path=code, worker_path=code)) as started:
        d = api.profile(f"{DEPLOYED / 'cluster_code.py'}:raise_on_dask", inputs=list(range(6)),
                        cluster=started.address, trials=1)
    assert d.failure is None, d.failure
    dask = result(d, "dask")
    assert dask.skipped is None and dask.check is not None, dask
    assert dask.check.status == "raised" and "no 0 on a worker" in dask.check.got, dask
