"""The processes below a process, read from /proc, and how they are ended.

Both sides use this module: the child, a subreaper, sweeps what the target left running
at the end of each phase (see ``concdoctor.child.reaper``); the parent freezes and kills
the child's whole tree when the child has to go at once (see :func:`end_tree`). Where
/proc is absent (not Linux) every scan is empty and only the process group is left.

A process is known by its pid *and* its start time (:attr:`Proc.ident`): a pid seen at
one scan and reused by another process before the next is not the same process.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from concdoctor import cgroup as cgroups

GRACE_SECONDS = 2.0
"""How long a process left running has, after SIGTERM, to end on its own before SIGKILL:
enough to flush a file or say goodbye to a socket, short enough that a helper which
ignores SIGTERM delays each phase by no more than this."""
COMMAND_CHARS = 80
"""A command line in a report is cut to this many characters."""
FREEZE_ROUNDS = 50
"""Scans of a tree being frozen before concdoctor gives up waiting for it to hold still."""
POLL_SECONDS = 0.02
KILL_SECONDS = 3.0
"""How long SIGKILLed processes may take to die (they always do, and fast)."""


@dataclass(frozen=True)
class Proc:
    """One process as /proc/PID/stat shows it."""

    pid: int
    ppid: int
    pgid: int
    state: str
    start: int
    """Clock ticks after boot at which it started: with the pid, who it is."""

    @property
    def ident(self) -> str:
        return f"{self.pid}:{self.start}"

    @property
    def running(self) -> bool:
        """Not a zombie waiting to be reaped, nor dead."""
        return self.state not in ("Z", "X", "x")

    def detached(self, group: int) -> bool:
        """Whether it left process group ``group`` (a session or group of its own)."""
        return self.pgid != group


def read(pid: int) -> Proc | None:
    """The process ``pid`` now, or None when there is none (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return Proc(pid, int(fields[1]), int(fields[2]), fields[0].decode(), int(fields[19]))
    except (IndexError, ValueError):
        return None


def table() -> dict[int, Proc]:
    """Every process this one may see, by pid; {} where /proc is absent."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    found = {}
    for entry in entries:
        if entry.isdigit():
            proc = read(int(entry))
            if proc is not None:
                found[proc.pid] = proc
    return found


def tree(pid: int, procs: dict[int, Proc] | None = None) -> list[Proc]:
    """The descendants of ``pid`` (not ``pid`` itself), parents before their children."""
    procs = table() if procs is None else procs
    children: dict[int, list[Proc]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc)
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child.pid)
    return found


def descendants(pid: int) -> list[int]:
    """The pids of every live descendant of ``pid``; [] where /proc is absent."""
    return [proc.pid for proc in tree(pid)]


def command(pid: int, limit: int = COMMAND_CHARS) -> str:
    """The command line of ``pid`` for a report: the program's name (not its folder),
    its arguments quoted as a shell would, cut to ``limit`` characters."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [arg.decode("utf-8", "replace") for arg in handle.read().split(b"\0")]
    except OSError:
        argv = []
    while argv and not argv[-1]:
        argv.pop()
    if argv:
        text = shlex.join([os.path.basename(argv[0]) or argv[0], *argv[1:]])
    else:
        text = f"[{_name(pid)}]"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip() or "?"
    except OSError:
        return "?"


def signal_all(procs: Iterable[Proc], signum: int) -> None:
    """Send ``signum`` to each process that is still the one seen (not a reused pid)."""
    for proc in procs:
        now = read(proc.pid)
        if now is None or now.start != proc.start:
            continue
        try:
            os.kill(proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def gone(proc: Proc) -> bool:
    """Whether ``proc`` has ended (exited, or a zombie that only waits to be reaped)."""
    now = read(proc.pid)
    return now is None or now.start != proc.start or not now.running


def reap(procs: Iterable[Proc]) -> None:
    """Collect the exit status of those of ``procs`` that are this process's children and
    have ended. Only these pids are waited for: a status that a ``subprocess`` or
    ``multiprocessing`` object of the target's waits for is never taken."""
    for proc in procs:
        try:
            os.waitpid(proc.pid, os.WNOHANG)
        except OSError:  # not a child of this process (ChildProcessError), or gone
            pass


def end(procs: list[Proc], grace: float = GRACE_SECONDS,
        after: Callable[[list[Proc]], None] = reap) -> None:
    """SIGTERM, then SIGKILL to those still running after ``grace`` seconds. ``after``
    runs while they end (in a subreaper: reap them, as they die or are reparented)."""
    if not procs:
        return
    signal_all(procs, signal.SIGTERM)
    if not _ended(procs, grace, after):
        signal_all([proc for proc in procs if not gone(proc)], signal.SIGKILL)
        _ended(procs, KILL_SECONDS, after)


def _ended(procs: list[Proc], seconds: float,
           after: Callable[[list[Proc]], None] | None = None) -> bool:
    """Wait up to ``seconds`` for ``procs`` to end; whether they all did."""
    deadline = time.monotonic() + seconds
    while True:
        if after is not None:
            after(procs)
        if all(map(gone, procs)):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


# -- the parent's side: the whole tree, at once --------------------------------------------

def freeze(root: int, spare: Callable[[Proc], bool]) -> list[Proc]:
    """SIGSTOP ``root`` and every descendant (but those ``spare`` says to leave alone),
    scanning again until no new one appears: a stopped process cannot start another, so
    the tree then holds still and nothing in it can slip out before it is killed."""
    first = read(root)
    if first is None or not first.running:
        return []
    signal_all([first], signal.SIGSTOP)
    seen: dict[str, Proc] = {}
    for _ in range(FREEZE_ROUNDS):
        fresh = [proc for proc in tree(root) if proc.ident not in seen and proc.running]
        if not fresh:
            break
        signal_all([proc for proc in fresh if not spare(proc)], signal.SIGSTOP)
        seen.update((proc.ident, proc) for proc in fresh)
    return list(seen.values())


def end_tree(root: int, group: int, cgroup: cgroups.Cgroup | None, *, keep: set[str],
             keep_detached: bool, alive: bool) -> list[str]:
    """Kill ``root`` (the child), its descendants, its process group and its cgroup, now.

    Processes outside ``group`` are those the target detached: with ``keep_detached``
    they are left running (and moved out of the cgroup), as are those in ``keep``
    (``pid:start``: kept and reported before). Returns the commands of the others found
    outside ``group``. ``alive``: ``root`` is not reaped yet, so its pid is still its own.
    """
    def spare(proc: Proc) -> bool:
        return proc.detached(group) and (keep_detached or proc.ident in keep)

    found = {proc.ident: proc for proc in freeze(root, spare)} if alive else {}
    for proc in map(read, cgroup.procs() if cgroup is not None else ()):
        if proc is not None and proc.pid != root and proc.running:
            found.setdefault(proc.ident, proc)
    detached = [command(proc.pid) for proc in found.values()
                if proc.detached(group) and proc.ident not in keep]
    kept = [proc for proc in found.values() if spare(proc)]
    if cgroup is not None:
        for proc in kept:
            cgroup.release(proc.pid)
        cgroup.kill()
    killed = [proc for proc in found.values() if not spare(proc)]
    signal_all(killed, signal.SIGKILL)
    for kill, target in ((os.kill, root if alive else None), (os.killpg, group)):
        try:
            if target is not None:
                kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _ended(killed, KILL_SECONDS)  # dead before concdoctor says it is done
    return detached
