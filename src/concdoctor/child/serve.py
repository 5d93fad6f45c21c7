"""The child runner: the only process that imports and calls the user's code.

Started by :mod:`concdoctor.runner` either as ``python -m concdoctor.child.serve JOB CMD MSG``
(a target named on the command line) or by ``fork`` (a callable handed to the pytest
fixture). It speaks :mod:`concdoctor.protocol`: requests arrive on fd CMD, answers leave
on fd MSG, so the target's own stdout and stderr stay free for it to print on.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor import environment, protocol
from concdoctor.child import batch, tracing
from concdoctor.child.reaper import Reaper, helpers
from concdoctor.child.resolve import Resolved, ResolveError, resolve_job
from concdoctor.protocol import (
    Exit,
    Failed,
    Ready,
    RunBaseline,
    RunTrial,
    RunYappi,
)
from concdoctor.target import Job

PR_SET_PTRACER = 0x59616D61
FINAL_WAIT = 60.0
"""Seconds the child, done, waits for the parent to end it before it exits by itself."""
UNTIMED_SWITCH_SECONDS = 1e-4
"""The GIL's switch interval once nothing is timed (see :func:`_untimed`)."""


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


# -- the frame the parent looks for (protocol.WAIT_FRAME; TASK_FRAME is in batch.py) -------

def _concdoctor_wait(channel: Channel) -> protocol.Message:
    """Every wait for the parent goes through this frame: py-spy samples in it are not
    the task's, even when a non-blocking read truncates the stack above it."""
    return channel.receive()


def gil_enabled() -> bool:
    """Whether the GIL is on in this process now (always, before free-threaded builds)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check is not None else True


# -- entry points -------------------------------------------------------------------------

def serve(channel: Channel, resolve: Callable[[], Resolved], reaper: Reaper) -> None:
    """Resolve, report readiness, then obey requests until told to exit. What the target
    leaves running is swept after each phase and when the child is done (``reaper``)."""
    run: batch.ChildState | None = None
    try:
        try:
            resolved = resolve()
        except ResolveError as exc:
            channel.send(Failed(exc.category, "resolve", str(exc), exc.detail))
            return
        channel.send(Ready(
            protocol=protocol.PROTOCOL_VERSION, location=os.path.dirname(__file__),
            pid=os.getpid(), thread_id=threading.get_native_id(),
            thread_ident=threading.get_ident(), tasks=resolved.total,
            is_coroutine=resolved.task.is_coroutine, input_source=resolved.input_source,
            start_method=environment.start_method(), inputs_called=resolved.inputs_called,
            held=len(resolved.items), gil_enabled=gil_enabled(),
            containment=reaper.containment))
        run = batch.ChildState(resolved, close_fds=channel.fds())
        _obey(channel, run, reaper)
    finally:
        if run is not None:
            run.close()
        _done(channel, reaper)


def _obey(channel: Channel, run: batch.ChildState, reaper: Reaper) -> None:
    while True:
        request = _concdoctor_wait(channel)
        if isinstance(request, RunYappi):
            _untimed()
            channel.send(tracing.profile_tasks(run.resolved.task, run.tasks,
                                               budget=request.budget,
                                               cpu_budget=request.cpu_budget,
                                               cpu_share=request.cpu_share,
                                               one_task=request.one_task))
            return  # a yappi pass may leave a task running: only the child's end ends it
        if isinstance(request, RunBaseline):
            answer: protocol.Answer = batch.run_baseline(run, request, channel.send)
        elif isinstance(request, RunTrial):
            answer = batch.run_trial(run, request, channel.send)
        else:
            return
        rerun = {run.rerun.pid} if run.rerun is not None else set()
        swept = reaper.sweep(helpers(between_phases=True) | rerun)
        if swept.ended or swept.kept:
            channel.send(swept)
        channel.send(answer)


def _untimed() -> None:
    """Nothing is timed from here on, but a task may go on in a thread (one a yappi pass
    left running, or one the target started): hand the GIL over often, or each of this
    thread's reads and writes waits a switch interval (5 ms) to take it back, and the
    last sweep's hundreds of reads took up to a second."""
    sys.setswitchinterval(UNTIMED_SWITCH_SECONDS)


def _done(channel: Channel, reaper: Reaper) -> None:
    """The last sweep, then wait for the parent to end this process: it freezes and
    kills the child's tree (or its cgroup) at once, so that a process a thread of the
    target starts after this sweep cannot outlive the child either."""
    _untimed()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        channel.send(reaper.sweep(helpers(between_phases=False), final=True))
        fd = channel.commands.fileno()
        deadline = time.monotonic() + FINAL_WAIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if ready and not os.read(fd, 4096):
                return  # the parent is gone: nobody will end this process
    except (OSError, ValueError):
        return  # the channel is closed: the parent is gone


def serve_callable(channel: Channel, reaper: Reaper, func: Callable[..., Any],
                   items: Sequence[Any], repeat: bool, calls: bool = False) -> None:
    """``serve`` for a callable inherited through ``fork`` (the pytest fixture's); with
    ``calls``, each item is a call's ``(args, kwargs)``."""
    from concdoctor.child.resolve import make_task

    def resolve() -> Resolved:
        task = make_task(func, pass_item=not repeat, calls=items if calls else None)
        return Resolved(task, items, "repeat" if repeat else "inputs")

    serve(channel, resolve, reaper)


def main(argv: Sequence[str] | None = None) -> None:
    """``JOB CMD MSG [--cgroup PATH] [--keep-detached]``: the job file, the channel's
    descriptors, the cgroup to join first of all, and what to do with detached helpers."""
    args = list(sys.argv[1:] if argv is None else argv)
    job_path, cmd_fd, msg_fd, flags = args[0], int(args[1]), int(args[2]), args[3:]
    cgroup = flags[flags.index("--cgroup") + 1] if "--cgroup" in flags else None
    reaper = Reaper.start(cgroup, keep_detached="--keep-detached" in flags)
    with open(job_path, encoding="utf-8") as handle:
        job = Job.from_dict(json.load(handle))
    allow_tracer(os.getppid())
    channel = Channel(os.fdopen(cmd_fd, "r", encoding="utf-8"),
                      os.fdopen(msg_fd, "w", encoding="utf-8"))
    try:
        serve(channel, lambda: resolve_job(job), reaper)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
