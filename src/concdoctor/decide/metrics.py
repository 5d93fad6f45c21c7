"""The named metrics that rules match on and reasons quote.

Every metric a rules file may name is declared here with its type, so an unknown
metric or a value of the wrong type is caught when the rules load, not when they run.
The predicted speedups are a simple capacity model (see :func:`predicted_speedups`), a
hint for the ``mixed`` rules and for which alternative to try first; the confirmation
measures the real thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from concdoctor.diagnosis import Classification, Environment, Evidence, Workload

METRIC_TYPES: dict[str, type] = {
    "kind": str,
    "confidence": float,
    "idle_fraction": float,
    "gil_fraction": float,
    "released_fraction": float,
    "task_seconds": float,
    "task_seconds_max": float,
    "wall_seconds": float,
    "tasks": int,
    "cpu_ratio": float,
    "thread_cpu_ratio": float,
    "is_coroutine": bool,
    "cpu_count": int,
    "gil_enabled": bool,
    "free_threaded": bool,
    "python_version": tuple,
    "degraded": bool,
    "process_available": bool,
    "interpreter_available": bool,
    "cluster_workers": int,
    "predicted_speedup_thread": float,
    "predicted_speedup_process": float,
    "predicted_speedup_asyncio": float,
    "process_advantage": float,
    "bytes_per_task": int,
}
REASON_ONLY = {"executor": str, "workers": int, "chunksize": int}


@dataclass(frozen=True)
class Facts:
    """What the child found out about the target beyond the timing evidence."""

    process_problem: str | None = None
    interpreter_available: bool = False
    cluster_workers: int = 0
    """Worker threads of the dask cluster given (--cluster); 0 without one."""


def python_version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    if not parts:
        raise ValueError(f"{text!r} is not a Python version like '3.14'")
    return tuple(parts)


def predicted_speedups(idle: float, gil: float, released: float, *, tasks: int,
                       cpu_count: int, gil_enabled: bool = True,
                       workers: Mapping[str, int] | None = None) -> dict[str, float]:
    """Upper bounds from capacity alone: waiting overlaps freely, GIL-held work runs one
    thread at a time per interpreter, and all CPU work shares ``cpu_count`` cores.

    ``workers`` holds each pool's size as the rules set it (their ``[alternatives]``);
    a pool left out gets one worker per task (processes: one per core).
    """
    busy = gil + released
    cores = max(cpu_count, 1)
    pools = {"thread": tasks, "process": min(tasks, cores), "asyncio": tasks, **(workers or {})}

    def bound(size: int, serial: float) -> float:
        limit = max(1 / max(min(size, tasks), 1), serial, busy / cores)
        return round(1 / limit, 2) if limit > 0 else float(tasks)

    serial_threads = gil if gil_enabled else 0.0
    return {
        "thread": bound(pools["thread"], serial_threads),
        "process": bound(pools["process"], 0.0),
        "asyncio": bound(pools["asyncio"], busy),
    }


def build_metrics(evidence: Evidence, classification: Classification, workload: Workload,
                  environment: Environment, facts: Facts,
                  workers: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Every metric the rules can name, for one diagnosis. ``workers``: the pools' sizes
    for the capacity model (see :func:`predicted_speedups`)."""
    idle, gil, released = evidence.shares
    predictions = predicted_speedups(idle, gil, released, tasks=workload.tasks,
                                     cpu_count=environment.cpu_count,
                                     gil_enabled=environment.gil_enabled, workers=workers)
    return {
        "kind": classification.kind,
        "confidence": classification.confidence,
        "idle_fraction": idle,
        "gil_fraction": gil,
        "released_fraction": released,
        "task_seconds": evidence.task_seconds_median,
        "task_seconds_max": evidence.task_seconds_max,
        "wall_seconds": evidence.wall_seconds,
        "tasks": workload.tasks,
        "cpu_ratio": evidence.cpu_ratio,
        "thread_cpu_ratio": evidence.thread_cpu_ratio,
        "is_coroutine": workload.is_coroutine,
        "cpu_count": environment.cpu_count,
        "gil_enabled": environment.gil_enabled,
        "free_threaded": environment.free_threaded_build,
        "python_version": python_version_tuple(environment.python),
        "degraded": evidence.degraded,
        "process_available": facts.process_problem is None,
        "interpreter_available": facts.interpreter_available,
        "cluster_workers": facts.cluster_workers,
        "predicted_speedup_thread": predictions["thread"],
        "predicted_speedup_process": predictions["process"],
        "predicted_speedup_asyncio": predictions["asyncio"],
        "process_advantage": round(predictions["process"] / max(predictions["thread"], 0.01), 2),
        "bytes_per_task": evidence.bytes_per_task,
    }
