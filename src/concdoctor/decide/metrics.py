"""The named metrics that rules match on and reasons quote.

Every metric a rules file may name is declared here with its type, so an unknown
metric or a value of the wrong type is caught when the rules load, not when they run.
The predicted speedups come from the one capacity model (:mod:`concdoctor.decide.capacity`),
at each pool's size as the rules set it: a hint for the ``mixed`` rules and for which
alternative to try first; the confirmation measures the real thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from concdoctor import executors as registry
from concdoctor.decide import capacity
from concdoctor.diagnosis import Classification, Environment, Evidence, Workload
from concdoctor.executors import Executor

BASE_TYPES: dict[str, type] = {
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
    "cluster_workers": int,
    "child_cpu_ratio": float,
    "threads_limit": int,
    "task_bytes": int,
    "memory_limit_bytes": int,
    "files_limit": int,
    "process_advantage": float,
    "fastest_predicted": str,
    "fastest_margin": float,
    "bytes_per_task": int,
}
REASON_ONLY = {"executor": str, "workers": int, "chunksize": int, "inner_workers": int}


def metric_types() -> dict[str, type]:
    """Every metric a rule may name: the batch's, and per executor in the registry
    ``<name>_available`` and (for those the capacity model predicts)
    ``predicted_speedup_<name>``."""
    per_executor = {f"{e.name}_available": bool for e in registry.pools()}
    predicted = {f"predicted_speedup_{e.name}": float for e in registry.modelled()}
    return {**BASE_TYPES, **per_executor, **predicted}


@dataclass(frozen=True)
class TargetFacts:
    """What the child found out about the target beyond the timing evidence."""

    process_problem: str | None = None
    """Why the function, an input or a result does not pickle (None: they all do)."""
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Executors this Python cannot run, with the reason."""
    cluster_workers: int = 0
    """Worker threads of the dask cluster given (--cluster); 0 without one."""

    def available(self, executor: Executor) -> bool:
        """Whether ``executor`` can run this batch: this Python has it, and, when it
        ships by name, the function and the data pickle by name (what a pool that ships
        by value needs is the evidence's ``value_problem``: :func:`build_metrics`)."""
        return (executor.name not in self.unavailable
                and not (executor.ships and self.process_problem))


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


Size = tuple[int, int, int]
"""A pool's size for the model: workers, chunk size, calls each worker runs at once."""


def predicted_speedups(work: capacity.Work, cpu_count: int,
                       pools: Mapping[str, Size]) -> dict[str, float]:
    """The capacity model's speedup of each modelled executor at its pool's size
    (``pools`` by name; one worker where not given)."""
    predictions = {}
    for e in registry.modelled():
        workers, chunksize, inner = pools.get(e.name, (1, 1, 1))
        predictions[e.name] = capacity.speedup(e.name, work, workers, cpu_count,
                                               chunksize=chunksize, inner=inner)
    return predictions


def build_metrics(evidence: Evidence, classification: Classification, workload: Workload,
                  environment: Environment, facts: TargetFacts) -> dict[str, Any]:
    """Every metric of the batch the rules can name; the predictions are added by
    :func:`with_predictions` once the pools are sized from these."""
    idle, gil, released = evidence.shares
    metrics: dict[str, Any] = {
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
        "cluster_workers": facts.cluster_workers,
        "child_cpu_ratio": round(evidence.child_cpu_ratio, 3),
        "threads_limit": environment.threads_limit or 0,  # 0: no limit found
        "task_bytes": evidence.task_bytes,
        "memory_limit_bytes": environment.memory_limit_bytes or 0,
        "files_limit": environment.files_limit or 0,
        "bytes_per_task": evidence.bytes_per_task,
    }
    # a pool that ships by value takes what pickles by value only, and no more
    metrics.update({f"{e.name}_available": facts.available(e)
                    and not (e.by_value and evidence.value_problem) for e in registry.pools()})
    return metrics


def with_predictions(metrics: Mapping[str, Any],
                     pools: Mapping[str, Size]) -> dict[str, Any]:
    """``metrics`` with the capacity model's ``predicted_speedup_<name>`` for each pool,
    ``process_advantage``, and which executor the model puts first (of those this batch
    can use) and by how much over the next."""
    predictions = predicted_speedups(capacity.work_from(metrics), int(metrics["cpu_count"]),
                                     pools)
    # Processes against threads, the question the mixed rules ask.
    advantage = round(predictions.get("process", 1.0) / max(predictions.get("thread", 1.0),
                                                              0.01), 2)
    usable = sorted((value, name) for name, value in predictions.items()
                    if metrics.get(f"{name}_available", True)
                    and (metrics.get("is_coroutine") or not registry.get(name).needs_coroutine)
                    and not registry.get(name).opt_in)
    first = usable[-1] if usable else (1.0, registry.SEQUENTIAL)
    second = usable[-2][0] if len(usable) > 1 else 1.0
    return {**metrics, **{f"predicted_speedup_{name}": value
                          for name, value in predictions.items()},
            "process_advantage": advantage, "fastest_predicted": first[1],
            "fastest_margin": round(first[0] / max(second, 0.01), 2)}
