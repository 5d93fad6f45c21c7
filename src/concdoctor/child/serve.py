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
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor import environment, protocol
from concdoctor.child import batch, tracing
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
        thread_ident=threading.get_ident(), tasks=resolved.total,
        is_coroutine=resolved.task.is_coroutine, input_source=resolved.input_source,
        start_method=environment.start_method(), inputs_called=resolved.inputs_called,
        held=len(resolved.items), gil_enabled=gil_enabled()))
    run = batch.ChildState(resolved, close_fds=channel.fds())
    try:
        while True:
            request = _concdoctor_wait(channel)
            if isinstance(request, RunBaseline):
                channel.send(batch.run_baseline(run, request, channel.send))
            elif isinstance(request, RunTrial):
                channel.send(batch.run_trial(run, request, channel.send))
            elif isinstance(request, RunYappi):
                channel.send(tracing.profile_tasks(resolved.task, run.tasks,
                                                   budget=request.budget,
                                                   cpu_budget=request.cpu_budget))
                return  # a yappi pass may leave a task running: only exiting ends it
            else:
                return
    finally:
        run.close()


def serve_callable(channel: Channel, func: Callable[..., Any], items: Sequence[Any],
                   repeat: bool) -> None:
    """``serve`` for a callable inherited through ``fork`` (the pytest fixture's)."""
    from concdoctor.child.resolve import make_task

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
