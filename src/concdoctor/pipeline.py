"""The diagnosis, stage by stage: child -> evidence -> kind -> rules -> confirmation.

This is the one place that drives the stages in order; each stage lives in its own
module. Target failures (a raise, a crash, a hang) end the run with a partial
:class:`Diagnosis` whose ``failure`` says which phase; usage errors raise
:class:`UsageError` before anything is written.
"""

from __future__ import annotations

import datetime as _dt
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from concdoctor import (
    child,
    classify,
    confirm,
    environment,
    executors,
    findings,
    metrics,
    runner,
    sampling,
)
from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    Failure,
    FunctionStat,
    Recommendation,
    Workload,
)
from concdoctor.errors import UsageError
from concdoctor.recommend import alternative_settings, recommend
from concdoctor.rules import RuleSet
from concdoctor.target import Job

Progress = Callable[[str], None]
FIXED_SECONDS = 0.35
"""Roughly what starting the child and attaching py-spy cost, measured on 2 cores."""


@dataclass
class Request:
    """What to diagnose and how. Either ``job`` (a target named by text, run with
    ``python -m``) or ``func`` + ``items`` (a callable in memory, run in a fork)."""

    rules: RuleSet
    job: Job | None = None
    func: Callable[..., Any] | None = None
    items: Sequence[Any] | None = None
    repeat: bool = False
    confirm: bool = True
    compare_all: bool = False
    trials: int = 3
    timeout: float = 300.0
    sampling: bool = True
    rate: int = 100
    command: str = ""
    progress: Progress = field(default=lambda message: None)

    @property
    def target_text(self) -> str:
        if self.job is not None:
            return self.job.target.text
        func = self.func
        return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', func)}"


class _Stop(Exception):
    """A target failure: the diagnosis ends here with a partial report."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def diagnose(request: Request) -> Diagnosis:
    env = environment.describe()
    state = _State(request, env)
    with _launch(request) as process:
        try:
            state.run(process)
        except _Stop as stop:
            state.failure = stop.failure
        except runner.ChildFailed as exc:
            state.failure = _child_failure(state.phase, exc, process)
    return state.diagnosis()


@contextmanager
def _launch(request: Request) -> Iterator[runner.ChildRunner]:
    if request.job is not None:
        with runner.spawn(request.job) as process:
            yield process
        return
    func, items = request.func, list(request.items or [])
    assert func is not None

    def resolve() -> child.Resolved:
        task = child.make_task(func, pass_item=not request.repeat)
        return child.Resolved(task, items, "repeat" if request.repeat else "inputs")

    with runner.fork(lambda channel: child.serve(channel, resolve)) as process:
        yield process


def _child_failure(phase: str, exc: runner.ChildFailed, process: runner.ChildRunner) -> (
        Failure):
    tail = process.stderr.text().strip()
    if exc.timed_out:
        message = (f"the {phase} phase ran past the --timeout ({exc}); the child process "
                   "tree was ended")
    else:
        message = f"the {phase} phase failed: {exc}"
    return Failure(phase=phase, message=message, detail=tail[-4000:] or None)


class _State:
    """The evidence gathered so far; whatever exists when a phase fails is reported."""

    def __init__(self, request: Request, env: Environment) -> None:
        self.request = request
        self.env = env
        self.phase = "resolve"
        self.workload = Workload(tasks=len(request.items or ()))
        self.evidence: Evidence | None = None
        self.classification: Classification | None = None
        self.recommendation: Recommendation | None = None
        self.confirmation: Confirmation | None = None
        self.failure: Failure | None = None
        self.notes: list[str] = []
        self.process_problem: str | None = None
        self.process: runner.ChildRunner | None = None
        self.thread_labels: tuple[str, ...] = ()
        self.metrics: dict[str, Any] = {}
        self.run_delay = 0.0

    # -- the phases ------------------------------------------------------------------------
    def run(self, process: runner.ChildRunner) -> None:
        self.process = process
        ready = self.expect("ready")
        self.workload = Workload(ready["tasks"], ready["is_coroutine"], ready["input_source"])
        self.thread_labels = sampling.thread_labels(int(ready["thread_id"]),
                                                    int(ready["thread_ident"]))
        self.env = replace(self.env, start_method=ready.get("start_method", ""))
        self.baseline(process)
        self.decide()
        if self.request.confirm:
            self.phase = "confirm"
            self.confirm()
        self.phase = "yappi"
        self.profile()

    def expect(self, event: str) -> dict[str, Any]:
        assert self.process is not None
        message = self.process.wait_event(self.request.timeout)
        if message.get("event") == "error":
            self.error(message)
        if message.get("event") != event:
            raise _Stop(Failure(self.phase, f"unexpected answer from the child: {message}"))
        return message

    def error(self, message: dict[str, Any]) -> None:
        if message.get("category") == "usage":
            raise UsageError(message["message"])
        text = message["message"]
        if "index" in message:
            text = (f"the target raised on input #{message['index']} "
                    f"({message.get('input')}): {text}")
        raise _Stop(Failure(message.get("phase", self.phase), text, message.get("detail")))

    def baseline(self, process: runner.ChildRunner) -> None:
        self.phase = "baseline"
        say = self.request.progress
        samplers, degraded = self.start_sampling(process.pid)
        say(f"running {self.workload.tasks} tasks sequentially"
            + (" under py-spy" if samplers else ""))
        shares = None
        try:
            process.send("baseline")
            data = self.expect("baseline")
            if samplers:
                samplers.stop()
                shares = samplers.shares(data["wall_seconds"], self.thread_labels)
        finally:
            if samplers:
                samplers.kill()
                samplers.directory_cleanup()
        if shares is not None and shares.expected < 5:
            degraded = (f"the baseline lasted {data['wall_seconds'] * 1000:.1f} ms, too short "
                        f"for py-spy at {self.request.rate} samples/s to tell its states")
        elif shares is not None and shares.total < shares.expected // 4:
            degraded = (f"py-spy took {shares.total} samples of the ~{shares.expected} "
                        "expected; the shares are unreliable")
        self.evidence = _evidence(data, shares if not degraded else None, degraded,
                                  self.request.rate)
        self.blend_shares(data, shares.gil_estimate if shares else None)
        self.process_problem = data.get("process_problem")
        self.run_delay = float(data.get("run_delay_seconds", 0.0))

    def blend_shares(self, data: dict[str, Any], gil_estimate: float | None) -> None:
        evidence = self.evidence
        if evidence is None or evidence.idle_fraction is None or not evidence.wall_seconds:
            return
        busy = (data["thread_cpu_seconds"] + float(data.get("run_delay_seconds", 0.0))) / (
            evidence.wall_seconds)
        fractions, note = sampling.blend(
            (evidence.idle_fraction, evidence.gil_fraction or 0.0,
             evidence.released_fraction or 0.0), busy, gil_estimate)
        if note:
            self.notes.append(note)
        idle, gil, released = (round(value, 4) for value in fractions)
        self.evidence = replace(evidence, idle_fraction=idle, gil_fraction=gil,
                                released_fraction=released)

    def start_sampling(self, pid: int) -> tuple[sampling.Samplers | None, str | None]:
        if not self.request.sampling:
            return None, "sampling was turned off (--no-sampling)"
        binary = sampling.find_py_spy()
        if binary is None:
            return None, "py-spy is not installed; install it with 'pip install py-spy'"
        self.request.progress("attaching py-spy")
        samplers = sampling.Samplers(binary, pid, Path(tempfile.mkdtemp(prefix="concdoctor-")),
                                     rate=self.request.rate)
        try:
            samplers.start()
        except sampling.SamplingUnavailable as exc:
            samplers.directory_cleanup()
            return None, str(exc)
        return samplers, None

    def decide(self) -> None:
        assert self.evidence is not None
        self.phase = "classify"
        self.classification = classify.classify(self.evidence, cpu_count=self.env.cpu_count,
                                                run_delay_seconds=self.run_delay)
        facts = metrics.Facts(self.process_problem, executors.interpreter_pool() is not None)
        values = metrics.build_metrics(self.evidence, self.classification, self.workload,
                                       self.env, facts)
        self.metrics = values
        self.recommendation = recommend(self.request.rules, values)
        if self.process_problem:
            self.notes.append(f"process executor unavailable: {self.process_problem}")

    def confirm(self) -> None:
        assert self.evidence is not None and self.recommendation is not None
        from concdoctor.confirm import Candidate, Skipped

        def measure(executor: str, workers: int, chunksize: int) -> float:
            if executor == "process" and self.process_problem:
                raise Skipped(self.process_problem)
            reason = executors.applicable(executor, is_coroutine=self.workload.is_coroutine)
            if reason:
                raise Skipped(reason)
            assert self.process is not None
            self.phase = f"confirm:{executor}"
            self.process.send("trial", executor=executor, workers=workers, chunksize=chunksize)
            answer = self.process.wait_event(self.request.timeout)
            if answer.get("event") == "error":
                raise Skipped(f"the target raised on {executor}: {answer['message']}")
            if answer.get("skipped"):
                raise Skipped(answer["skipped"])
            return float(answer["seconds"])

        candidates = [Candidate(name, *alternative_settings(
            self.request.rules, name, tasks=self.workload.tasks, cpu_count=self.env.cpu_count,
            task_seconds=self.evidence.task_seconds_median))
            for name in _alternative_order(self.metrics, self.workload.is_coroutine)]
        self.confirmation, self.recommendation = confirm.confirm(
            self.recommendation, baseline_seconds=self.evidence.wall_seconds, measure=measure,
            alternatives=candidates, trials=self.request.trials,
            compare_all=self.request.compare_all, progress=self.request.progress,
            expected={name: self.metrics.get(f"predicted_speedup_{name}", 0.0)
                      for name in ("thread", "process", "asyncio")})

    def profile(self) -> None:
        assert self.process is not None and self.evidence is not None
        self.request.progress("profiling a few tasks with yappi")
        budget = yappi_budget(self.evidence, self.confirmation)
        self.process.send("yappi", budget=budget)
        try:
            answer = self.process.wait_event(self.request.timeout + budget)
        except runner.ChildFailed as exc:
            self.notes.append(f"yappi profile unavailable: {exc}")
            return
        if not answer.get("available", False):
            self.notes.append(f"yappi profile unavailable: {answer.get('reason')}")
            return
        functions = tuple(FunctionStat(**row) for row in answer["functions"])
        self.evidence = replace(self.evidence, top_functions=functions,
                                blocking_calls=findings.blocking_calls(functions))

    # -- the result -------------------------------------------------------------------------
    def diagnosis(self) -> Diagnosis:
        blocked = findings.blocked_event_loop(self.workload, self.classification,
                                              self.evidence, self.confirmation)
        if blocked:
            self.notes.append(blocked)
        if self.process is not None:
            for name, tail in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
                if tail.total:
                    self.notes.append(f"the target wrote {tail.total} bytes to {name} "
                                      "(captured, not shown)")
        if self.evidence and self.evidence.degraded:
            self.notes.insert(0, f"evidence degraded: {self.evidence.degraded_reason}")
        return Diagnosis(
            target=self.request.target_text, workload=self.workload, environment=self.env,
            evidence=self.evidence, classification=self.classification,
            recommendation=self.recommendation if self.failure is None
            or self.failure.phase.startswith("confirm") or self.failure.phase == "yappi"
            else None,
            confirmation=self.confirmation, failure=self.failure,
            notes=tuple(dict.fromkeys(self.notes)), command=self.request.command,
            created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )


def yappi_budget(evidence: Evidence, confirmation: Confirmation | None) -> float:
    """Seconds for yappi's two passes, taken from the slack the run has left.

    A diagnosis should cost at most 2 x (sequential + recommended) batch time. The
    baseline and three trials spend seq + 3 x rec of it, so what remains is about
    seq - rec, less the fixed costs (child start, py-spy attach). Where the slack is
    large (I/O that threads speed up 10x), a pass covers a whole typical task, so a
    long wait shows up complete; where it is small (CPU work that processes halve), a
    short pass still names the hot functions: tracing slows them 10-45x anyway.
    """
    whole_tasks = min(2 * 1.1 * evidence.task_seconds_median + 0.05, 4.0)
    if confirmation is None or confirmation.recommended_seconds is None:
        return max(0.05, min(whole_tasks, 0.2 * evidence.wall_seconds))
    slack = confirmation.baseline_seconds - confirmation.recommended_seconds - FIXED_SECONDS
    return max(0.05, min(whole_tasks, 0.5 * slack))


def _evidence(data: dict[str, Any], shares: sampling.Shares | None, degraded: str | None,
              rate: int) -> Evidence:
    tasks = data["task_seconds"] or [0.0]
    fractions = shares.fractions() if shares else (None, None, None)
    return Evidence(
        wall_seconds=round(data["wall_seconds"], 6), cpu_seconds=round(data["cpu_seconds"], 6),
        thread_cpu_seconds=round(data["thread_cpu_seconds"], 6),
        task_seconds_median=round(statistics.median(tasks), 6),
        task_seconds_max=round(max(tasks), 6),
        voluntary_switches=int(data["voluntary_switches"]),
        involuntary_switches=int(data["involuntary_switches"]),
        idle_fraction=_round(fractions[0]), gil_fraction=_round(fractions[1]),
        released_fraction=_round(fractions[2]),
        samples=shares.total if shares else 0, sampling_rate=rate if shares else 0,
        degraded=shares is None, degraded_reason=degraded,
        stacks=shares.stacks if shares else (),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _alternative_order(values: dict[str, Any], is_coroutine: bool) -> list[str]:
    """Alternatives to measure, most promising first (by the capacity model)."""
    names = ["thread", "process"] + (["asyncio"] if is_coroutine else [])
    if executors.interpreter_pool() is not None:
        names.append("interpreter")
    predicted = {name: values.get(f"predicted_speedup_{name}", 1.0) for name in names}
    return sorted(names, key=lambda name: -predicted.get(name, 1.0))


