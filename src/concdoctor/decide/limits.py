"""What bounds a worker count besides the scaling curve: the batch, the process's limits,
memory, and a ceiling a user sets.

The knee of the curve says how many workers are worth having; these say how many the
machine and the user allow. A thread pool is bounded by the threads this user may start
(``RLIMIT_NPROC``) and, since each concurrent call of waiting work usually holds a
socket or a file, by the file descriptors this process may open (``RLIMIT_NOFILE``).
Every pool on this machine is bounded by memory: each call in flight holds what a call
held in the baseline, and each worker process adds an interpreter of its own. Whichever
bound set the count is reported as the advice's ``limited_by``.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from concdoctor import executors as registry
from concdoctor import memory

RESERVED_FILES = 64
"""Descriptors left for the interpreter, its libraries, py-spy's pipes and concdoctor."""
THREAD_SHARE = 0.5
"""Of the user's process limit, what one pool may take: the rest of the user's programs
count against it too."""
PROCESS_BYTES = 12 << 20
"""What a worker process adds beside its calls: its own interpreter's unique pages (its
PSS, forked from a small parent; a spawned one is larger)."""
REASONS = {"threads_limit": "the user's thread limit (RLIMIT_NPROC)",
           "files_limit": "the open-files limit (RLIMIT_NOFILE)", "memory": "memory"}
"""A limit, in words for a reason."""
MANY_CONNECTIONS = 64
"""Above this many calls at once, the report asks whether the other end takes them."""


@dataclass(frozen=True)
class Limits:
    threads: int | None = None
    """Threads one pool may start (None: no limit found)."""
    files: int | None = None
    """Calls that may each hold a descriptor at once (None: no limit found)."""
    memory: int | None = None
    """Bytes the workers may take together (None: unknown)."""
    task_bytes: int = 0
    """What one call held at most in the baseline."""


def read() -> Limits:
    """This process's limits, as ``resource`` reports them."""
    return Limits(_soft(resource.RLIMIT_NPROC, THREAD_SHARE, 0),
                  _soft(resource.RLIMIT_NOFILE, 1.0, RESERVED_FILES))


def _soft(which: int, share: float, reserve: int) -> int | None:
    try:
        soft, _ = resource.getrlimit(which)
    except (ValueError, OSError):
        return None
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return max(1, int(soft * share) - reserve)


def worker_bytes(entry: registry.Executor, task_bytes: int, inner: int = 1) -> int:
    """What one worker of ``entry`` takes: its calls in flight, and its own interpreter
    when it is a process (or a sub-interpreter)."""
    own = PROCESS_BYTES if entry.pickles else 0
    return own + task_bytes * (inner if entry.nested else 1)


def within_memory(entry: registry.Executor, limits: Limits, inner: int = 1) -> int | None:
    """The most workers of ``entry`` that fit in memory (None: no bound known; a cluster's
    workers have memory of their own)."""
    per_worker = worker_bytes(entry, limits.task_bytes, inner)
    if limits.memory is None or entry.on_cluster or per_worker <= 0:
        return None
    return memory.workers_within(limits.memory, per_worker)


def cap(executor: str, workers: int, limits: Limits, inner: int = 1) -> tuple[int, str | None]:
    """``workers`` within the limits that apply to ``executor``, and which one bound it.

    Threads count against the process limit; every executor whose calls share this
    process (threads, one event loop) keeps one descriptor per call in flight; and all
    of them fit in memory."""
    entry = registry.get(executor)
    bounds: list[tuple[int, str]] = []
    if entry.os_threads and limits.threads is not None:
        bounds.append((limits.threads, "threads_limit"))
    if entry.shares_memory and limits.files is not None:
        bounds.append((limits.files, "files_limit"))
    fits = within_memory(entry, limits, inner)
    if fits is not None:
        bounds.append((fits, "memory"))
    tightest = min(bounds, default=None)
    if tightest is not None and tightest[0] < workers:
        return tightest[0], tightest[1]
    return workers, None
