"""Code shipped by value, without a cluster or a diagnosis: the wrapper a scheduler can
unpickle without the target's module, which pool takes what, the start method's part,
the cluster's version line and the words of a deployment failure."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from concdoctor import cluster
from concdoctor import executors as registry
from concdoctor.child import byvalue, runners
from concdoctor.child import cluster as child_cluster
from concdoctor.diagnosis import Diagnosis, Environment, Evidence, Workload
from concdoctor.environment import pool_start_methods


def _private_module(tmp_path: Path, name: str) -> object:
    """A module only this process can import (its folder is on no other's path)."""
    path = tmp_path / f"{name}.py"
    path.write_text("FACTOR = 7\n\n\ndef scale(x):\n    return FACTOR * x\n")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_function_travels_to_a_process_without_its_module(tmp_path: Path) -> None:
    module = _private_module(tmp_path, "only_here_by_value")
    try:
        by_name = pickle.dumps(module.scale)
        by_value = pickle.dumps(byvalue.ByValue(module.scale, by_value=[module.__name__]))
    finally:
        del sys.modules[module.__name__]
    read = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())(3))"
    for blob, expected in ((by_value, "21"), (by_name, None)):
        done = subprocess.run([sys.executable, "-c", read], input=blob, capture_output=True,
                              timeout=60, check=False, cwd=tmp_path.parent)
        if expected is None:  # by name, the other process needs the module
            assert b"No module named 'only_here_by_value'" in done.stderr
        else:
            assert done.stdout.decode().strip() == expected, done.stderr


def test_registering_by_value_lasts_only_the_block(tmp_path: Path) -> None:
    import cloudpickle

    module = _private_module(tmp_path, "registered_for_a_while")
    try:
        with byvalue.registered([module.__name__, "not_imported_at_all"]):
            assert module.__name__ in cloudpickle.list_registry_pickle_by_value()
        assert module.__name__ not in cloudpickle.list_registry_pickle_by_value()
    finally:
        del sys.modules[module.__name__]


def _main_function(x: int) -> int:
    return x


_main_function.__module__ = "__main__"


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_function_of_main_reaches_only_forked_workers_by_name(method: str) -> None:
    reason = byvalue.by_reference_only(_main_function, method) or ""
    assert "__main__" in reason and method in reason and "importable module" in reason
    assert byvalue.by_reference_only(_main_function, "fork") is None
    assert byvalue.by_reference_only(test_registering_by_value_lasts_only_the_block,
                                     method) is None


def test_each_pool_takes_what_it_can_ship() -> None:
    k = 3
    closure = runners.Task(lambda x: x * k, pass_item=True, is_coroutine=False)
    process, loky = registry.get("process"), registry.get("loky")
    assert "cannot be pickled" in (runners.unavailable(process, closure, [1, 2]) or "")
    assert runners.unavailable(loky, closure, [1, 2]) is None
    locked = [threading.Lock()]
    reason = runners.unavailable(loky, closure, locked) or ""
    assert "even by value" in reason and "input" in reason
    plain = runners.Task(abs, pass_item=True, is_coroutine=False)
    assert runners.unavailable(process, plain, [1]) is None


def test_each_pool_says_how_its_workers_start() -> None:
    assert pool_start_methods("spawn") == {"process": "spawn", "hybrid": "spawn",
                                           "loky": "loky"}


def test_the_start_methods_and_the_value_problem_survive_the_json_report() -> None:
    d = Diagnosis(target="m:f", workload=Workload(4),
                  environment=Environment("3.14.0", 2, start_method="forkserver",
                                          start_methods=pool_start_methods("forkserver")),
                  evidence=Evidence(1.0, 1.0, 1.0, 0.1, process_problem="by name",
                                    value_problem="not even by value"))
    again = Diagnosis.from_json(d.to_json())
    assert again.environment.start_methods == {"process": "forkserver",
                                               "hybrid": "forkserver", "loky": "loky"}
    assert again.evidence is not None and again.evidence.value_problem == "not even by value"


def _versions(**packages: dict[str, str]) -> dict[str, object]:
    def node(name: str) -> dict[str, object]:
        return {"packages": {"python": "3.11.7.final.0", "dask": "2026.8.0",
                             "cloudpickle": "3.1.3", **packages.get(name, {})}}

    return {"client": node("client"), "scheduler": node("scheduler"),
            "workers": {"tcp://a:1": node("workers"), "tcp://b:1": node("workers")}}


def test_a_version_mismatch_is_one_line_naming_where() -> None:
    assert cluster.mismatch(_versions()) is None
    line = cluster.mismatch(_versions(scheduler={"cloudpickle": "2.2.1"},
                                      workers={"python": "3.12.1.final.0"})) or ""
    assert "\n" not in line
    assert "cloudpickle 3.1.3 on client, 2 workers, 2.2.1 on scheduler" in line, line
    assert "python 3.11.7 on client, scheduler, 3.12.1 on 2 workers" in line, line
    assert "install the same versions" in line


def test_a_graph_the_scheduler_cannot_load_is_the_deployments_not_the_targets() -> None:
    error = RuntimeError("Error during deserialization of the task graph. This frequently "
                         "occurs if the Scheduler and Client have different environments.")
    words = child_cluster._deployment(error, "the dask scheduler at tcp://x:1")
    assert words.startswith("the dask scheduler at tcp://x:1 cannot unpickle the task graph")
    assert "give the scheduler" in words


def test_the_targets_exception_comes_back_as_its_own() -> None:
    tasks = child_cluster._tasks_module()
    chunk = tasks.run_chunk(lambda x: 1 // x, True, False, [1, 0])
    assert chunk[0] == tasks.RAISED
    exc = child_cluster._target_exception(chunk)
    assert isinstance(exc, ZeroDivisionError)
    assert tasks.run_chunk(abs, True, False, [-2])[0][0] == 2
    assert tasks.load_problem(b"not a pickle") is not None


def test_the_report_says_how_each_pool_started() -> None:
    from concdoctor.render import wording

    env = Environment("3.14.0", 2, start_method="forkserver",
                      start_methods=pool_start_methods("forkserver"))
    assert wording.start_methods(env) == "forkserver; loky: loky"
    assert dict(wording.environment_rows(Diagnosis("m:f", Workload(1), env)))[
        "Start method"] == "forkserver; loky: loky"
