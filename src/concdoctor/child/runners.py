"""Running the whole batch on one executor, inside the child runner.

Each executor is timed from pool creation to shutdown: the user pays start-up and
dispatch, so the measurement includes them. Results travel back to the caller (and, for
processes, are pickled) exactly as they would in the user's own code.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import pickle
import resource
import statistics
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor import executors as registry
from concdoctor import memory
from concdoctor.child import interpreters as subinterpreters
from concdoctor.child import shipping
from concdoctor.environment import interpreter_pool
from concdoctor.executors import Executor


class ExecutorUnavailable(Exception):
    """This executor cannot run this batch (reason in the message); others still can."""


class Task:
    """One call of the user's function with one input; picklable when the function is.

    The input is the call's one argument, or with ``unpack`` a whole call's arguments
    ``(args, kwargs)``: ``func(*args, **kwargs)``. A coroutine function becomes a plain
    callable that runs the coroutine in its own event loop, so it can also run on
    threads and processes.
    """

    def __init__(self, func: Callable[..., Any], *, pass_item: bool, is_coroutine: bool,
                 unpack: bool = False) -> None:
        self.func = func
        self.pass_item = pass_item
        self.is_coroutine = is_coroutine
        self.unpack = unpack

    def call(self, item: Any) -> Any:
        """The function called on ``item``: its value, or for a coroutine function the
        coroutine to await."""
        if self.unpack:
            args, kwargs = item
            return self.func(*args, **kwargs)
        return self.func(item) if self.pass_item else self.func()

    def coroutine(self, item: Any) -> Coroutine[Any, Any, Any]:
        return self.call(item)

    def __call__(self, item: Any) -> Any:
        if self.is_coroutine:
            import asyncio  # only coroutines need it: imported when one runs

            return asyncio.run(self.coroutine(item))
        return self.call(item)


class Timed:
    """A task that also says when it ran and how much memory its process takes: its PSS
    at most (uses now, for workers sharing one process): ``(value, start, end, bytes)``.
    ``perf_counter`` reads one clock for every process of the machine (Linux's monotonic
    clock), so the times a pool's workers report line up with the trial's own."""

    def __init__(self, task: Task, *, shared: bool = False, memory: bool = True) -> None:
        self.task = task
        self.shared = shared  # workers share this process (sub-interpreters): memory now
        self.memory = memory
        """False where nothing reports memory per worker (threads, the sequential loop):
        reading the PSS walks the process's mappings under the lock that new threads'
        stacks need, and slowed a trial of 600 threads threefold."""

    def __call__(self, item: Any) -> tuple[Any, float, float, int]:
        start = time.perf_counter()
        value = self.task(item)
        end = time.perf_counter()
        if not self.memory:
            return value, start, end, 0
        return value, start, end, current_rss() if self.shared else worker_pss()


PSS_EVERY = 0.05
"""Seconds between two reads of a worker's PSS (a read costs about 0.1 ms: never per task
of a batch of tiny ones)."""
_PSS: dict[int, tuple[float, int]] = {}
"""Per process (a forked worker starts with its parent's): when last read, the most seen."""


def worker_pss() -> int:
    """This worker process's PSS at its largest so far, read at most every
    :data:`PSS_EVERY` (RSS would count the pages it shares with its parent once per
    worker); its peak RSS where /proc cannot tell.

    A call's buffers are freed by the time it returns, so the PSS read after it misses
    them: what the peak RSS stands above the RSS now was private to this process (it
    was allocated and given back), and is added back."""
    pid, now = os.getpid(), time.monotonic()
    last, most = _PSS.get(pid, (-PSS_EVERY, 0))
    if now - last >= PSS_EVERY:
        pss, peak = memory.pss_bytes(), peak_rss()
        freed = max(0, peak - current_rss())
        most = max(most, pss + freed if pss is not None else peak)
        _PSS[pid] = (now, most)
    return most


def peak_rss() -> int:
    """This process's peak resident memory, in bytes (kilobytes from Linux's rusage)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """This process's resident memory now, in bytes (0 where /proc cannot tell)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class BatchRun:
    """One run of the batch: its seconds, its results in order, and when each task ran
    (start and end, in seconds from the run's start)."""

    seconds: float
    results: list[Any]
    spans: list[tuple[float, float]]
    worker_bytes: int | None = None
    """Memory per worker: a process's peak, or what each interpreter added."""

    @property
    def task_seconds_mean(self) -> float:
        return statistics.fmean(end - start for start, end in self.spans) if self.spans else 0.0

    @property
    def concurrency(self) -> float:
        """Tasks running at once, on average, while any ran."""
        if not self.spans:
            return 0.0
        busy = sum(end - start for start, end in self.spans)
        window = max(end for _, end in self.spans) - min(start for start, _ in self.spans)
        # workers on other machines read other clocks: their span is bounded by the run's
        window = min(window, self.seconds) if window > 0 else self.seconds
        return busy / window if window > 0 else 1.0


def unavailable(executor: Executor, task: Task, items: Sequence[Any]) -> str | None:
    """Why ``executor`` cannot run this batch, checked before the clock starts (the
    pickling once for a task and its inputs, :mod:`.shipping`; a runner's own ``check``
    in :func:`run_batch`)."""
    if executor.needs_coroutine and not task.is_coroutine:
        return f"{executor.name} needs an async def function; this one is synchronous"
    reason = executor.unavailable()
    if reason is None and executor.pickles:
        by_name, by_value = shipping.problems(task, items)
        reason = by_value if executor.by_value else by_name
    return reason


@dataclass(frozen=True)
class Ran:
    """What a runner hands back: each task's ``(value, start, end, bytes)`` in the items'
    order, the memory per worker when it can tell, and seconds of the run that were
    concdoctor's own (shipping code to a cluster), not the batch's."""

    rows: list[tuple[Any, float, float, int]]
    worker_bytes: int | None = None
    own_seconds: float = 0.0


@dataclass(frozen=True)
class Batch:
    """What every runner is given: the task, the items, the pool's size and chunks, a
    callback counting results, the seconds before a stuck pool is abandoned, and a
    scheduler's address (for a cluster)."""

    task: Task
    items: Sequence[Any]
    workers: int
    chunksize: int = 1
    count: Callable[[int], None] = lambda done: None
    timeout: float | None = None
    scheduler: str | None = None
    inner_workers: int = 1


def run_batch(
    name: str, task: Task, items: Sequence[Any], *, workers: int, chunksize: int = 1,
    on_result: Callable[[int], None] | None = None, timeout: float | None = None,
    scheduler: str | None = None, inner_workers: int = 1,
) -> BatchRun:
    """Run every item once on the executor ``name``, timed from the pool's start to its
    shutdown: the results in the order of the items (kept for the results check, as the
    user's code keeps them) and when each task ran. ``on_result(done)`` follows the
    results. A pool that may never raise (sub-interpreters) is abandoned after
    ``timeout``. The executor's runner comes from its registry entry."""
    if not registry.known(name):
        raise ExecutorUnavailable(f"unknown executor {name!r}")
    executor = registry.get(name)
    reason = unavailable(executor, task, items)
    if reason:
        raise ExecutorUnavailable(reason)
    batch = Batch(task, items, workers, chunksize, on_result or ignore_count, timeout, scheduler,
                  max(1, inner_workers))
    runner = executor.run()
    check = getattr(runner, "check", None)  # a runner's own check, before the clock
    reason = check(batch) if check else None
    if reason:
        raise ExecutorUnavailable(reason)
    start = time.perf_counter()
    ran: Ran = runner(batch)
    seconds = time.perf_counter() - start - ran.own_seconds
    start += ran.own_seconds
    return BatchRun(seconds, [value for value, *_ in ran.rows],
                    [(begin - start, end - start) for _, begin, end, _ in ran.rows],
                    ran.worker_bytes)


def peak_of(rows: list[tuple[Any, float, float, int]]) -> int | None:
    return max(peak for *_, peak in rows) if rows else None


def run_sequential(batch: Batch) -> Ran:
    return Ran(_run_sequential(batch.task, batch.items, batch.count))


def run_threads(batch: Batch) -> Ran:
    with cf.ThreadPoolExecutor(max_workers=batch.workers) as pool:
        return Ran(_collect(pool.map(Timed(batch.task, memory=False), batch.items),
                            batch.count))


def run_asyncio(batch: Batch) -> Ran:
    import asyncio

    return Ran(asyncio.run(gather_bounded(batch.task, batch.items, batch.workers,
                                           batch.count)))


def run_processes(batch: Batch) -> Ran:
    rows = run_in_pool(cf.ProcessPoolExecutor(max_workers=batch.workers), Timed(batch.task),
                        batch.items, batch.chunksize, batch.count)
    return Ran(rows, peak_of(rows))


def run_loky(batch: Batch) -> Ran:
    """loky's reusable executor, started for this trial and shut down after it (timed
    from start-up, as the user's first batch pays it): cloudpickle ships the function and
    its inputs by value, so a closure, a lambda or a function of ``__main__`` runs too."""
    from loky import get_reusable_executor  # its workers die with it: a BrokenProcessPool

    pool = get_reusable_executor(max_workers=batch.workers, reuse=False, timeout=300)
    rows = run_in_pool(pool, Timed(batch.task), batch.items, batch.chunksize, batch.count)
    return Ran(rows, peak_of(rows))


def run_interpreters(batch: Batch) -> Ran:
    before = current_rss()  # the lifetime peak would charge the baseline's to the pool
    rows = _run_in_interpreters(Timed(batch.task, shared=True), batch.items, batch.workers,
                                batch.chunksize, batch.count, batch.timeout)
    grown = max(0, (peak_of(rows) or 0) - before) // max(batch.workers, 1)
    return Ran(rows, grown)


def _interpreters_import(batch: Batch) -> str | None:
    """Each interpreter imports the target's module anew: checked once per module."""
    return subinterpreters.import_problem(getattr(batch.task.func, "__module__", None))


run_interpreters.check = _interpreters_import  # type: ignore[attr-defined]


def run_on_cluster(batch: Batch) -> Ran:
    from concdoctor.child import cluster

    task = batch.task
    try:
        rows, shipping = cluster.run(task.func, task.pass_item, task.is_coroutine, batch.items,
                                     unpack=task.unpack, where=batch.scheduler,
                                     workers=batch.workers, count=batch.count,
                                     timeout=batch.timeout)
    except cluster.ClusterUnavailable as exc:
        raise ExecutorUnavailable(str(exc)) from None
    return Ran(rows, peak_of(rows), shipping)  # sending code is concdoctor's, not the batch's


def ignore_count(done: int) -> None:
    pass


def _collect(values: Iterable[Any], count: Callable[[int], None]) -> list[Any]:
    results = []
    for value in values:
        results.append(value)
        count(len(results))
    return results


def _run_sequential(task: Task, items: Sequence[Any],
                    count: Callable[[int], None]) -> list[tuple[Any, float, float, int]]:
    """One call after another; coroutines on one event loop, as a plain loop would."""
    if not task.is_coroutine:
        return _collect((Timed(task, memory=False)(item) for item in items), count)
    import asyncio

    loop = asyncio.new_event_loop()

    def one(item: Any) -> tuple[Any, float, float, int]:
        start = time.perf_counter()
        value = loop.run_until_complete(task.coroutine(item))
        return value, start, time.perf_counter(), 0

    try:
        return _collect((one(item) for item in items), count)
    finally:
        loop.close()


async def gather_bounded(task: Task, items: Sequence[Any], workers: int,
                          count: Callable[[int], None],
                          peak: bool = False) -> list[tuple[Any, float, float, int]]:
    import asyncio

    semaphore = asyncio.Semaphore(workers)
    done = 0

    async def one(item: Any) -> tuple[Any, float, float, int]:
        nonlocal done
        async with semaphore:
            start = time.perf_counter()
            value = await task.coroutine(item)
            end = time.perf_counter()
        done += 1
        count(done)
        return value, start, end, worker_pss() if peak else 0

    return list(await asyncio.gather(*(one(item) for item in items)))


def run_in_pool(pool: cf.Executor, timed: Callable[[Any], Any], items: Sequence[Any],
                 chunksize: int, count: Callable[[int], None]) -> list[Any]:
    try:
        with pool:
            return _collect(pool.map(timed, items, chunksize=max(1, chunksize)), count)
    except cf.process.BrokenProcessPool as exc:
        raise ExecutorUnavailable(
            f"a worker process died ({exc}); the function may crash or call os._exit"
        ) from None
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        if "pickle" in str(exc).lower() or isinstance(exc, pickle.PicklingError):
            raise ExecutorUnavailable(
                f"the pool could not ship data ({type(exc).__name__}: {exc})"
            ) from None
        raise


def _run_in_interpreters(timed: Timed, items: Sequence[Any], workers: int, chunksize: int,
                         count: Callable[[int], None], timeout: float | None) -> list[Any]:
    factory = interpreter_pool()
    assert factory is not None
    pool = factory(max_workers=workers, initializer=exec,
                   initargs=(subinterpreters.setup_script(),))
    try:
        results = _collect(pool.map(timed, items, timeout=timeout,
                                    chunksize=max(1, chunksize)), count)
    except cf.TimeoutError:
        pool.shutdown(wait=False, cancel_futures=True)
        raise ExecutorUnavailable(
            f"the interpreter pool did not finish within {timeout:g} s: a sub-interpreter "
            "is stuck (its data cannot cross interpreters, or a C extension cannot load in "
            "one)") from None
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
