"""Metrics + rules -> a recommendation with its worker count and a reason in numbers.

Every pool is sized one way, whether it is the advice, an alternative to measure or a
pool the capacity model predicts for the rules: a ceiling (the rule's formula, else the
executor's default, which a rules file's ``[alternatives]`` may override), under it the
scaling curve's knee for executors whose workers cost something, and over all the
limits of this process (:mod:`concdoctor.decide.limits`). What set the count, when the
knee did not, is the advice's ``limited_by``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from concdoctor import executors as registry
from concdoctor.decide import capacity as scaling
from concdoctor.decide import expressions, limits
from concdoctor.decide.metrics import TargetFacts, build_metrics, with_predictions
from concdoctor.decide.rules import DEFAULT, Rule, RuleSet, fill, names
from concdoctor.diagnosis import Diagnosis, Recommendation

CHUNK_BELOW_SECONDS = 0.01
"""Pools that chunk send tasks shorter than this in chunks when measured as alternatives."""
KNEE_CEILING = max(scaling.KNEE_SIZES)
"""The most workers the ``knee`` name in a worker expression considers."""
BUILT_IN = "rules/default.toml"
NESTED_CHUNKS = 2
"""A nested pool's tasks go to each process in about this many chunks: few enough that
each chunk keeps its calls busy, enough that an early finisher takes another."""


@dataclass(frozen=True)
class Pool:
    """A pool's size: its workers, its chunks, and what bounded the workers."""

    workers: int
    chunksize: int = 1
    limited_by: str | None = None
    inner_workers: int = 1


def metrics_of(diagnosis: Diagnosis, rules: RuleSet) -> dict[str, Any]:
    """The named metrics of a classified diagnosis; the capacity model's predictions for
    each pool sized as it would be measured."""
    evidence, classification = diagnosis.evidence, diagnosis.classification
    assert evidence is not None and classification is not None
    cluster = diagnosis.environment.cluster_workers
    # what this Python cannot run was read once, with the rest of the environment
    facts = TargetFacts(evidence.process_problem, diagnosis.environment.unavailable, cluster)
    metrics = build_metrics(evidence, classification, diagnosis.workload,
                            diagnosis.environment, facts)
    pools = {e.name: pool_for(rules, e.name, metrics) for e in registry.modelled()}
    return with_predictions(metrics, {name: (p.workers, p.chunksize, p.inner_workers)
                                      for name, p in pools.items()})


def recommend(rules: RuleSet, metrics: Mapping[str, Any]) -> Recommendation:
    rule = rules.first_match(metrics)
    if rule is None:
        return Recommendation(registry.SEQUENTIAL, 1, "no-rule",
                              "No rule matched and the rules have no fallback rule.")
    pool = _rule_pool(rules, rule, metrics)
    if rule.executor != registry.SEQUENTIAL and pool.workers * pool.inner_workers <= 1 and (
            pool.limited_by not in (None, "tasks", "user")):
        return _one_at_a_time(rule, pool, metrics)
    filled = {**metrics, "executor": rule.executor, "workers": pool.workers,
              "chunksize": pool.chunksize, "inner_workers": pool.inner_workers}
    return Recommendation(
        executor=rule.executor, workers=pool.workers, rule=rule.id,
        reason=fill(rule.reason, filled),
        chunksize=pool.chunksize, min_speedup=rule.min_speedup,
        advice=fill(rule.advice, filled) if rule.advice else None,
        predicted_speedup=predicted_speedup(rule.executor, pool.workers, metrics,
                                            pool.chunksize, pool.inner_workers),
        limited_by=pool.limited_by, inner_workers=pool.inner_workers)


def _one_at_a_time(rule: Rule, pool: Pool, metrics: Mapping[str, Any]) -> Recommendation:
    """A pool that its limit leaves one call at a time is the sequential run with a
    pool's costs: stay sequential, and say what left no room."""
    why = limits.REASONS.get(pool.limited_by or "", pool.limited_by)
    room = int(metrics.get("memory_limit_bytes", 0)) >> 20
    held = int(metrics.get("task_bytes", 0)) >> 20
    memory = pool.limited_by == "memory"
    detail = f" (a call holds up to {held} MiB; {room} MiB to spend)" if memory else ""
    fix = ("Give the workers more room (--memory-limit, or a larger cgroup), or make each "
           "call hold less" if memory else "Raise the limit (ulimit -u for threads, -n for "
           "open files)")
    return Recommendation(
        registry.SEQUENTIAL, 1, rule.id, min_speedup=1.0, limited_by=pool.limited_by,
        reason=f"The rule {rule.id} would run this on a {registry.label(rule.executor)}, "
               f"but {why} leaves room for one call at a time{detail}: a pool would add "
               "its costs to the same sequential run.",
        advice=f"{fix}, and a pool can run several at once.")


def pool_for(rules: RuleSet, executor: str, metrics: Mapping[str, Any]) -> Pool:
    """The pool ``executor`` gets when no rule sizes it: its default ceiling, the knee
    under it, the limits over it; short tasks in chunks where it chunks."""
    tasks, cpu_count = int(metrics["tasks"]), int(metrics["cpu_count"])
    if executor == registry.SEQUENTIAL:
        return Pool(1)
    if registry.get(executor).nested:
        return nested_pool(executor, metrics)
    ceiling = rules.workers(executor, tasks=tasks, cpu_count=cpu_count,
                            cluster_workers=int(metrics.get("cluster_workers", 0)))
    chunks = None
    if registry.get(executor).chunks and float(metrics["task_seconds"]) < CHUNK_BELOW_SECONDS:
        def chunks(workers: int) -> int:
            return rules.chunksize(tasks=tasks, cpu_count=cpu_count, workers=workers)
    workers, limited_by = _sized(executor, ceiling, metrics,
                                 user=executor in rules.alternatives, chunks=chunks)
    return Pool(workers, chunks(workers) if chunks else 1, limited_by)


def nested_pool(executor: str, metrics: Mapping[str, Any]) -> Pool:
    """P processes x T calls each, from the model: every P from the core count to eight
    per core, every T a power of two, with at least T tasks per chunk; the fewest calls
    at once within the knee's share of the best."""
    tasks, cores = int(metrics["tasks"]), int(metrics["cpu_count"])
    work = scaling.work_from(metrics)
    entry, found = registry.get(executor), _limits(metrics)
    shapes, too_big = [], False
    for processes in sorted({min(tasks, cores * m) for m in (1, 2, 4, 8)}):
        for inner in (2 ** i for i in range(1, 11)):
            if processes * inner > tasks:
                break
            fits = limits.within_memory(entry, found, inner)
            if fits is not None and processes > fits:
                too_big = True
                continue
            chunk = max(inner, math.ceil(tasks / (NESTED_CHUNKS * processes)))
            shapes.append((scaling.speedup(executor, work, processes, cores, chunksize=chunk,
                                           inner=inner), processes, inner, chunk))
    if not shapes:
        return Pool(1, limited_by="memory" if too_big else None)
    best = max(shape[0] for shape in shapes)
    _, processes, inner, chunk = min(
        (shape for shape in shapes if shape[0] >= scaling.KNEE * best),
        key=lambda shape: (shape[1] * shape[2], shape[1]))
    return Pool(processes, chunk, "memory" if too_big else None, inner)


def predicted_speedup(executor: str, workers: int, metrics: Mapping[str, Any],
                      chunksize: int = 1, inner: int = 1) -> float | None:
    """The capacity model's speedup for ``workers`` of ``executor`` (None: not modelled)."""
    if registry.get(executor).costs is None:
        return 1.0 if executor == registry.SEQUENTIAL else None
    return scaling.speedup(executor, scaling.work_from(metrics), workers,
                           int(metrics["cpu_count"]), chunksize=chunksize, inner=inner)


def _rule_pool(rules: RuleSet, rule: Rule, metrics: Mapping[str, Any]) -> Pool:
    """The advice's pool: the rule's worker count (a formula is a ceiling the knee picks
    under; a plain number a policy kept as it is), else the executor's own."""
    if rule.executor == registry.SEQUENTIAL:
        return Pool(1)
    if rule.workers is None or registry.get(rule.executor).nested:  # P x T: the model's
        pool = pool_for(rules, rule.executor, metrics)
    else:
        tasks, cpu_count = int(metrics["tasks"]), int(metrics["cpu_count"])
        cluster = int(metrics.get("cluster_workers", 0))
        knee = _knee(rule.executor, metrics, min(tasks, KNEE_CEILING))
        ceiling = max(1, expressions.evaluate(
            rule.workers, names(tasks, cpu_count, 1, cluster, knee)))
        user = not rule.source.startswith(BUILT_IN)
        if isinstance(rule.workers, expressions.Number):
            pool = Pool(ceiling, limited_by="user" if user else None)
        else:
            workers, limited_by = _sized(rule.executor, ceiling, metrics, user=user)
            pool = Pool(workers, 1, limited_by)
    chunksize = (pool.chunksize if registry.get(rule.executor).nested
                 else _chunksize(rules, rule, metrics, pool.workers))
    return Pool(pool.workers, chunksize, pool.limited_by, pool.inner_workers)


def _sized(executor: str, ceiling: int, metrics: Mapping[str, Any], *, user: bool,
           chunks: Callable[[int], int] | None = None) -> tuple[int, str | None]:
    """Up to ``ceiling`` workers: the knee below it, the limits above all; and what bound
    the count when the knee did not."""
    tasks, cpu_count = int(metrics["tasks"]), int(metrics["cpu_count"])
    entry = registry.get(executor)
    workers = ceiling
    if entry.kneed:
        workers = min(ceiling, _knee(executor, metrics, ceiling, chunks))
    workers, limited_by = limits.cap(executor, workers, _limits(metrics))
    if limited_by is not None or not entry.kneed:
        return workers, limited_by
    free = _knee(executor, metrics, min(tasks, KNEE_CEILING), chunks)  # the curve's own
    if workers >= free:
        return workers, "tasks" if workers >= tasks > 1 else None
    if workers == cpu_count:
        return workers, "cores"
    return workers, "user" if user else None


def _limits(metrics: Mapping[str, Any]) -> limits.Limits:
    return limits.Limits(int(metrics.get("threads_limit", 0)) or None,
                         int(metrics.get("files_limit", 0)) or None,
                         int(metrics.get("memory_limit_bytes", 0)) or None,
                         int(metrics.get("task_bytes", 0)))


def _knee(executor: str, metrics: Mapping[str, Any], ceiling: int,
          chunks: Callable[[int], int] | None = None) -> int:
    """The knee of the executor's scaling curve, up to ``ceiling`` workers (tasks handed
    out ``chunks(workers)`` at a time, when given)."""
    if registry.get(executor).costs is None or ceiling <= 1:
        return max(1, ceiling)
    return scaling.knee(executor, scaling.work_from(metrics), int(metrics["cpu_count"]),
                        ceiling, chunks)


def _chunksize(rules: RuleSet, rule: Rule, metrics: Mapping[str, Any], workers: int) -> int:
    tasks, cpu_count = int(metrics["tasks"]), int(metrics["cpu_count"])
    if rule.chunksize is None:
        return 1
    if rule.chunksize == DEFAULT:
        return rules.chunksize(tasks=tasks, cpu_count=cpu_count, workers=workers)
    assert not isinstance(rule.chunksize, str)
    return max(1, expressions.evaluate(rule.chunksize, names(tasks, cpu_count, workers)))
