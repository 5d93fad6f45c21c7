"""Metrics + rules -> a recommendation with its worker count and a reason in numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from concdoctor import executors as registry
from concdoctor.decide import capacity as scaling
from concdoctor.decide import expressions
from concdoctor.decide.metrics import TargetFacts, build_metrics
from concdoctor.decide.rules import DEFAULT, Rule, RuleSet, fill, names
from concdoctor.diagnosis import Diagnosis, Recommendation

CHUNK_BELOW_SECONDS = 0.01
"""Alternatives measured on process pools send tasks shorter than this in chunks."""
KNEE_CEILING = max(scaling.WORKERS)
"""The most workers the ``knee`` name in a worker expression considers."""


def metrics_of(diagnosis: Diagnosis, rules: RuleSet) -> dict[str, Any]:
    """The named metrics of a classified diagnosis, its pools sized as the rules size them."""
    evidence, classification = diagnosis.evidence, diagnosis.classification
    assert evidence is not None and classification is not None
    tasks, cpu_count = diagnosis.workload.tasks, diagnosis.environment.cpu_count
    cluster = diagnosis.environment.cluster_workers
    workers = {e.name: rules.workers(e.name, tasks=tasks, cpu_count=cpu_count,
                                     cluster_workers=cluster) for e in registry.modelled()}
    unavailable = {e.name: reason for e in registry.pools() if (reason := e.unavailable())}
    facts = TargetFacts(evidence.process_problem, unavailable, cluster)
    return build_metrics(evidence, classification, diagnosis.workload, diagnosis.environment,
                         facts, workers)


def recommend(rules: RuleSet, metrics: Mapping[str, Any]) -> Recommendation:
    rule = rules.first_match(metrics)
    if rule is None:
        return Recommendation(registry.SEQUENTIAL, 1, "no-rule",
                              "No rule matched and the rules have no fallback rule.")
    tasks, cpu_count = int(metrics["tasks"]), int(metrics["cpu_count"])
    workers = _workers(rules, rule, tasks, cpu_count, int(metrics.get("cluster_workers", 0)),
                       _knee(rule.executor, metrics, min(tasks, KNEE_CEILING)))
    if _bound(rule) and registry.get(rule.executor).kneed:  # a ceiling: the curve picks below
        workers = min(workers, _knee(rule.executor, metrics, workers))
    chunksize = _chunksize(rules, rule, tasks, cpu_count, workers)
    filled = {**metrics, "executor": rule.executor, "workers": workers, "chunksize": chunksize}
    return Recommendation(predicted_speedup=predicted_speedup(rule.executor, workers, metrics),
        executor=rule.executor, workers=workers, rule=rule.id,
        reason=fill(rule.reason, filled), chunksize=chunksize,
        min_speedup=rule.min_speedup,
        advice=fill(rule.advice, filled) if rule.advice else None,
    )


def predicted_speedup(executor: str, workers: int, metrics: Mapping[str, Any]) -> (
        float | None):
    """The capacity model's speedup for ``workers`` of ``executor`` (None: not modelled)."""
    if registry.get(executor).costs is None:
        return 1.0 if executor == registry.SEQUENTIAL else None
    return scaling.speedup(executor, scaling.work_from(metrics), workers,
                           int(metrics["cpu_count"]))


def _workers(rules: RuleSet, rule: Rule, tasks: int, cpu_count: int, cluster: int,
             knee: int) -> int:
    if rule.executor == registry.SEQUENTIAL:
        return 1
    if rule.workers is None:
        return rules.workers(rule.executor, tasks=tasks, cpu_count=cpu_count,
                             cluster_workers=cluster)
    return max(1, expressions.evaluate(rule.workers, names(tasks, cpu_count, 1, cluster, knee)))


def _bound(rule: Rule) -> bool:
    """A worker count written as a formula is a ceiling; a plain number is a policy."""
    return rule.executor != registry.SEQUENTIAL and not isinstance(rule.workers, expressions.Number)


def _knee(executor: str, metrics: Mapping[str, Any], ceiling: int) -> int:
    """The knee of the executor's scaling curve, up to ``ceiling`` workers."""
    if registry.get(executor).costs is None or ceiling <= 1:
        return max(1, ceiling)
    return scaling.knee(executor, scaling.work_from(metrics), int(metrics["cpu_count"]),
                        ceiling)


def _chunksize(rules: RuleSet, rule: Rule, tasks: int, cpu_count: int, workers: int) -> int:
    if rule.chunksize is None:
        return 1
    if rule.chunksize == DEFAULT:
        return rules.chunksize(tasks=tasks, cpu_count=cpu_count, workers=workers)
    assert not isinstance(rule.chunksize, str)
    return max(1, expressions.evaluate(rule.chunksize, names(tasks, cpu_count, workers)))


def alternative_settings(rules: RuleSet, executor: str, *, tasks: int, cpu_count: int,
                         task_seconds: float, cluster_workers: int = 0) -> tuple[int, int]:
    """Workers and chunk size for measuring ``executor`` when it is not the advice."""
    workers = rules.workers(executor, tasks=tasks, cpu_count=cpu_count,
                            cluster_workers=cluster_workers)
    chunksize = 1
    if registry.get(executor).chunks and task_seconds < CHUNK_BELOW_SECONDS:
        chunksize = rules.chunksize(tasks=tasks, cpu_count=cpu_count, workers=workers)
    return workers, chunksize
