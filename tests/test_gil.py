"""The GIL as the child sees it after importing the target, with the build facts injected
(no free-threaded Python is installed here)."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from concdoctor import pipeline, protocol
from concdoctor.child import serve as child
from concdoctor.decide import rules
from concdoctor.decide.classify import classify
from concdoctor.decide.recommend import metrics_of, recommend
from concdoctor.diagnosis import Diagnosis, Environment, Evidence, Workload

PURE_PYTHON = Evidence(wall_seconds=2.0, cpu_seconds=2.0, thread_cpu_seconds=2.0,
                       task_seconds_median=0.25, task_seconds_max=0.25, idle_fraction=0.0,
                       gil_fraction=1.0, released_fraction=0.0, samples=400)


def ready(gil_enabled: bool) -> protocol.Ready:
    return protocol.Ready(protocol=protocol.PROTOCOL_VERSION, location="x", pid=1,
                          thread_id=1, thread_ident=1, tasks=8, is_coroutine=False,
                          input_source="inputs", start_method="forkserver",
                          gil_enabled=gil_enabled)


def diagnosed(free_threaded: bool, child_gil: bool) -> Diagnosis:
    before = Diagnosis(target="m:f", workload=Workload(8),
                       environment=Environment(python="3.14.0", cpu_count=2,
                                               gil_enabled=not free_threaded,
                                               free_threaded_build=free_threaded))
    request = pipeline.Request(rules=rules.load())
    d = replace(pipeline._resolved(before, ready(child_gil), request), evidence=PURE_PYTHON,
                classification=classify(PURE_PYTHON, cpu_count=2))
    return replace(d, recommendation=recommend(request.rules, metrics_of(d, request.rules)))


def test_the_child_reads_the_gil_after_the_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert child.gil_enabled() is False
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    assert child.gil_enabled() is True


def test_without_the_gil_python_work_goes_to_threads() -> None:
    d = diagnosed(free_threaded=True, child_gil=False)
    assert d.environment.gil_enabled is False
    assert (d.executor, d.recommendation.rule) == ("thread", "free-threaded-python-cpu")
    assert not d.notes


def test_an_extension_that_turns_the_gil_back_on_sends_it_to_processes() -> None:
    d = diagnosed(free_threaded=True, child_gil=True)
    assert d.environment.gil_enabled is True and d.executor == "process"
    assert any("GIL on" in note and "PYTHON_GIL=0" in note for note in d.notes)


def test_a_build_with_the_gil_says_nothing_about_it() -> None:
    d = diagnosed(free_threaded=False, child_gil=True)
    assert d.executor == "process" and not d.notes
