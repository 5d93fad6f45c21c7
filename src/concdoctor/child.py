"""The child runner: the only process that imports and calls the user's code.

Started by :mod:`concdoctor.runner` either as ``python -m concdoctor.child JOB CMD MSG``
(a target named on the command line) or by ``fork`` (a callable handed to the pytest
fixture). It speaks :mod:`concdoctor.protocol`: requests arrive on fd CMD, answers leave
on fd MSG, so the target's own stdout and stderr stay free for it to print on.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor import executors, protocol, results, statecheck, tracing
from concdoctor.diagnosis import ResultsCheck
from concdoctor.protocol import (
    BaselineDone,
    Exit,
    Failed,
    Ready,
    RunBaseline,
    RunTrial,
    RunYappi,
    TrialDone,
    YappiDone,
)
from concdoctor.resolve import Resolved, ResolveError, resolve_job
from concdoctor.target import Job

PR_SET_PTRACER = 0x59616D61


@dataclass
class Channel:
    """The child's end of the conversation: requests in, answers out."""

    commands: Any
    answers: Any

    def send(self, message: protocol.Answer) -> None:
        self.answers.write(protocol.encode(message) + "\n")
        self.answers.flush()

    def receive(self) -> protocol.Message:
        line = self.commands.readline()
        return protocol.decode(line) if line else Exit()

    def fds(self) -> tuple[int, int]:
        return self.commands.fileno(), self.answers.fileno()


def allow_tracer(pid: int) -> None:
    """Let ``pid`` and its descendants (the py-spy samplers) read this process under Yama
    ptrace_scope 1. Where Yama is absent prctl fails with EINVAL: nothing is needed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0)
    except (OSError, AttributeError):
        pass


# -- the frames the parent looks for (names in protocol: TASK_FRAME, WAIT_FRAME) ----------

def _concdoctor_wait(channel: Channel) -> protocol.Message:
    """Every wait for the parent goes through this frame: py-spy samples in it are not
    the task's, even when a non-blocking read truncates the stack above it."""
    return channel.receive()


def _concdoctor_task(task: executors.Task, item: Any, loop: Any) -> Any:
    """Every baseline call goes through this frame: samples outside it are not the task's."""
    if loop is not None:
        return loop.run_until_complete(task.coroutine(item))
    return task(item)


# -- phases -------------------------------------------------------------------------------

def _thread_counters() -> tuple[float, int, int, float]:
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    delay = 0.0
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as handle:
            delay = int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    return time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw, delay


@dataclass
class Run:
    """What the child keeps between requests: the batch, and the baseline's results."""

    resolved: Resolved
    record: results.Record | None = None
    rerun: results.Rerun | None = None
    task_seconds: tuple[float, ...] = ()

    def varies(self) -> bool:
        """Whether the target's results vary by themselves (asked when a trial differs)."""
        assert self.record is not None
        if self.rerun is not None:
            return self.rerun.varies(self.record, self.task_seconds, RERUN_TIMEOUT)
        count = results.tasks_to_rerun(self.task_seconds)  # no copy: run them here
        again = [results.digest(self.resolved.task(item))
                 for item in self.resolved.items[:count]]
        return again != self.record.digests[:count]

    def close(self) -> None:
        if self.rerun is not None:
            self.rerun.close()


RERUN_TIMEOUT = 60.0
"""Seconds the forked copy may take to run the first tasks again."""


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


def run_baseline(run: Run, request: RunBaseline, channel: Channel) -> BaselineDone | Failed:
    task, items = run.resolved.task, run.resolved.items
    if request.keep_results:
        run.record = results.Record()
        run.rerun = results.Rerun.fork(task, items, close=channel.fds())
    watch = _watch(task.func)
    loop = None
    if task.is_coroutine:
        import asyncio
        loop = asyncio.new_event_loop()
    walls: list[float] = []
    checking = 0.0
    first_result: Any = None
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    thread0 = _thread_counters()
    start = time.perf_counter()
    try:
        for index, item in enumerate(items):
            t0 = time.perf_counter()
            try:
                result = _concdoctor_task(task, item, loop)
            except BaseException as exc:
                return Failed("raised", "baseline", f"{type(exc).__name__}: {exc}",
                              _user_traceback(exc), index, _short_repr(item))
            t1 = time.perf_counter()
            walls.append(t1 - t0)
            if index == 0:
                first_result = result
            if run.record is not None:
                run.record.add(result)
                checking += time.perf_counter() - t1
        wall = time.perf_counter() - start - checking
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        thread1 = _thread_counters()
    finally:
        if loop is not None:
            loop.close()
    run.task_seconds = tuple(walls)
    return BaselineDone(
        shared_state=_writes(watch),
        wall_seconds=wall, task_seconds=tuple(walls),
        cpu_seconds=(self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime),
        thread_cpu_seconds=thread1[0] - thread0[0], voluntary_switches=thread1[1] - thread0[1],
        involuntary_switches=thread1[2] - thread0[2], run_delay_seconds=thread1[3] - thread0[3],
        process_problem=(executors.pickling_problem(task, items)
                         or executors.result_pickling_problem(first_result)),
    )


def run_trial(run: Run, request: RunTrial) -> TrialDone:
    executor = request.executor
    resolved = run.resolved
    try:
        seconds, values = executors.run_batch(executor, resolved.task, resolved.items,
                                              workers=request.workers,
                                              chunksize=request.chunksize)
    except executors.ExecutorUnavailable as exc:
        return TrialDone(executor, skipped=str(exc))
    except BaseException as exc:
        raised = f"{type(exc).__name__}: {exc}"
        return TrialDone(executor, raised=raised, check=ResultsCheck("raised", got=raised))
    check = None
    if run.record is not None:
        check = run.record.compare(values, resolved.items, run.varies)
    return TrialDone(executor, seconds=seconds, check=check)


def run_yappi(resolved: Resolved, request: RunYappi) -> YappiDone:
    return tracing.profile_tasks(resolved.task, resolved.items, budget=request.budget)


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user_traceback(exc: BaseException) -> str:
    """The traceback with concdoctor's own frames removed: the user's code is the story."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(os.path.dirname(__file__))]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


# -- entry points -------------------------------------------------------------------------

def serve(channel: Channel, resolve: Callable[[], Resolved]) -> None:
    """Resolve, report readiness, then obey requests until told to exit."""
    try:
        resolved = resolve()
    except ResolveError as exc:
        channel.send(Failed(exc.category, "resolve", str(exc), exc.detail))
        return
    channel.send(Ready(
        protocol=protocol.PROTOCOL_VERSION, location=os.path.dirname(__file__),
        pid=os.getpid(), thread_id=threading.get_native_id(),
        thread_ident=threading.get_ident(), tasks=len(resolved.items),
        is_coroutine=resolved.task.is_coroutine, input_source=resolved.input_source,
        start_method=executors.start_method(), inputs_called=resolved.inputs_called))
    run = Run(resolved)
    try:
        while True:
            request = _concdoctor_wait(channel)
            if isinstance(request, RunBaseline):
                channel.send(run_baseline(run, request, channel))
            elif isinstance(request, RunTrial):
                channel.send(run_trial(run, request))
            elif isinstance(request, RunYappi):
                channel.send(run_yappi(resolved, request))
                return  # a yappi pass may leave a task running: only exiting ends it
            else:
                return
    finally:
        run.close()


def serve_callable(channel: Channel, func: Callable[..., Any], items: Sequence[Any],
                   repeat: bool) -> None:
    """``serve`` for a callable inherited through ``fork`` (the pytest fixture's)."""
    from concdoctor.resolve import make_task

    def resolve() -> Resolved:
        task = make_task(func, pass_item=not repeat)
        return Resolved(task, items, "repeat" if repeat else "inputs")

    serve(channel, resolve)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    job_path, cmd_fd, msg_fd = args[0], int(args[1]), int(args[2])
    with open(job_path, encoding="utf-8") as handle:
        job = Job.from_dict(json.load(handle))
    allow_tracer(os.getppid())
    channel = Channel(os.fdopen(cmd_fd, "r", encoding="utf-8"),
                      os.fdopen(msg_fd, "w", encoding="utf-8"))
    try:
        serve(channel, lambda: resolve_job(job))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
