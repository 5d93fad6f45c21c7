"""Metrics + rules -> a recommendation with its worker count and a reason in numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from concdoctor import expressions
from concdoctor.diagnosis import Recommendation
from concdoctor.rules import RuleSet, fill

CHUNK_BELOW_SECONDS = 0.01
"""Alternatives measured on process pools send tasks shorter than this in chunks."""


def recommend(rules: RuleSet, metrics: Mapping[str, Any]) -> Recommendation:
    rule = rules.first_match(metrics)
    if rule is None:
        return Recommendation("sequential", 1, "no-rule",
                              "No rule matched and the rules have no fallback rule.")
    values = {"tasks": int(metrics["tasks"]), "cpu_count": int(metrics["cpu_count"]),
              "workers": 1}
    workers = 1 if rule.executor == "sequential" else max(
        1, expressions.evaluate(rule.workers, values))
    values["workers"] = workers
    chunksize = max(1, expressions.evaluate(rule.chunksize, values)) if rule.chunksize else 1
    filled = {**metrics, "executor": rule.executor, "workers": workers, "chunksize": chunksize}
    return Recommendation(
        executor=rule.executor, workers=workers, rule=rule.id,
        reason=fill(rule.reason, filled), chunksize=chunksize,
        min_speedup=rule.min_speedup,
        advice=fill(rule.advice, filled) if rule.advice else None,
    )


def alternative_settings(rules: RuleSet, executor: str, *, tasks: int, cpu_count: int,
                         task_seconds: float) -> tuple[int, int]:
    """Workers and chunk size for measuring ``executor`` when it is not the advice."""
    values = {"tasks": tasks, "cpu_count": cpu_count, "workers": 1}
    node = rules.alternatives.get(executor)
    workers = 1 if executor == "sequential" or node is None else max(
        1, expressions.evaluate(node, values))
    chunksize = 1
    if executor in ("process", "interpreter") and task_seconds < CHUNK_BELOW_SECONDS:
        chunksize = max(1, -(-tasks // (workers * 4)))
    return workers, chunksize
