"""Inside the child: own every process the target starts, and end what it leaves running.

The child makes itself a subreaper (Linux: ``prctl(PR_SET_CHILD_SUBREAPER)``), so a
process the target orphans (a double fork, a helper whose parent exited) is reparented
to the child instead of to init and stays among its descendants, as does one that left
the child's session or process group. At the end of each phase, once the phase's pools
are shut down, :meth:`Reaper.sweep` ends whatever is still running below the child:
SIGTERM, then SIGKILL after a grace period. It reaps those it ended, and only those:
the exit status of a process the target holds a ``Popen`` for stays the target's.

Not swept: multiprocessing's own helpers (its resource tracker, its fork server), the
copy of the child that re-runs tasks (``results.Rerun``), and between phases the
processes a live ``multiprocessing`` object of the child's owns (a pool the target
keeps across calls); those go when the child is done. With ``--keep-detached``,
processes in a session or process group of their own are left running and listed.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from concdoctor import cgroup, descendants
from concdoctor.descendants import Proc
from concdoctor.protocol import Swept

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt the orphans among this process's descendants; False where Linux's prctl
    is not there to ask."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def helpers(*, between_phases: bool) -> set[int]:
    """Pids of processes that multiprocessing keeps for the child, not the target's
    leftovers; ``between_phases``, also those its live objects (pools, ``Process``es)
    own, which only the child's end may take away."""
    found = set()
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    server = sys.modules.get("multiprocessing.forkserver")
    for pid in (getattr(getattr(tracker, "_resource_tracker", None), "_pid", None),
                getattr(getattr(server, "_forkserver", None), "_forkserver_pid", None)):
        if isinstance(pid, int):
            found.add(pid)
    if between_phases and "multiprocessing" in sys.modules:
        found.update(child.pid for child in sys.modules["multiprocessing"].active_children()
                     if child.pid is not None)
    return found


@dataclass
class Reaper:
    """The child's sweeps: what each found, and what is still to be reaped."""

    keep_detached: bool = False
    containment: str = "process group"
    """``cgroup``, ``subreaper`` or ``process group``: see :meth:`start`."""
    group: int = field(default_factory=os.getpgrp)
    kept: set[str] = field(default_factory=set)
    """Who was kept (``pid:start``): listed once, never ended."""
    unreaped: list[Proc] = field(default_factory=list)
    """Processes ended whose zombies were not this process's to reap yet (their parent
    was alive): reaped once they are reparented here."""

    @classmethod
    def start(cls, cgroup_path: str | None, *, keep_detached: bool = False) -> Reaper:
        """Join the cgroup the parent made (first of all, before the target's code can
        start anything) and become a subreaper; say which of them holds."""
        joined = cgroup_path is not None and cgroup.join(cgroup_path)
        adopting = become_subreaper()
        held = "cgroup" if joined else "subreaper" if adopting else "process group"
        return cls(keep_detached=keep_detached, containment=held)

    def sweep(self, spare: Iterable[int], *, final: bool = False) -> Swept:
        """End what runs below the child but ``spare`` (pids), and say what it was;
        ``final``: the child is done (the parent waits for this word)."""
        descendants.reap(self.unreaped)
        spared = set(spare)
        left = [proc for proc in descendants.tree(os.getpid())
                if proc.running and proc.pid not in spared and proc.ident not in self.kept]
        keep = [proc for proc in left if self.keep_detached and proc.detached(self.group)]
        ending = [proc for proc in left if proc not in keep]
        ended = tuple(descendants.command(proc.pid) for proc in ending)
        kept = tuple(descendants.command(proc.pid) for proc in keep)
        descendants.end(ending)
        self.unreaped = [proc for proc in self.unreaped + ending if _exists(proc)]
        self.kept.update(proc.ident for proc in keep)
        return Swept(ended=ended, kept=kept, kept_ids=tuple(proc.ident for proc in keep),
                     final=final)


def _exists(proc: Proc) -> bool:
    """Still in the process table (running, or a zombie not reaped yet)."""
    now = descendants.read(proc.pid)
    return now is not None and now.start == proc.start
