"""The confirmation stage's side of the child: trials of the batch on each executor.

:mod:`concdoctor.confirm` decides what to measure and what the measurements mean; this
module gives it the one callable it measures with (a trial run in the child, or the
reason an executor cannot run the batch) and the alternatives it may try, with their
worker counts from the rules, most promising first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from concdoctor import executors
from concdoctor.confirm import Candidate, Measure, Skipped, Trial
from concdoctor.diagnosis import Diagnosis, ResultsCheck
from concdoctor.protocol import RunTrial, TrialDone
from concdoctor.recommend import MODELLED_POOLS, alternative_settings
from concdoctor.rules import RuleSet
from concdoctor.runner import ChildRunner


def measure_in(child: ChildRunner, diagnosis: Diagnosis, timeout: float) -> Measure:
    """One run of the batch in the child, its results checked; :class:`Skipped` when the
    executor cannot run it."""
    assert diagnosis.evidence is not None
    problem = diagnosis.evidence.process_problem
    is_coroutine = diagnosis.workload.is_coroutine

    def measure(executor: str, workers: int, chunksize: int) -> Trial:
        if executor == "process" and problem:
            raise Skipped(problem)
        reason = executors.applicable(executor, is_coroutine=is_coroutine)
        if reason:
            raise Skipped(reason)
        done = child.ask(RunTrial(executor, workers, chunksize), TrialDone, timeout)
        if done.skipped:
            raise Skipped(done.skipped)
        if done.raised:  # where sequential did not: this executor breaks the target
            return Trial(None, done.check or ResultsCheck("raised", got=done.raised))
        return Trial(done.seconds, done.check)

    return measure


def alternatives(diagnosis: Diagnosis, rules: RuleSet,
                 predicted: Mapping[str, float]) -> list[Candidate]:
    """Every other executor worth measuring, most promising first by the capacity model."""
    assert diagnosis.evidence is not None
    names = ["thread", "process"] + (["asyncio"] if diagnosis.workload.is_coroutine else [])
    if executors.interpreter_pool() is not None:
        names.append("interpreter")
    names.sort(key=lambda name: -predicted.get(name, 1.0))
    return [Candidate(name, *alternative_settings(
        rules, name, tasks=diagnosis.workload.tasks, cpu_count=diagnosis.environment.cpu_count,
        task_seconds=diagnosis.evidence.task_seconds_median)) for name in names]


def predicted(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The capacity model's speedup per executor, from the metrics."""
    return {name: float(metrics.get(f"predicted_speedup_{name}", 0.0)) for name in MODELLED_POOLS}
