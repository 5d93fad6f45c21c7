"""Build facts this machine cannot install (3.14, free-threaded builds), injected."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from concdoctor import environment
from concdoctor import executors as registry
from concdoctor.decide import rules
from concdoctor.decide.classify import classify
from concdoctor.decide.metrics import TargetFacts, build_metrics, with_predictions
from concdoctor.decide.recommend import recommend
from concdoctor.diagnosis import Environment, Evidence, Workload

PURE_PYTHON = Evidence(wall_seconds=2.0, cpu_seconds=2.0, thread_cpu_seconds=2.0,
                       task_seconds_median=0.25, task_seconds_max=0.25, idle_fraction=0.0,
                       gil_fraction=1.0, released_fraction=0.0, samples=400)


def advise(env: Environment, facts: TargetFacts,
           value_problem: str | None = None) -> tuple[str, str]:
    evidence = replace(PURE_PYTHON, process_problem=facts.process_problem,
                       value_problem=value_problem)
    kind = classify(evidence, cpu_count=env.cpu_count)
    pools = {"thread": (8, 1, 1), "process": (2, 1, 1), "asyncio": (8, 1, 1),
             "interpreter": (2, 1, 1), "dask": (2, 1, 1), "loky": (2, 1, 1)}
    values = with_predictions(build_metrics(evidence, kind, Workload(tasks=8), env, facts),
                              pools)
    advice = recommend(rules.load(), values)
    return advice.executor, advice.rule


def test_gil_disabled_at_run_time_is_seen() -> None:
    env = environment.describe(is_gil_enabled=lambda: False, free_threaded_build=True)
    assert env.gil_enabled is False and env.free_threaded_build is True


def test_this_build() -> None:
    env = environment.describe()
    assert env.cpu_count >= 1
    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.gil_enabled is getattr(sys, "_is_gil_enabled", lambda: True)()


def test_free_threaded_build_sends_python_cpu_work_to_threads() -> None:
    env = Environment(python="3.14.0", cpu_count=2, gil_enabled=False,
                      free_threaded_build=True)
    assert advise(env, TargetFacts()) == ("thread", "free-threaded-python-cpu")


def test_free_threaded_build_with_the_gil_back_on_uses_processes() -> None:
    env = Environment(python="3.14.0", cpu_count=2, gil_enabled=True,
                      free_threaded_build=True)
    assert advise(env, TargetFacts())[0] == "process"


def test_without_processes_python_work_goes_to_sub_interpreters() -> None:
    env = Environment(python="3.14.0", cpu_count=2)
    facts = TargetFacts(unavailable={"process": "this platform cannot start processes"})
    assert advise(env, facts) == ("interpreter", "cpu-python-interpreters")


@pytest.mark.parametrize("python", ["3.12.1", "3.14.0"])
def test_work_that_pickles_by_value_only_goes_to_loky(python: str) -> None:
    """Sub-interpreter pools pickle the function by name too; loky's pool ships it by
    value (a lambda, a closure, a function of __main__ under spawn)."""
    env = Environment(python=python, cpu_count=2)
    unavailable = {} if python >= "3.14" else {"interpreter": "needs Python 3.14"}
    facts = TargetFacts(process_problem="cannot pickle a lambda", unavailable=unavailable)
    assert advise(env, facts) == ("loky", "cpu-python-by-value")


@pytest.mark.parametrize("python", ["3.12.1", "3.14.0"])
def test_unpicklable_work_stays_sequential(python: str) -> None:
    """What does not pickle even by value (a lock, a generator) has no way in at all."""
    env = Environment(python=python, cpu_count=2)
    unavailable = {} if python >= "3.14" else {"interpreter": "needs Python 3.14"}
    facts = TargetFacts(process_problem="cannot pickle a lock", unavailable=unavailable)
    assert advise(env, facts, value_problem="cannot pickle a lock even by value") == (
        "sequential", "cpu-python-unpicklable")


@pytest.mark.skipif(environment.interpreter_pool() is not None,
                    reason="this Python has sub-interpreters")
def test_interpreter_executor_refuses_before_314() -> None:
    reason = registry.get("interpreter").unavailable()
    assert reason is not None and "3.14" in reason


def test_asyncio_needs_a_coroutine_function() -> None:
    from concdoctor.child import runners

    entry = registry.get("asyncio")
    sync = runners.Task(abs, pass_item=True, is_coroutine=False)
    assert "async def" in (runners.unavailable(entry, sync, [1]) or "")
    coroutine = runners.Task(abs, pass_item=True, is_coroutine=True)
    assert runners.unavailable(entry, coroutine, [1]) is None
