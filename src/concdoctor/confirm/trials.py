"""The confirmation stage's side of the child: trials of the batch on each executor.

:mod:`concdoctor.confirm.policy` decides what to measure and what the measurements mean;
this module gives it the one callable it measures with (a trial run in the child, or
the reason an executor cannot run the batch) and the alternatives it may try, with
their worker counts from the rules, most promising first.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from concdoctor import executors as registry
from concdoctor.confirm.ledger import Candidate, Measure, Skipped, Trial
from concdoctor.confirm.prediction import TrialSummary, extrapolate
from concdoctor.decide.recommend import pool_for
from concdoctor.decide.rules import RuleSet
from concdoctor.diagnosis import Diagnosis, Prediction, ResultsCheck
from concdoctor.protocol import RunTrial, TrialDone
from concdoctor.runner import ChildRunner

GIVE_UP = 0.9
"""Of the --timeout, when the child gives up a pool that may never raise (so the phase
ends with the executor skipped, not with the whole diagnosis timed out)."""


def measure_in(child: ChildRunner, diagnosis: Diagnosis, timeout: float,
               progress: Callable[..., None] | None = None,
               scheduler: str | None = None) -> Measure:
    """One run of the batch in the child, its results checked; :class:`Skipped` when the
    executor cannot run it. On a sample, chunks shrink with it (see :func:`chunks`)."""
    assert diagnosis.evidence is not None
    problem = diagnosis.evidence.process_problem
    is_coroutine = diagnosis.workload.is_coroutine
    say = progress or (lambda *args: None)

    def measure(executor: str, workers: int, chunksize: int, inner_workers: int = 1) -> Trial:
        entry = registry.get(executor)
        if entry.ships and problem:
            raise Skipped(problem)
        if entry.needs_coroutine and not is_coroutine:
            raise Skipped(f"{executor} needs an async def function; this one is synchronous")
        reason = entry.unavailable()
        if reason:
            raise Skipped(reason)
        what = f"measuring {executor} ({workers} workers)"
        request = RunTrial(executor, workers, chunks(diagnosis, chunksize),
                           timeout=GIVE_UP * timeout,
                           cluster=scheduler if entry.on_cluster else None,
                           inner_workers=inner_workers)
        done = child.ask(request, TrialDone, timeout,
                         on_progress=lambda p: say(what, p.done, p.total))
        if done.skipped:
            raise Skipped(done.skipped)
        if done.raised:  # where sequential did not: this executor breaks the target
            return Trial(None, done.check or ResultsCheck("raised", got=done.raised))
        return Trial(done.seconds, done.check, done.task_seconds_mean, done.concurrency,
                     done.worker_bytes)

    return measure


def alternatives(rules: RuleSet, metrics: Mapping[str, Any],
                 also: Collection[str] = ()) -> list[Candidate]:
    """Every other executor worth measuring, sized as the capacity model sizes it, most
    promising first (one that is ``opt_in``, a cluster, only when named in ``also``: it
    costs seconds to start). One this Python cannot run is kept: its skip says why."""
    coroutine = bool(metrics["is_coroutine"])
    expected = predicted(metrics)
    names = [e.name for e in registry.pools() if (coroutine or not e.needs_coroutine)
             and (not e.opt_in or e.name in also)]
    names.sort(key=lambda name: -expected.get(name, 1.0))
    pools = {name: pool_for(rules, name, metrics) for name in names}
    return [Candidate(name, pools[name].workers, pools[name].chunksize,
                      pools[name].inner_workers) for name in names]


def predicted(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The capacity model's speedup per executor, from the metrics."""
    return {e.name: float(metrics.get(f"predicted_speedup_{e.name}", 0.0))
            for e in registry.modelled() if not e.opt_in}


def chunks(diagnosis: Diagnosis, chunksize: int) -> int:
    """The chunk size for the tasks the baseline ran: on a sample, as many chunks as the
    whole batch will be cut into, so the sample's pool balances its work the same way."""
    evidence = diagnosis.evidence
    sampled = evidence.sampled_tasks if evidence else None
    if sampled is None or chunksize <= 1:
        return chunksize
    return max(1, round(chunksize * sampled / max(diagnosis.workload.tasks, 1)))


def prediction(diagnosis: Diagnosis) -> Prediction:
    """The whole batch predicted from the sample and the advice's trials on it (from the
    capacity model's speedup for the advice when no trial ran)."""
    evidence, rec = diagnosis.evidence, diagnosis.recommendation
    assert evidence is not None and evidence.sampled_tasks is not None and rec is not None
    result = next((r for r in diagnosis.confirmation.results if r.executor == rec.executor),
                  None) if diagnosis.confirmation else None
    measured = result is not None and not result.unsafe and bool(result.seconds)
    return extrapolate(
        tasks=diagnosis.workload.tasks, seed=evidence.seed or 0,
        task_seconds_mean=evidence.task_seconds_mean,
        task_seconds_stdev=evidence.task_seconds_stdev, sampled=evidence.sampled_tasks,
        executor=rec.executor, workers=rec.workers,
        trial=TrialSummary(result.seconds, result.task_seconds_mean or evidence.task_seconds_mean,
                   result.concurrency or 1.0) if measured and result else None,
        model_speedup=rec.predicted_speedup or 1.0)
