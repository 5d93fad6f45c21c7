"""The report contract: the JSON schema fields, the round trip, the version check."""

from __future__ import annotations

import json

import pytest

from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    ExecutorResult,
    FunctionStat,
    Recommendation,
    ReportSchemaError,
    StackSamples,
    Workload,
)


def sample() -> Diagnosis:
    return Diagnosis(
        target="examples.cpu_bound:sum_of_squares",
        workload=Workload(tasks=8),
        environment=Environment(python="3.11.7", cpu_count=2),
        evidence=Evidence(wall_seconds=2.4, cpu_seconds=2.39, thread_cpu_seconds=2.38,
                          task_seconds_median=0.3, idle_fraction=0.01, gil_fraction=0.98,
                          released_fraction=0.01, samples=480,
                          stacks=(StackSamples(("f (a.py:1)",), gil=3),),
                          top_functions=(FunctionStat("f", cpu_seconds=0.2, wall_seconds=0.2),)),
        classification=Classification("python_cpu_bound", 0.95),
        recommendation=Recommendation("process", 2, "cpu-python-processes", "because"),
        confirmation=Confirmation(2.4, 1.3, 1.85, True, 3, {"sequential": 2.4, "process": 1.3},
                                  (ExecutorResult("process", 2, (1.3, 1.2, 1.4), 1.3, 1.85),)),
    )


def test_contract_fields() -> None:
    data = json.loads(sample().to_json())
    assert data["schema_version"] == 1
    # schema 1 lets fields be added: the contract's ones keep their names and values
    assert data["workload"].items() >= {"tasks": 8, "is_coroutine": False,
                                        "input_source": "inputs"}.items()
    for key in ("python", "cpu_count", "gil_enabled"):
        assert key in data["environment"]
    for key in ("wall_seconds", "cpu_seconds", "task_seconds_median", "idle_fraction",
                "gil_fraction", "released_fraction", "top_functions"):
        assert key in data["evidence"]
    assert set(data["evidence"]["top_functions"][0]) >= {"name", "cpu_seconds", "wall_seconds"}
    assert data["classification"] == {"kind": "python_cpu_bound", "confidence": 0.95,
                                      "signals": []}
    for key in ("executor", "workers", "rule", "reason", "revised_from"):
        assert key in data["recommendation"]
    for key in ("baseline_seconds", "recommended_seconds", "speedup", "confirmed", "trials",
                "executors"):
        assert key in data["confirmation"]


def test_round_trip() -> None:
    original = sample()
    assert Diagnosis.from_json(original.to_json()) == original


def test_unknown_fields_from_newer_reports_are_ignored() -> None:
    data = json.loads(sample().to_json())
    data["evidence"]["new_metric"] = 1
    assert Diagnosis.from_dict(data).evidence == sample().evidence


@pytest.mark.parametrize("version", [2, None, "1"])
def test_other_schema_versions_are_refused(version: object) -> None:
    data = json.loads(sample().to_json())
    data["schema_version"] = version
    with pytest.raises(ReportSchemaError, match="schema_version"):
        Diagnosis.from_dict(data)


def test_not_json() -> None:
    with pytest.raises(ReportSchemaError, match="not a JSON report"):
        Diagnosis.from_json("<html>")


def test_readable_attributes() -> None:
    d = sample()
    assert (d.kind, d.executor, d.workers, d.speedup, d.confirmed, d.complete) == (
        "python_cpu_bound", "process", 2, 1.85, True, True)
