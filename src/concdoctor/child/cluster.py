"""The ``dask`` executor's batch on a dask.distributed cluster (``concdoctor[dask]``).

With an address the batch runs on that cluster; without one, on a ``LocalCluster`` of one
worker process per core with one thread each, so that the engine's own costs are measured
here. The batch travels in chunks (a task per item costs a few milliseconds of
scheduling each), one task per chunk, gathered in order.

Recent dask unpickles the task graph on the scheduler too, so the code must reach the
scheduler as well as the workers. Each chunk travels by value (:mod:`.byvalue`): the
small ``concdoctor_tasks`` module that times each call always, and the user's package
unless the scheduler and every worker can import it (a production image has it; a generic
scheduler does not). What cannot travel by value (a module whose globals do not pickle)
is uploaded to the scheduler and the workers instead (``Client.upload_file``).

Before the clock, the scheduler and every worker are asked to unpickle the first chunk:
one that cannot is a deployment problem, and dask is skipped with the reason and the fix
naming where (see :func:`_preflight`). The target's own exception travels back as a value
(``concdoctor_tasks.RAISED``), so every exception dask raises is the cluster's: a skip,
never the results check's "raised". A scheduler lost or a worker dying during a trial
skips it too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import pickle
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from concdoctor.child.byvalue import ByValue, top_package
from concdoctor.cluster import CONNECT_SECONDS, EXTRA


def _asyncio_timeout() -> type[BaseException]:
    """What dask raises on a timeout besides the builtin: asyncio's, which is not the
    builtin before 3.11 (imported here only: dask has imported it by then)."""
    import asyncio

    return asyncio.TimeoutError


CHUNKS_PER_WORKER = 4
TASKS_FILE = Path(__file__).with_name("concdoctor_tasks.py")
TASKS = "concdoctor_tasks"

Count = Callable[[int], None]


class ClusterUnavailable(Exception):
    """The cluster could not run this batch (reason in the message)."""


def run(func: Callable[..., Any], pass_item: bool, is_coroutine: bool, items: Sequence[Any],
        *, unpack: bool = False, where: str | None, workers: int, count: Count,
        timeout: float | None) -> tuple[list[Any], float]:
    """Run the batch on the cluster: each call's ``(value, start, end, peak)``, and the
    seconds spent shipping code and checking that it loads (not the batch's: left out
    of its time)."""
    try:
        import distributed
    except ImportError:
        raise ClusterUnavailable(f"the dask executor needs dask.distributed: {EXTRA}") from None
    _quiet()
    place = f"the dask scheduler at {where}" if where else "the local dask scheduler"
    with _client(distributed, where, workers) as client:
        try:
            futures, shipped = _submit(client, (func, pass_item, is_coroutine, unpack),
                                       items, workers, place)
        except ClusterUnavailable:
            raise
        except Exception as exc:  # the target has not run yet: whatever failed is the cluster's
            raise ClusterUnavailable(_deployment(exc, place)) from None
        runs = _gather(distributed, client, futures, count, timeout, place)
    return runs, shipped


def _submit(client: Any, how: tuple[Callable[..., Any], bool, bool, bool],
            items: Sequence[Any], workers: int, place: str) -> tuple[list[Any], float]:
    """One task per chunk, each sent by value, once the cluster has shown it can load
    them; and the seconds that took that are concdoctor's own (shipping, checking).
    ``how`` is ``(func, pass_item, is_coroutine, unpack)``, as ``run_chunk`` takes them."""
    func, pass_item, is_coroutine, unpack = how
    began = time.perf_counter()
    tasks = _tasks_module()
    by_value = _ship(client, func, tasks)
    shipped = time.perf_counter() - began
    calls = [ByValue(functools.partial(tasks.run_chunk, func, pass_item, is_coroutine, chunk,
                                       unpack), by_value=by_value)
             for chunk in _chunks(items, max(1, workers) * CHUNKS_PER_WORKER)]
    checking = time.perf_counter()
    _preflight(client, calls[0].blob, place, func)
    shipped += time.perf_counter() - checking
    return [client.submit(call, pure=False) for call in calls], shipped


@contextlib.contextmanager
def _client(distributed: Any, where: str | None, workers: int) -> Iterator[Any]:
    if where is not None:
        try:
            client = distributed.Client(where, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, _asyncio_timeout()) as exc:
            raise ClusterUnavailable(f"the dask scheduler at {where} was lost ({exc})") from None
        with client:
            yield client
        return
    with tempfile.TemporaryDirectory(prefix="concdoctor-dask-") as scratch, \
            distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address="127.0.0.1:0",
                                     silence_logs=logging.CRITICAL,
                                     local_directory=scratch) as local, \
            distributed.Client(local) as client:
        yield client


def _ship(client: Any, func: Callable[..., Any], tasks: Any) -> tuple[str, ...]:
    """The modules to send by value: the timing module always, the user's package unless
    the scheduler and every worker can import it. One whose code does not pickle by value
    is uploaded to them all instead, and goes by name."""
    module = getattr(func, "__module__", None)
    top = top_package(module)
    if top is None or module is None:  # __main__ and dynamic code go by value anyway
        return (TASKS,)
    probe = ByValue(functools.partial(tasks.can_import, module), by_value=(TASKS,))
    if all(client.run(probe).values()) and client.run_on_scheduler(probe):
        return (TASKS,)
    if _pickles(func, top):
        return TASKS, top
    with tempfile.TemporaryDirectory(prefix="concdoctor-ship-") as scratch:
        client.upload_file(_shippable(module, Path(scratch)), load=True)
    return (TASKS,)


def _pickles(func: Callable[..., Any], top: str) -> bool:
    """Whether ``func`` pickles with its package sent by value."""
    try:
        ByValue(func, by_value=(top,))
    except Exception:  # cloudpickle raises many types: all mean "upload it instead"
        return False
    return True


def _preflight(client: Any, blob: bytes, place: str, func: Callable[..., Any]) -> None:
    """The scheduler, then every worker, unpickles a chunk before the clock starts: one
    that cannot makes dask skipped, naming where and what to install there."""
    tasks = _tasks_module()
    probe = ByValue(functools.partial(tasks.load_problem, blob), by_value=(TASKS,))
    try:
        problem = client.run_on_scheduler(probe)
    except Exception as exc:  # the scheduler refused to run it: the graph would fail too
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        raise ClusterUnavailable(
            f"{place} cannot load the tasks ({_short(problem)}): recent dask unpickles the "
            f"task graph on the scheduler, so {_fix(problem, func)} in the scheduler's "
            "environment too")
    answers = client.run(probe)
    failed = [answer for answer in answers.values() if answer]
    if failed:
        raise ClusterUnavailable(
            f"{len(failed)} of {len(answers)} dask workers cannot load the tasks "
            f"({_short(failed[0])}): {_fix(failed[0], func)} on the workers")


def _fix(problem: str, func: Callable[..., Any]) -> str:
    missing = re.search(r"No module named '([^']+)'", problem)
    if missing:
        return f"install {missing.group(1).split('.')[0]} (the version this machine has)"
    module = getattr(func, "__module__", "the target's module")
    return f"install what {module} imports, at the versions this machine has,"


def _short(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _tasks_module() -> Any:
    """``concdoctor_tasks``, imported here under the name the workers will know it by."""
    loaded = sys.modules.get("concdoctor_tasks")
    if loaded is None:
        spec = importlib.util.spec_from_file_location("concdoctor_tasks", TASKS_FILE)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["concdoctor_tasks"] = loaded
        spec.loader.exec_module(loaded)
    return loaded


def _shippable(module: str, scratch: Path) -> str:
    """The user's module as a file the workers can import: itself, or its top-level
    package zipped into ``scratch``."""
    top = sys.modules[module.split(".")[0]]
    origin = getattr(top, "__file__", None)
    if origin is None:
        raise ClusterUnavailable(f"{module} cannot be sent to the dask workers; install it "
                                 "there")
    if not origin.endswith("__init__.py"):
        return origin
    package = Path(origin).parent
    archive = scratch / f"{package.name}.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in package.rglob("*.py"):
            out.write(path, Path(package.name) / path.relative_to(package))
    return str(archive)


def _chunks(items: Sequence[Any], count: int) -> list[list[Any]]:
    size = max(1, -(-len(items) // count))
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def _gather(distributed: Any, client: Any, futures: list[Any], count: Count,
            timeout: float | None, place: str) -> list[Any]:
    """Each chunk's rows in order; the target's exception re-raised as its own; every
    other failure the cluster's (:class:`ClusterUnavailable`, with what to do)."""
    done = 0
    runs: list[Any] = []
    try:
        distributed.wait(futures, timeout=timeout)
        chunks = [future.result() for future in futures]
    except (TimeoutError, _asyncio_timeout()):
        raise ClusterUnavailable(f"the dask cluster did not finish within {timeout:g} s (a "
                                 "worker may have died, or the cluster is busy)") from None
    except distributed.KilledWorker as exc:
        raise ClusterUnavailable(f"a dask worker died running the tasks ({exc})") from None
    except Exception as exc:  # never the target's: its exceptions come back as values
        if client.status != "running":
            raise ClusterUnavailable(f"{place} was lost during the trial") from None
        raise ClusterUnavailable(_deployment(exc, place)) from None
    for chunk in chunks:
        if isinstance(chunk, tuple) and chunk and chunk[0] == _tasks_module().RAISED:
            raise _target_exception(chunk)
        runs.extend(chunk)
        done += len(chunk)
        count(done)
    return runs


def _deployment(exc: BaseException, place: str) -> str:
    """The cluster's failure, in words that say where it is and what to do."""
    text = _short(f"{type(exc).__name__}: {exc}")
    if "deserializ" in text.lower() and "graph" in text.lower():
        return (f"{place} cannot unpickle the task graph ({text}): give the scheduler the "
                "packages the target imports, at the versions the client has")
    return (f"the dask cluster could not run the tasks ({text}): check that the scheduler "
            "and the workers have the packages the target imports, at the client's versions")


def _target_exception(chunk: tuple[Any, ...]) -> BaseException:
    """The target's exception as the worker sent it (its text, where it did not pickle)."""
    _, blob, text = chunk
    try:
        exc = pickle.loads(blob) if blob else None
    except Exception:  # the exception's class cannot load here: its text stands for it
        exc = None
    return exc if isinstance(exc, BaseException) else TargetRaised(text)


class TargetRaised(Exception):
    """The target raised on a worker with an exception that could not travel back."""


def _quiet() -> None:
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
