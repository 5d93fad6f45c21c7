"""Build facts this machine cannot install (3.14, free-threaded builds), injected."""

from __future__ import annotations

import sys

import pytest

from concdoctor import environment
from concdoctor.child import runners as executors
from concdoctor.decide import rules
from concdoctor.decide.classify import classify
from concdoctor.decide.metrics import Facts, build_metrics
from concdoctor.decide.recommend import recommend
from concdoctor.diagnosis import Environment, Evidence, Workload

PURE_PYTHON = Evidence(wall_seconds=2.0, cpu_seconds=2.0, thread_cpu_seconds=2.0,
                       task_seconds_median=0.25, task_seconds_max=0.25, idle_fraction=0.0,
                       gil_fraction=1.0, released_fraction=0.0, samples=400)


def advise(env: Environment, facts: Facts) -> tuple[str, str]:
    kind = classify(PURE_PYTHON, cpu_count=env.cpu_count)
    values = build_metrics(PURE_PYTHON, kind, Workload(tasks=8), env, facts)
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
    assert advise(env, Facts()) == ("thread", "free-threaded-python-cpu")


def test_free_threaded_build_with_the_gil_back_on_uses_processes() -> None:
    env = Environment(python="3.14.0", cpu_count=2, gil_enabled=True,
                      free_threaded_build=True)
    assert advise(env, Facts())[0] == "process"


def test_unpicklable_work_on_314_goes_to_sub_interpreters() -> None:
    env = Environment(python="3.14.0", cpu_count=2)
    facts = Facts(process_problem="cannot pickle a lambda", interpreter_available=True)
    assert advise(env, facts) == ("interpreter", "cpu-python-interpreters")


def test_unpicklable_work_before_314_stays_sequential() -> None:
    env = Environment(python="3.12.1", cpu_count=2)
    facts = Facts(process_problem="cannot pickle a lambda", interpreter_available=False)
    assert advise(env, facts) == ("sequential", "cpu-python-unpicklable")


@pytest.mark.skipif(executors.interpreter_pool() is not None,
                    reason="this Python has sub-interpreters")
def test_interpreter_executor_refuses_before_314() -> None:
    reason = executors.applicable("interpreter", is_coroutine=False)
    assert reason is not None and "3.14" in reason


def test_asyncio_needs_a_coroutine_function() -> None:
    assert executors.applicable("asyncio", is_coroutine=False)
    assert executors.applicable("asyncio", is_coroutine=True) is None
