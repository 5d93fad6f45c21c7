"""The program's process for ``concdoctor run``: started paused (until the samplers are
on), sampled, waited for (and, in the capture's run, held while its calls are
diagnosed), and ended with everything it started.

The capture's run waits once its last picked call is taken (see
:mod:`concdoctor.program.boot`): :class:`Hold` is the parent's side of that wait. The
time it waits does not count against ``--timeout``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from concdoctor.cgroup import Cgroup
from concdoctor.descendants import end_tree

READY_SECONDS = 60.0
"""How long the program's process may take to start and calibrate the recorder."""
POLL_SECONDS = 0.05
"""How often a program that may pause is checked for its end."""


class Hold:
    """The pipes by which the capture's run says it waits (one byte) and is let go (the
    other end closed), and what runs meanwhile."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        self.meanwhile = meanwhile
        self.said, said = os.pipe()
        resume, self.resume = os.pipe()
        self.theirs = (said, resume)
        """The program's ends: closed here once it has started."""
        self.waited = 0.0
        """Seconds the program waited."""

    def flags(self) -> list[str]:
        return ["--pause", *map(str, self.theirs)]

    def started(self) -> None:
        for fd in self.theirs:
            os.close(fd)
        self.theirs = ()

    @property
    def watching(self) -> bool:
        """Whether the program may still pause."""
        return self.said >= 0

    def watch(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the program to pause; when it does, run
        :attr:`meanwhile`, then let it go on."""
        ready, _, _ = select.select([self.said], [], [], timeout)
        if not ready:
            return
        pausing = os.read(self.said, 1)  # b"": the program ended without pausing
        os.close(self.said)
        self.said = -1
        if pausing:
            began = time.monotonic()
            try:
                self.meanwhile()
            finally:
                self.waited = time.monotonic() - began
                self._let_go()

    def _let_go(self) -> None:
        if self.resume >= 0:
            os.close(self.resume)
            self.resume = -1

    def close(self) -> None:
        self.started()
        if self.said >= 0:
            os.close(self.said)
            self.said = -1
        self._let_go()


def start(out: Path, cgroup: Cgroup | None, argv: list[str], flags: list[str],
          sink: Any, theirs: tuple[int, ...] = ()) -> tuple[subprocess.Popen[bytes], int]:
    """The boot process, paused until the samplers are on. ``sink`` given, the program
    writes there and reads nothing (the capture's run: the user saw its output once)."""
    go_r, go_w = os.pipe()
    if cgroup is not None:
        flags = ["--cgroup", str(cgroup.path), *flags]
    quiet: dict[str, Any] = {} if sink is None else {
        "stdin": subprocess.DEVNULL, "stdout": sink, "stderr": subprocess.STDOUT}
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", "concdoctor.program.boot", str(out), str(go_r), *flags,
             "--", *argv], pass_fds=(go_r, *theirs), start_new_session=True, **quiet)
    except BaseException:
        os.close(go_w)
        raise
    finally:
        os.close(go_r)
    return popen, go_w


def attach(pid: int, folder: Path, rate: int, sampling: bool) -> tuple[Any, str]:
    """py-spy samplers on ``pid``, or None and why there are none."""
    if not sampling:
        return None, "off (--no-sampling)"
    from concdoctor.baseline.stacks import Samplers, SamplingUnavailable, find_py_spy

    binary = find_py_spy()
    if binary is None:
        return None, "unavailable: py-spy is not installed ('pip install py-spy')"
    samplers = Samplers(binary, pid, folder, rate)
    try:
        samplers.start(timeout=READY_SECONDS)
    except SamplingUnavailable as exc:
        return None, f"unavailable: {exc}"
    return samplers, "py-spy"


def supervise(popen: subprocess.Popen[bytes], go: int, cgroup: Cgroup | None,
              samplers: Any, timeout: float | None, hold: Hold | None = None,
              ) -> tuple[int | None, bool, float]:
    """Let the program start, wait for its end or the timeout: ``(returncode,
    timed_out, seconds)``, the seconds it waited on ``hold`` left out of both; the
    samplers are stopped on every way out."""
    started = time.monotonic()
    try:
        try:
            os.write(go, b"g")
        except OSError:
            pass  # it exited already: its return code tells how
        finally:
            os.close(go)
        code: int | None = None
        timed_out = False
        if hold is not None:
            hold.started()
        while code is None:
            ran = time.monotonic() - started - (hold.waited if hold else 0.0)
            left = None if timeout is None else timeout - ran
            if left is not None and left <= 0:
                timed_out = True
                end(popen, cgroup)
                break
            if hold is None or not hold.watching:
                try:
                    code = popen.wait(left)
                except subprocess.TimeoutExpired:
                    continue
            else:
                hold.watch(POLL_SECONDS if left is None else min(left, POLL_SECONDS))
                code = popen.poll()
        return code, timed_out, time.monotonic() - started - (hold.waited if hold else 0.0)
    finally:
        if samplers is not None:
            samplers.stop()


def end(popen: subprocess.Popen[bytes], cgroup: Cgroup | None) -> None:
    """Kill the program's whole tree now if it runs, and whatever it left running."""
    alive = popen.poll() is None
    end_tree(popen.pid, popen.pid, cgroup, keep=set(), keep_detached=False, alive=alive)
    if alive:
        popen.wait()
