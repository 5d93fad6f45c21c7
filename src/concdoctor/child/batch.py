"""Inside the child: what it does with the batch. The sequential baseline, the trials on
each executor, and the runs that time a pool's own cost.

The baseline chooses the tasks: every input the child holds, in input order, or a
sample of them (see :mod:`concdoctor.baseline.budget`); every later trial runs exactly those
tasks, so that speedups and results compare task for task.
"""

from __future__ import annotations

import multiprocessing
import pickle
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from concdoctor.baseline import budget
from concdoctor.child import results, shipping, statecheck
from concdoctor.child import runners as executors
from concdoctor.child.resolve import Resolved, user_traceback
from concdoctor.diagnosis import ResultsCheck
from concdoctor.executors import SEQUENTIAL
from concdoctor.protocol import (
    BaselineDone,
    Failed,
    Progress,
    RunBaseline,
    RunTrial,
    TooBig,
    TrialDone,
)

RERUN_TIMEOUT = 60.0
"""Seconds the forked copy may take to run the first tasks again."""
SIZED_TASKS = 5
"""The first tasks whose inputs and results are pickled to size what a pool ships."""
PROGRESS_EVERY = 0.25
"""Seconds between progress messages."""

Send = Callable[[Progress], None]


@dataclass
class ChildState:
    """What the child keeps between requests: the tasks chosen, the baseline's results."""

    resolved: Resolved
    tasks: Sequence[Any] = ()
    record: results.Record | None = None
    rerun: results.Rerun | None = None
    task_seconds: tuple[float, ...] = ()
    close_fds: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        self.tasks = self.tasks or self.resolved.items

    def varies(self) -> bool:
        """Whether the target's results vary by themselves (asked when a trial differs)."""
        assert self.record is not None
        if self.rerun is not None:
            return self.rerun.varies(self.record, self.task_seconds, RERUN_TIMEOUT)
        count = results.tasks_to_rerun(self.task_seconds)  # no copy: run them here
        try:
            again = [results.digest(self.resolved.task(item)) for item in self.tasks[:count]]
        except Exception:  # the target's own error, run again: the difference stands
            return False
        return again != self.record.digests[:count]

    def close(self) -> None:
        if self.rerun is not None:
            self.rerun.close()
            self.rerun = None


class Ticker:
    """Progress messages, at most every :data:`PROGRESS_EVERY` seconds."""

    def __init__(self, send: Send, total: int) -> None:
        self.send, self.total, self.next = send, total, time.monotonic() + PROGRESS_EVERY

    def tick(self, done: int) -> None:
        now = time.monotonic()
        if now >= self.next:
            self.next = now + PROGRESS_EVERY
            self.send(Progress(done, self.total))


def _concdoctor_task(task: executors.Task, item: Any, loop: Any) -> Any:
    """Every baseline call goes through this frame: samples outside it are not the task's."""
    if loop is not None:
        return loop.run_until_complete(task.coroutine(item))
    return task(item)


def _thread_counters() -> tuple[float, int, int, float]:
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    delay = 0.0
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as handle:
            delay = int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    return time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw, delay


def run_baseline(run: ChildState, request: RunBaseline,
                 send: Send) -> BaselineDone | TooBig | Failed:
    """The chosen tasks once, sequentially, each timed; see :class:`RunBaseline`."""
    if request.start_method:  # as the user's code will start its processes
        multiprocessing.set_start_method(request.start_method, force=True)
    held = run.resolved.items
    chosen = (held if request.sample is None else
              [held[i] for i in budget.stratified(len(held), request.sample, request.seed)])
    task = run.resolved.task
    run.close()
    if request.keep_results:  # the copy starts from this baseline's starting state
        run.record = results.Record()
        run.rerun = results.Rerun.fork(task, chosen, close=run.close_fds)
    watch = _watch(task.func)
    loop = None
    if task.is_coroutine:
        import asyncio
        loop = asyncio.new_event_loop()
    try:
        outcome = _timed_loop(run, request, chosen, loop, Ticker(send, len(chosen)))
    finally:
        if loop is not None:
            loop.close()
    if not isinstance(outcome, BaselineDone):
        return outcome
    run.tasks = chosen[:len(outcome.task_seconds)]
    run.task_seconds = outcome.task_seconds
    problem, value = shipping.checked_at_baseline(
        task, run.tasks, (outcome.process_problem, outcome.value_problem))
    return replace(outcome, process_problem=problem, value_problem=value,
                   shared_state=_writes(watch))


def _pickled_size(item: Any, result: Any) -> int:
    """What shipping this call costs a process pool, in bytes (0 when it cannot)."""
    try:
        return len(pickle.dumps(item)) + len(pickle.dumps(result))
    except Exception:  # pickle raises many types: the pickling problem is reported apart
        return 0


def _timed_loop(run: ChildState, request: RunBaseline, chosen: Sequence[Any], loop: Any,
                ticker: Ticker) -> BaselineDone | TooBig | Failed:
    task, record = run.resolved.task, run.record
    walls: list[float] = []
    sizes: list[int] = []
    checking, first_problem, first_value = 0.0, None, None
    self0, thread0 = resource.getrusage(resource.RUSAGE_SELF), _thread_counters()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    resident0 = executors.current_rss()
    start = time.perf_counter()
    for index, item in enumerate(chosen):
        t0 = time.perf_counter()
        try:
            result = _concdoctor_task(task, item, loop)
        except BaseException as exc:
            return Failed("raised", "baseline", f"{type(exc).__name__}: {exc}",
                          user_traceback(exc), index, short_repr(item))
        t1 = time.perf_counter()
        walls.append(t1 - t0)
        if index == 0:
            first_problem, first_value = shipping.result_problems(result)
        if index < SIZED_TASKS:
            sizes.append(_pickled_size(item, result))
        if record is not None:
            record.add(result)
        checking += time.perf_counter() - t1
        elapsed = t1 - start - checking
        ticker.tick(index + 1)
        if request.deadline is not None and request.sample is None and budget.too_big(
                elapsed, index + 1, len(chosen), request.deadline, request.check_after):
            return TooBig(tuple(walls), elapsed, _thread_counters()[0] - thread0[0])
        if request.deadline is not None and request.sample is not None and (
                elapsed > request.deadline):
            break  # a sample runs in spread order: the tasks done so far are spread too
    wall = time.perf_counter() - start - checking
    self1, thread1 = resource.getrusage(resource.RUSAGE_SELF), _thread_counters()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return BaselineDone(
        wall_seconds=wall, task_seconds=tuple(walls),
        cpu_seconds=(self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime),
        thread_cpu_seconds=thread1[0] - thread0[0], voluntary_switches=thread1[1] - thread0[1],
        involuntary_switches=thread1[2] - thread0[2], run_delay_seconds=thread1[3] - thread0[3],
        process_problem=first_problem,  # the first result's; the inputs' are added after
        value_problem=first_value,
        bytes_per_task=sum(sizes) // max(len(sizes), 1),
        child_programs_cpu_seconds=max(0.0, (children1.ru_utime + children1.ru_stime)
                                       - (children0.ru_utime + children0.ru_stime)),
        task_bytes=max(0, self1.ru_maxrss * 1024 - resident0) if resident0 else 0)


def _watch(func: Callable[..., Any]) -> statecheck.Watch | None:
    """Module state the tasks write: a heuristic, so a scan that trips is no answer."""
    try:
        return statecheck.Watch(func)
    except Exception:  # the user's objects may misbehave under inspection: no verdict
        return None


def _writes(watch: statecheck.Watch | None) -> tuple[str, ...]:
    try:
        return tuple(map(str, watch.writes())) if watch is not None else ()
    except Exception:  # as above
        return ()


def run_trial(run: ChildState, request: RunTrial, send: Send) -> TrialDone:
    """The chosen tasks once on ``request.executor``, their results checked."""
    executor = request.executor
    ticker = Ticker(send, len(run.tasks))
    try:
        done = executors.run_batch(executor, run.resolved.task, run.tasks,
                                   workers=request.workers, chunksize=request.chunksize,
                                   on_result=ticker.tick, timeout=request.timeout,
                                   scheduler=request.cluster,
                                   inner_workers=request.inner_workers)
    except executors.ExecutorUnavailable as exc:
        return TrialDone(executor, skipped=str(exc))
    except BaseException as exc:
        raised = f"{type(exc).__name__}: {exc}"
        return TrialDone(executor, raised=raised, check=ResultsCheck("raised", got=raised))
    check = None
    if run.record is not None and executor != SEQUENTIAL:  # the reference
        check = run.record.compare(done.results, run.tasks, run.varies,
                                   calls=run.resolved.task.unpack)
    return TrialDone(executor, seconds=done.seconds, check=check,
                     task_seconds_mean=done.task_seconds_mean, concurrency=done.concurrency,
                     worker_bytes=done.worker_bytes)


def short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."

