"""What bounds a worker count besides the scaling curve: the batch, the process's limits,
and a ceiling a user sets.

The knee of the curve says how many workers are worth having; these say how many the
machine and the user allow. A thread pool is bounded by the threads this user may start
(``RLIMIT_NPROC``) and, since each concurrent call of waiting work usually holds a
socket or a file, by the file descriptors this process may open (``RLIMIT_NOFILE``).
Whichever bound set the count is reported as the advice's ``limited_by``.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from concdoctor import executors as registry

RESERVED_FILES = 64
"""Descriptors left for the interpreter, its libraries, py-spy's pipes and concdoctor."""
THREAD_SHARE = 0.5
"""Of the user's process limit, what one pool may take: the rest of the user's programs
count against it too."""
MANY_CONNECTIONS = 64
"""Above this many calls at once, the report asks whether the other end takes them."""


@dataclass(frozen=True)
class Limits:
    threads: int | None = None
    """Threads one pool may start (None: no limit found)."""
    files: int | None = None
    """Calls that may each hold a descriptor at once (None: no limit found)."""


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


def cap(executor: str, workers: int, limits: Limits) -> tuple[int, str | None]:
    """``workers`` within the limits that apply to ``executor``, and which one bound it.

    Threads count against the process limit; every executor whose calls share this
    process (threads, one event loop) keeps one descriptor per call in flight."""
    entry = registry.get(executor)
    bounds: list[tuple[int, str]] = []
    if entry.os_threads and limits.threads is not None:
        bounds.append((limits.threads, "threads_limit"))
    if entry.shares_memory and limits.files is not None:
        bounds.append((limits.files, "files_limit"))
    tightest = min(bounds, default=None)
    if tightest is not None and tightest[0] < workers:
        return tightest[0], tightest[1]
    return workers, None
