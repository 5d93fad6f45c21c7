"""The diagnosis, stage by stage: child -> evidence -> kind -> rules -> confirmation.

:func:`diagnose` is the pipeline, read top to bottom. Each stage takes the
:class:`Diagnosis` so far and returns it grown (frozen data, grown with ``replace``);
the work of each stage lives in its own module. When the target raises, crashes or
hangs, a stage raises :class:`StageFailed` and the Diagnosis so far, with its
``failure``, is the partial report: nothing else has to remember how far the run got.
Usage errors raise :class:`UsageError` before anything is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from concdoctor import environment, runner
from concdoctor import executors as registry
from concdoctor.baseline import budget
from concdoctor.baseline.evidence import measure_baseline
from concdoctor.conclude import findings
from concdoctor.conclude.snippet import snippet
from concdoctor.confirm import policy as confirm
from concdoctor.confirm import trials
from concdoctor.decide import capacity as scaling
from concdoctor.decide.classify import classify
from concdoctor.decide.recommend import metrics_of, predicted_speedup, recommend
from concdoctor.decide.rules import RuleSet
from concdoctor.diagnosis import Diagnosis, Workload
from concdoctor.environment import pool_start_methods
from concdoctor.options import DEFAULTS, Options
from concdoctor.protocol import Ready, RunYappi, YappiDone
from concdoctor.runner import ChildRunner, StageFailed
from concdoctor.target import Job

Progress = Callable[..., None]
"""``progress(message)`` as a phase begins; ``progress(message, done, total)`` as its
tasks are done."""
SNIPPET_INPUTS_CHARS = 300
"""Inputs given as a list shorter than this (as JSON) are written out in the snippet."""


def quiet(message: str, done: int | None = None, total: int | None = None) -> None:
    """A progress callback that says nothing."""


@dataclass(frozen=True)
class Request:
    """What to diagnose and how. Either ``job`` (a target named by text, run with
    ``python -m``) or ``func`` + ``items`` (a callable in memory, run in a fork)."""

    rules: RuleSet
    options: Options = DEFAULTS
    job: Job | None = None
    func: Callable[..., Any] | None = None
    items: Sequence[Any] = ()
    repeat: bool = False
    calls: bool = False
    """Each of ``items`` is a call's ``(args, kwargs)``."""
    command: str = ""
    progress: Progress = quiet
    scheduler: str | None = None
    """The dask scheduler to measure on too (checked before the run), or None."""
    cluster_workers: int = 0
    cluster_mismatch: str | None = None
    """The versions that differ across the cluster (one line, said before measuring)."""
    meanwhile: Callable[[], object] | None = None
    """The caller's own work, done while the child starts and imports the target (the CLI
    loads its renderer then): on two cores the two overlap."""

    @property
    def target_text(self) -> str:
        if self.job is not None:
            return self.job.target.text
        func = self.func
        return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', func)}"


def diagnose(request: Request) -> Diagnosis:
    """The pipeline. Every stage grows the Diagnosis; a failing stage leaves it partial."""
    options = request.options
    clock = Clock(options.budget)
    with _launch(request) as process:
        diagnosis = _begun(request)  # while the child starts and imports the target
        if request.meanwhile is not None:
            request.meanwhile()
        try:
            ready = process.ask(None, Ready, options.timeout)
            diagnosis = _resolved(diagnosis, ready, request)
            diagnosis = _baseline(diagnosis, process, ready, request)
            diagnosis = _classified(diagnosis)
            diagnosis = _recommended(diagnosis, request.rules)
            if options.confirm:
                diagnosis = _confirmed(diagnosis, process, request, clock)
            diagnosis = _predicted(diagnosis)
            diagnosis = _scaled(diagnosis)
            diagnosis = _profiled(diagnosis, process, request, clock)
        except StageFailed as failed:
            diagnosis = replace(diagnosis, failure=failed.failure)
    return _concluded(diagnosis, process)


# -- the stages -------------------------------------------------------------------------------

def _begun(request: Request) -> Diagnosis:
    """The diagnosis before anything is measured: what it is of, and where it runs."""
    options = request.options
    env = replace(environment.describe(), cluster=request.scheduler,
                  cluster_workers=request.cluster_workers,
                  project=str((options.project or Path.cwd()).resolve()))
    if options.memory_limit is not None:
        env = replace(env, memory_limit_bytes=options.memory_limit,
                      memory_limit_source="--memory-limit")
    diagnosis = Diagnosis(target=request.target_text, workload=Workload(len(request.items)),
                          environment=env, command=request.command)
    if request.cluster_mismatch:
        request.progress(request.cluster_mismatch)
        diagnosis = _noted(diagnosis, request.cluster_mismatch)
    return diagnosis


def _resolved(d: Diagnosis, ready: Ready, request: Request) -> Diagnosis:
    """The child imported the target and found its inputs."""
    source = request.job.inputs.source if request.job is not None else None
    workload = Workload(ready.tasks, ready.is_coroutine, ready.input_source,
                        inputs_from=source.text if source is not None else None,
                        inputs_called=ready.inputs_called, inputs_json=_short_json(request),
                        calls=request.calls or bool(request.job and request.job.inputs.unpack))
    method = request.options.start_method or ready.start_method  # what the trials use
    environment = replace(d.environment, start_method=method,
                          start_methods=pool_start_methods(method),
                          gil_enabled=ready.gil_enabled, containment=ready.containment)
    d = replace(d, workload=workload, environment=environment)
    if environment.free_threaded_build and ready.gil_enabled:
        return _noted(d, "this free-threaded Python runs the target with the GIL on: a C "
                         "extension it imports does not declare that it can run without "
                         "(PYTHON_GIL=0 forces the GIL off, at that extension's risk)")
    return d


def _short_json(request: Request) -> str | None:
    """The inputs as a JSON list for the snippet, when they were given as a short one."""
    items = request.job.inputs.items if request.job is not None else request.items
    if not items or request.repeat:
        return None
    try:
        text = json.dumps(list(items))
    except (TypeError, ValueError):
        return None
    return text if len(text) <= SNIPPET_INPUTS_CHARS else None


def _baseline(d: Diagnosis, process: ChildRunner, ready: Ready, request: Request) -> Diagnosis:
    """The batch (or a sample of it) once, sequentially, under py-spy: the evidence."""
    # the widest pool the batch may get: a sample of waiting work keeps it busy
    io_workers = max(request.rules.workers(e.name, tasks=ready.tasks,
                                           cpu_count=d.environment.cpu_count)
                     for e in registry.pools() if e.kneed)
    baseline = measure_baseline(process, ready, request.options, request.progress, io_workers)
    return _noted(replace(d, evidence=baseline.evidence), *baseline.notes)


def _classified(d: Diagnosis) -> Diagnosis:
    """The kind of bottleneck, a pure function of the evidence."""
    assert d.evidence is not None
    return replace(d, classification=classify(d.evidence, cpu_count=d.environment.cpu_count,
                                              run_delay_seconds=d.evidence.run_delay_seconds))


def _recommended(d: Diagnosis, rules: RuleSet) -> Diagnosis:
    """The decision matrix's advice for these metrics."""
    assert d.evidence is not None
    problem = d.evidence.process_problem
    d = replace(d, recommendation=recommend(rules, metrics_of(d, rules)))
    return _noted(d, f"process executor unavailable: {problem}") if problem else d


def _confirmed(d: Diagnosis, process: ChildRunner, request: Request, clock: Clock) -> (
        Diagnosis):
    """The batch re-run on the advice (and on alternatives when it falls short)."""
    assert d.evidence is not None and d.recommendation is not None
    options = request.options
    metrics = metrics_of(d, request.rules)
    predicted = trials.predicted(metrics)
    on_cluster = (e.name for e in registry.pools() if e.on_cluster and request.scheduler)
    also = (*options.compare, *on_cluster)
    confirmation, recommendation = confirm.confirm(
        d.recommendation, baseline_seconds=d.evidence.wall_seconds,
        measure=trials.measure_in(process, d, options.timeout, request.progress,
                                  request.scheduler),
        alternatives=trials.alternatives(request.rules, metrics, also),
        trials=options.trials, compare_all=options.compare_all, progress=request.progress,
        expected=predicted, adaptive=options.adaptive, time_left=clock.left, also=also)
    if recommendation is not d.recommendation:  # revised: the model's word on the new one
        recommendation = replace(recommendation, predicted_speedup=predicted_speedup(
            recommendation.executor, recommendation.workers, metrics))
    return replace(d, confirmation=confirmation, recommendation=recommendation)


def _predicted(d: Diagnosis) -> Diagnosis:
    """The whole batch's times, predicted, when the diagnosis ran on a sample."""
    if d.evidence is None or d.evidence.sampled_tasks is None or d.recommendation is None:
        return d
    return replace(d, prediction=trials.prediction(d))


def _scaled(d: Diagnosis) -> Diagnosis:
    """Each executor's speedup at every worker count, through what was measured."""
    return replace(d, scaling=scaling.curves(d))


def _profiled(d: Diagnosis, process: ChildRunner, request: Request, clock: Clock) -> Diagnosis:
    """yappi over a few tasks, last: tracing must not touch the timed runs."""
    assert d.evidence is not None
    request.progress("profiling a few tasks with yappi")
    awaiting = findings.awaits_in_loop(d.evidence)  # no blocking call to name
    passes = budget.tracing_seconds(d.evidence, d.confirmation, clock.left(),
                                    name_waits=not awaiting)
    try:
        done = process.ask(RunYappi(passes.wall, passes.cpu, passes.cpu_share,
                                    passes.whole_task), YappiDone,
                           request.options.timeout + passes.wall + passes.cpu)
    except StageFailed as failed:
        return _noted(d, f"yappi profile unavailable: {failed.failure.message}")
    if not done.available:
        return _noted(d, f"yappi profile unavailable: {done.reason}")
    evidence = replace(d.evidence, top_functions=done.functions,
                       traced_seconds=done.traced_seconds, traced_tasks=done.tasks_done,
                       blocking_calls=() if awaiting else findings.blocking_calls(
                           done.functions))
    return replace(d, evidence=evidence)


def _concluded(d: Diagnosis, process: ChildRunner) -> Diagnosis:
    """What the measurements say beyond the verdict, and when the run ended."""
    d = replace(d, left_running=findings.tally(process.left))
    notes = []
    if d.evidence is not None and d.evidence.degraded:
        notes.append(f"evidence degraded: {d.evidence.degraded_reason}")
    notes.extend(d.notes)
    for finding in (findings.blocked_event_loop(d.workload, d.classification, d.evidence,
                                                d.confirmation),
                    findings.shared_state(d.recommendation, d.evidence, d.confirmation),
                    findings.child_programs(d.evidence, d.environment),
                    findings.many_connections(d.recommendation),
                    findings.memory_bound(d.recommendation, d.evidence, d.environment),
                    findings.left_running(d.left_running)):
        if finding:
            notes.append(finding)
    for name, tail in (("stdout", process.stdout), ("stderr", process.stderr)):
        if tail.total:
            notes.append(f"the target wrote {tail.total} bytes to {name} (captured, not shown)")
    d = replace(d, notes=tuple(dict.fromkeys(notes)),
                created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if d.recommendation is None:
        return d
    return replace(d, recommendation=replace(d.recommendation, snippet=snippet(d)))


class Clock:
    """The budget's seconds, counted from the start of the diagnosis."""

    def __init__(self, budget: float) -> None:
        self.end = time.monotonic() + budget

    def left(self) -> float:
        return self.end - time.monotonic()


def _noted(d: Diagnosis, *notes: str) -> Diagnosis:
    return replace(d, notes=d.notes + notes) if notes else d


# -- the child --------------------------------------------------------------------------------

@contextmanager
def _launch(request: Request) -> Iterator[ChildRunner]:
    keep = request.options.keep_detached
    if request.job is not None:
        with runner.spawn(request.job, keep_detached=keep) as process:
            yield process
        return
    from concdoctor.child import serve as child  # the child's side: only to fork it

    func, items, repeat = request.func, list(request.items), request.repeat
    assert func is not None
    with runner.fork(lambda channel, reaper: child.serve_callable(
            channel, reaper, func, items, repeat, request.calls),
            keep_detached=keep) as process:
        yield process
