"""The hybrid pool: P processes x T calls each, run for real in this process's children.

Results come back in the inputs' order, threads and event loops overlap each process's
waits, and a worker that dies or a function that does not pickle skips the executor
with the reason (nothing left running: the pool is shut down on the way out)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from concdoctor.child import runners

sys.path.insert(0, str(Path(__file__).resolve().parent / "targets"))
import faulty  # noqa: E402 - a target module, importable by the pool's workers

HERE = Path(__file__).resolve().parent


def nap(x: int) -> int:
    time.sleep(0.05)
    return x * 3


async def nap_async(x: int) -> int:
    await asyncio.sleep(0.05)
    return x * 3


def task(func, coroutine: bool = False) -> runners.Task:  # type: ignore[no-untyped-def]
    return runners.Task(func, pass_item=True, is_coroutine=coroutine)


@pytest.mark.parametrize("func,coroutine", [(nap, False), (nap_async, True)])
def test_results_in_order_and_waits_overlapped(func, coroutine: bool) -> None:  # type: ignore[no-untyped-def]
    items = list(range(24))
    run = runners.run_batch("hybrid", task(func, coroutine), items, workers=2, chunksize=6,
                            inner_workers=6)
    assert run.results == [x * 3 for x in items]
    # 24 naps of 50 ms: 1.2 s in a row; 2 processes x 6 calls: two rounds, ~0.1 s
    assert run.seconds < 0.6
    assert run.concurrency > 4  # several calls ran at once in each process
    assert run.worker_bytes is not None and run.worker_bytes > 0


def test_a_dying_worker_skips_the_pool() -> None:
    with pytest.raises(runners.ExecutorUnavailable, match="worker process died"):
        runners.run_batch("hybrid", task(faulty.exit_3), [0, 1, 2, 3], workers=2,
                          inner_workers=2)


def test_a_function_that_does_not_pickle_skips_the_pool() -> None:
    local = lambda x: x  # noqa: E731 - the point: a lambda does not pickle by reference
    with pytest.raises(runners.ExecutorUnavailable, match="cannot be pickled"):
        runners.run_batch("hybrid", task(local), [1, 2], workers=2, inner_workers=2)


def test_nothing_is_left_running() -> None:
    before = _children()
    runners.run_batch("hybrid", task(nap), list(range(8)), workers=2, inner_workers=4)
    time.sleep(0.2)
    assert _children() <= before


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if fields[1] == me and fields[0] != "Z":
                found.add(int(entry.name))
    return found
