"""The hybrid pool, inside the child: P processes, each running T calls at once.

Each process takes a chunk of the items and runs it on a thread pool of T (on one event
loop, T at a time, for coroutines), so one process's waits overlap while its Python runs
and the others' run on the other cores. Results come back in the items' order; memory
is each process's PSS.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Sequence
from typing import Any

from concdoctor.child.runners import (
    Batch,
    Ran,
    Task,
    Timed,
    gather_bounded,
    ignore_count,
    peak_of,
    run_in_pool,
)


class InnerPool:
    """A hybrid worker's job: one chunk of calls, ``inner`` at a time, on threads (on one
    event loop for coroutines); each call timed. Picklable: it travels to the process."""

    def __init__(self, task: Task, inner: int) -> None:
        self.timed, self.inner = Timed(task), inner

    def __call__(self, chunk: Sequence[Any]) -> list[tuple[Any, float, float, int]]:
        if self.timed.task.is_coroutine:
            import asyncio

            return asyncio.run(gather_bounded(self.timed.task, chunk, self.inner, ignore_count,
                                               peak=True))
        with cf.ThreadPoolExecutor(max_workers=self.inner) as threads:
            return list(threads.map(self.timed, chunk))


def run_hybrid(batch: Batch) -> Ran:
    """``workers`` processes, each running ``inner_workers`` calls at once: the items go
    in chunks (``chunksize``, at least one call per thread), results in their order."""
    items, inner = batch.items, batch.inner_workers
    size = max(batch.chunksize, inner)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    rows: list[tuple[Any, float, float, int]] = []

    def count(done: int) -> None:
        batch.count(min(len(items), done * size))

    for part in run_in_pool(cf.ProcessPoolExecutor(max_workers=batch.workers),
                             InnerPool(batch.task, inner), chunks, 1, count):
        rows.extend(part)
    return Ran(rows, peak_of(rows))
