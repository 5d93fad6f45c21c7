"""Running the whole batch on one executor, inside the child runner.

Each executor is timed from pool creation to shutdown: the user pays start-up and
dispatch, so the measurement includes them. Results travel back to the caller (and, for
processes, are pickled) exactly as they would in the user's own code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import pickle
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any


class ExecutorUnavailable(Exception):
    """This executor cannot run this batch (reason in the message); others still can."""


class Task:
    """One call of the user's function with one input; picklable when the function is.

    A coroutine function becomes a plain callable that runs the coroutine in its own
    event loop, so it can also run on threads and processes.
    """

    def __init__(self, func: Callable[..., Any], *, pass_item: bool, is_coroutine: bool) -> None:
        self.func = func
        self.pass_item = pass_item
        self.is_coroutine = is_coroutine

    def coroutine(self, item: Any) -> Coroutine[Any, Any, Any]:
        return self.func(item) if self.pass_item else self.func()

    def __call__(self, item: Any) -> Any:
        if self.is_coroutine:
            return asyncio.run(self.coroutine(item))
        return self.func(item) if self.pass_item else self.func()


def pickling_problem(task: Task, items: Sequence[Any]) -> str | None:
    """Why the process executor cannot ship this task or its inputs, or None."""
    try:
        pickle.dumps(task)
    except Exception as exc:  # pickle raises many types: all mean "cannot ship it"
        name = getattr(task.func, "__qualname__", repr(task.func))
        return f"the function {name} cannot be pickled ({type(exc).__name__}: {exc})"
    for index, item in enumerate(items):
        try:
            pickle.dumps(item)
        except Exception as exc:
            return f"input #{index} cannot be pickled ({type(exc).__name__}: {exc})"
    return None


def result_pickling_problem(result: Any) -> str | None:
    try:
        pickle.dumps(result)
    except Exception as exc:
        return f"the function's result cannot be pickled ({type(exc).__name__}: {exc})"
    return None


def interpreter_pool() -> type | None:
    """InterpreterPoolExecutor where this Python has it (3.14+), else None."""
    return getattr(cf, "InterpreterPoolExecutor", None)


def applicable(executor: str, *, is_coroutine: bool) -> str | None:
    """Why ``executor`` does not apply to this target at all, or None."""
    if executor == "asyncio" and not is_coroutine:
        return "asyncio needs an async def function; this one is synchronous"
    if executor == "interpreter" and interpreter_pool() is None:
        version = ".".join(map(str, sys.version_info[:2]))
        return f"InterpreterPoolExecutor needs Python 3.14 or newer (this is {version})"
    return None


def run_batch(
    executor: str, task: Task, items: Sequence[Any], *, workers: int, chunksize: int = 1
) -> tuple[float, list[Any]]:
    """Run every item once on ``executor``: the wall seconds it took, and the results in
    the order of the items (kept for the results check, as the user's code keeps them)."""
    reason = applicable(executor, is_coroutine=task.is_coroutine)
    if executor == "process" and not reason:
        reason = pickling_problem(task, items)  # checked before the clock starts
    if reason:
        raise ExecutorUnavailable(reason)
    start = time.perf_counter()
    if executor == "sequential":
        results = _run_sequential(task, items)
    elif executor == "asyncio":
        results = asyncio.run(_gather_bounded(task, items, workers))
    elif executor == "thread":
        with cf.ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(task, items))
    elif executor in ("process", "interpreter"):
        results = _run_in_pool(executor, task, items, workers, chunksize)
    else:
        raise ExecutorUnavailable(f"unknown executor {executor!r}")
    return time.perf_counter() - start, results


def _run_sequential(task: Task, items: Sequence[Any]) -> list[Any]:
    if not task.is_coroutine:
        return [task(item) for item in items]
    loop = asyncio.new_event_loop()
    try:
        return [loop.run_until_complete(task.coroutine(item)) for item in items]
    finally:
        loop.close()


async def _gather_bounded(task: Task, items: Sequence[Any], workers: int) -> list[Any]:
    semaphore = asyncio.Semaphore(workers)

    async def one(item: Any) -> Any:
        async with semaphore:
            return await task.coroutine(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


def _run_in_pool(executor: str, task: Task, items: Sequence[Any], workers: int,
                 chunksize: int) -> list[Any]:
    if executor == "process":
        pool: cf.Executor = cf.ProcessPoolExecutor(max_workers=workers)
    else:
        factory = interpreter_pool()
        assert factory is not None
        pool = factory(max_workers=workers)
    try:
        with pool:
            return list(pool.map(task, items, chunksize=max(1, chunksize)))
    except cf.process.BrokenProcessPool as exc:
        raise ExecutorUnavailable(
            f"a worker process died ({exc}); the function may crash or call os._exit"
        ) from None
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        if "pickle" in str(exc).lower() or isinstance(exc, pickle.PicklingError):
            raise ExecutorUnavailable(
                f"{executor} executor could not ship data ({type(exc).__name__}: {exc})"
            ) from None
        raise


def start_method() -> str:
    return multiprocessing.get_start_method(allow_none=False)
