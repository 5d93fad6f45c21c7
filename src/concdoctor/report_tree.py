"""A report's JSON back into the :class:`~concdoctor.diagnosis.Diagnosis` tree.

``dataclasses.asdict`` flattens the tree to dicts and lists; this rebuilds each nested
dataclass from the field that holds it, and ignores keys it does not know, so a report
written by a newer concdoctor (the schema allows extra fields) still loads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Environment,
    Evidence,
    ExecutorResult,
    Failure,
    FunctionStat,
    Leftover,
    Prediction,
    Recommendation,
    ResultsCheck,
    ScalingPoint,
    StackSamples,
    Workload,
)

_NESTED: dict[str, type] = {
    "check": ResultsCheck,
    "workload": Workload,
    "environment": Environment,
    "evidence": Evidence,
    "classification": Classification,
    "recommendation": Recommendation,
    "confirmation": Confirmation,
    "prediction": Prediction,
    "failure": Failure,
}
_NESTED_TUPLES: dict[str, type] = {
    "stacks": StackSamples,
    "top_functions": FunctionStat,
    "results": ExecutorResult,
    "left_running": Leftover,
}


def build(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a dataclass tree from its ``asdict`` form, ignoring unknown keys.

    Unknown keys are ignored so that reports written by a newer concdoctor with extra
    fields (allowed by the schema) still load.
    """
    kwargs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            continue
        if key == "scaling" and isinstance(value, dict):
            value = {name: tuple(build(ScalingPoint, point) for point in points)
                     for name, points in value.items()}
        elif value is not None and key in _NESTED:
            value = build(_NESTED[key], value)
        elif key in _NESTED_TUPLES:
            value = tuple(build(_NESTED_TUPLES[key], item) for item in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)
