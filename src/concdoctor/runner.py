"""Parent side of the child runner: start it, talk to it, bound it, end it.

The child runs in its own session, and in a cgroup of its own where one can be made
(:mod:`concdoctor.cgroup`), so a hang, a crash or a leaked pool worker never takes
concdoctor with it, and ending the run ends everything the target started, however it
detached it (see :meth:`ChildRunner.kill_tree` and ``concdoctor.child.reaper``). One select
loop reads the child's events and drains its stdout and stderr into bounded tails: no
threads, so forking the next child stays safe, and a target printing megabytes can
neither block on a full pipe nor flood the terminal.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from concdoctor import protocol
from concdoctor.cgroup import Cgroup
from concdoctor.descendants import GRACE_SECONDS, end_tree
from concdoctor.descendants import descendants as descendants  # the tests' orphan check
from concdoctor.diagnosis import Failure
from concdoctor.errors import UsageError
from concdoctor.target import Job

A = TypeVar("A")

TAIL_BYTES = 16_384
DETAIL_CHARS = 4000
"""How much of the child's stderr a failure keeps as its detail."""
EXIT_SECONDS = 2 * GRACE_SECONDS + 3.0
"""How long a child told to exit may take over its last sweep (which gives what the
target left running a grace period, then kills it) before it is killed."""
REAP_POLL_SECONDS = 0.01
"""The longest pause between two looks for the child's exit (the first are shorter)."""


class ChildFailed(Exception):
    """The child stopped answering: it exited, crashed, or ran past its time."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class StageFailed(Exception):
    """A stage cannot go on: the target raised, crashed or hung. The diagnosis so far
    becomes a partial report with this ``failure``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class OutputTail:
    """The last bytes a stream carried, and how many it carried in all."""

    total: int = 0
    tail: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self.tail += data
        if len(self.tail) > TAIL_BYTES:
            del self.tail[: len(self.tail) - TAIL_BYTES]

    def text(self) -> str:
        return self.tail.decode("utf-8", "replace")


class ChildRunner:
    """One child process and its JSON-lines channel, and what the target left running.

    The child sweeps at the end of each phase and says what it ended
    (:class:`~concdoctor.protocol.Swept`); when the child must go at once (a timeout,
    Ctrl-C, or after its last sweep), :meth:`kill_tree` ends its tree here. Either way
    the processes the target left running are in :attr:`left`."""

    def __init__(self, pid: int, cmd_fd: int, msg_fd: int, out_fd: int, err_fd: int,
                 popen: subprocess.Popen[bytes] | None = None, cgroup: Cgroup | None = None,
                 keep_detached: bool = False) -> None:
        self.pid = pid
        self.cgroup = cgroup
        self.keep_detached = keep_detached
        self.left: list[tuple[str, bool]] = []
        """``(command, kept)`` per process the target left running."""
        self._kept: set[str] = set()
        self._done = self._hung = self._ended = False
        self._cmd = os.fdopen(cmd_fd, "w", encoding="utf-8")
        self._msg_fd = msg_fd
        self._popen = popen
        self._buffer = b""
        self._answers: list[protocol.Message] = []
        self._selector = selectors.DefaultSelector()
        self.stdout, self.stderr = OutputTail(), OutputTail()
        for fd, sink in ((msg_fd, None), (out_fd, self.stdout), (err_fd, self.stderr)):
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ, sink)
        self.returncode: int | None = None

    # -- channel ------------------------------------------------------------------------
    def send(self, request: protocol.Request) -> None:
        try:
            self._cmd.write(protocol.encode(request) + "\n")
            self._cmd.flush()
        except (BrokenPipeError, OSError):
            pass  # the child is gone: the next wait reports how it ended

    def receive(self, timeout: float, phase_timeout: float | None = None) -> protocol.Message:
        """The next answer from the child, or ChildFailed when it dies or runs past
        ``timeout`` (which is what remains of ``phase_timeout``, the one to report)."""
        deadline = time.monotonic() + timeout
        while not self._answers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                limit = timeout if phase_timeout is None else phase_timeout
                self._hung = True
                raise ChildFailed(f"no answer within {limit:g} s", timed_out=True)
            if not self._selector.get_map():
                raise ChildFailed(self._exit_description())
            for key, _ in self._selector.select(min(remaining, 0.5)):
                self._read(key)
        return self._answers.pop(0)

    def ask(self, request: protocol.Request | None, expect: type[A] | tuple[type[Any], ...],
            timeout: float, on_progress: Callable[[protocol.Progress], None] | None = None,
            ) -> A:
        """Send ``request`` (None: only wait, for the child's first answer) and return its
        answer, of type ``expect``; :class:`~concdoctor.protocol.Progress` messages on
        the way go to ``on_progress``. A child that raised, died or hung raises
        :class:`StageFailed` naming the phase; one that cannot resolve the target raises
        :class:`UsageError`."""
        phase = "resolve"
        if request is not None:
            self.send(request)
            phase = request.phase
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.receive(max(deadline - time.monotonic(), 0.0), timeout)
            except ChildFailed as exc:
                raise StageFailed(self._failure(phase, exc)) from None
            if not isinstance(answer, protocol.Progress):
                break
            if on_progress is not None:
                on_progress(answer)
        if isinstance(answer, protocol.Failed):
            if answer.category == "usage":
                raise UsageError(answer.message)
            raise StageFailed(answer.failure())
        if not isinstance(answer, expect):
            raise StageFailed(Failure(phase, f"unexpected answer from the child: {answer}"))
        return answer  # type: ignore[return-value]

    def _failure(self, phase: str, exc: ChildFailed) -> Failure:
        tail = self.stderr.text().strip()
        if exc.timed_out:
            message = (f"the {phase} phase ran past the --timeout ({exc}); the child process "
                       "tree was ended")
        else:
            message = f"the {phase} phase failed: {exc}"
        return Failure(phase=phase, message=message, detail=tail[-DETAIL_CHARS:] or None)

    def _read(self, key: selectors.SelectorKey) -> None:
        fd = key.fd
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self._selector.unregister(fd)
            os.close(fd)
            return
        if key.data is not None:
            key.data.feed(data)
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for message in (protocol.decode(line) for line in lines if line.strip()):
            if isinstance(message, protocol.Swept):
                self._swept(message)
            else:
                self._answers.append(message)

    def _swept(self, swept: protocol.Swept) -> None:
        self.left += [(each, False) for each in swept.ended]
        self.left += [(each, True) for each in swept.kept]
        self._kept.update(swept.kept_ids)
        self._done = self._done or swept.final

    def _exit_description(self) -> str:
        code = self.reap(timeout=5.0)
        if code is None:
            return "the child closed its channel but is still running"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"the target crashed the interpreter (killed by signal {name})"
        return f"the child exited with code {code} before answering (os._exit or sys.exit?)"

    # -- lifetime -------------------------------------------------------------------------
    def reap(self, timeout: float = 0.0) -> int | None:
        if self.returncode is not None:
            return self.returncode
        deadline, pause = time.monotonic() + timeout, 0.0005  # a killed child ends in ~1 ms
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                if self._popen is not None:
                    self._popen.returncode = self.returncode
                return self.returncode
            if time.monotonic() >= deadline:
                return None
            time.sleep(pause)
            pause = min(2 * pause, REAP_POLL_SECONDS)

    def kill_tree(self) -> None:
        """End the child and everything it started, at once: freeze its tree (and its
        cgroup, where it has one), then kill it all. Processes that left the child's
        group are what the target detached: they are added to :attr:`left` (and kept
        running with ``keep_detached``). Once the child is reaped its pid may belong to
        someone else: only its group and its cgroup are killed then."""
        if self._ended:
            return
        self._ended = True
        alive = self.reap() is None
        found = end_tree(self.pid, self.pid, self.cgroup, keep=self._kept,
                         keep_detached=self.keep_detached, alive=alive)
        self.left += [(each, self.keep_detached) for each in found]
        if alive:
            self.reap(timeout=5.0)
        if self.cgroup is not None:
            self.cgroup.remove()

    def close(self) -> None:
        """Tell the child to exit and wait for its last sweep (see :meth:`kill_tree`);
        a child that hung is not waited for."""
        if not (self._ended or self._hung) and self.reap() is None:
            self.send(protocol.Exit())
            self._pump(EXIT_SECONDS)
        self.kill_tree()
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fd)
            os.close(key.fd)
        self._selector.close()
        try:
            self._cmd.close()
        except OSError:
            pass

    def _pump(self, timeout: float) -> None:
        """Read the child's output until its last sweep is reported or it exits."""
        deadline = time.monotonic() + timeout
        while not self._done and self.reap() is None and time.monotonic() < deadline:
            for key, _ in self._selector.select(0.05):
                self._read(key)
        for key, _ in self._selector.select(0):  # what it wrote before exiting
            self._read(key)


def child_environment(extra_path: tuple[str, ...]) -> dict[str, str]:
    env = dict(os.environ)
    paths = [*extra_path, os.getcwd()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@contextmanager
def spawn(job: Job, *, keep_detached: bool = False) -> Iterator[ChildRunner]:
    """A child started as ``python -m concdoctor.child`` for a target named by text."""
    with tempfile.TemporaryDirectory(prefix="concdoctor-") as tmp:
        job_path = os.path.join(tmp, "job.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump(job.to_dict(), handle)
        cmd_r, cmd_w = os.pipe()
        msg_r, msg_w = os.pipe()
        cgroup = Cgroup.create()
        flags = ["--cgroup", str(cgroup.path)] if cgroup is not None else []
        flags += ["--keep-detached"] if keep_detached else []
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "concdoctor.child", job_path, str(cmd_r), str(msg_w),
                 *flags],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(cmd_r, msg_w), start_new_session=True,
                env=child_environment(job.extra_sys_path),
            )
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            os.close(cmd_r)
            os.close(msg_w)
        assert popen.stdout is not None and popen.stderr is not None
        runner = ChildRunner(popen.pid, cmd_w, msg_r, os.dup(popen.stdout.fileno()),
                             os.dup(popen.stderr.fileno()), popen, cgroup, keep_detached)
        popen.stdout.close()
        popen.stderr.close()
        with _ended(runner):
            yield runner


@contextmanager
def fork(serve: Callable[[Any, Any], None], *, keep_detached: bool = False,
         ) -> Iterator[ChildRunner]:
    """A forked child running ``serve(channel, reaper)``: for callables that only live in
    memory, such as functions handed to the pytest fixture."""
    from concdoctor.child import serve as child

    cmd_r, cmd_w = os.pipe()
    msg_r, msg_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    cgroup = Cgroup.create()
    try:
        pid = os.fork()
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            reaper = child.Reaper.start(str(cgroup.path) if cgroup is not None else None,
                                        keep_detached=keep_detached)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (cmd_w, msg_r, out_r, err_r, out_w, err_w, null):
                os.close(fd)
            child.allow_tracer(os.getppid())
            channel = child.Channel(os.fdopen(cmd_r, "r", encoding="utf-8"),
                                    os.fdopen(msg_w, "w", encoding="utf-8"))
            serve(channel, reaper)
        finally:
            os._exit(0)
    for fd in (cmd_r, msg_w, out_w, err_w):
        os.close(fd)
    runner = ChildRunner(pid, cmd_w, msg_r, out_r, err_r, cgroup=cgroup,
                         keep_detached=keep_detached)
    with _ended(runner):
        yield runner


@contextmanager
def _ended(runner: ChildRunner) -> Iterator[None]:
    """Close the child politely after a normal run; kill its tree at once otherwise
    (an interrupted or failed child may be busy and never read the exit command)."""
    try:
        yield
    except BaseException:
        runner.kill_tree()
        raise
    finally:
        runner.close()
