"""The ``dask`` executor's batch on a dask.distributed cluster (``concdoctor[dask]``).

With an address the batch runs on that cluster; without one, on a ``LocalCluster`` of one
worker process per core with one thread each, so that the engine's own costs are measured
here. The batch travels in chunks (a task per item costs a few milliseconds of
scheduling each), mapped with ``Client.map`` and gathered in order.

Workers need the user's module: where they cannot import it (a script, a module only on
this machine), its file (or its top-level package, zipped) is uploaded to them first,
with the small ``concdoctor_tasks`` module that times each call there.

A scheduler lost or a worker dying during a trial makes the trial skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from concdoctor.cluster import CONNECT_SECONDS, EXTRA


def _asyncio_timeout() -> type[BaseException]:
    """What dask raises on a timeout besides the builtin: asyncio's, which is not the
    builtin before 3.11 (imported here only: dask has imported it by then)."""
    import asyncio

    return asyncio.TimeoutError


CHUNKS_PER_WORKER = 4
TASKS_FILE = Path(__file__).with_name("concdoctor_tasks.py")

Count = Callable[[int], None]


class ClusterUnavailable(Exception):
    """The cluster could not run this batch (reason in the message)."""


def run(func: Callable[..., Any], pass_item: bool, is_coroutine: bool, items: Sequence[Any],
        *, where: str | None, workers: int, count: Count, timeout: float | None,
        ) -> tuple[list[Any], float]:
    """Run the batch on the cluster: each call's ``(value, start, end, peak)``, and the
    seconds spent shipping code to the workers (not the batch's: left out of its time)."""
    try:
        import distributed
    except ImportError:
        raise ClusterUnavailable(f"the dask executor needs dask.distributed: {EXTRA}") from None
    _quiet()
    with _client(distributed, where, workers) as client:
        shipping = time.perf_counter()
        tasks = _ship(client, func)
        shipped = time.perf_counter() - shipping
        chunks = _chunks(items, max(1, workers) * CHUNKS_PER_WORKER)
        futures = client.map(tasks.run_chunk, [func] * len(chunks), [pass_item] * len(chunks),
                             [is_coroutine] * len(chunks), chunks, pure=False)
        runs = _gather(distributed, client, futures, count, timeout, where)
    return runs, shipped


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


def _ship(client: Any, func: Callable[..., Any]) -> Any:
    """The timing module on every worker, and the user's module where they lack it."""
    tasks = _tasks_module()
    client.upload_file(str(TASKS_FILE), load=True)
    module = getattr(func, "__module__", None)
    if module and module != "__main__":
        answers = client.run(tasks.can_import, module)
        if not all(answers.values()):
            with tempfile.TemporaryDirectory(prefix="concdoctor-ship-") as scratch:
                client.upload_file(_shippable(module, Path(scratch)), load=True)
    return tasks


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
            timeout: float | None, where: str | None) -> list[Any]:
    done = 0
    runs: list[Any] = []
    try:
        distributed.wait(futures, timeout=timeout)
        for future in futures:
            chunk = future.result()
            runs.extend(chunk)
            done += len(chunk)
            count(done)
    except (TimeoutError, _asyncio_timeout()):
        raise ClusterUnavailable(f"the dask cluster did not finish within {timeout:g} s (a "
                                 "worker may have died, or the cluster is busy)") from None
    except distributed.KilledWorker as exc:
        raise ClusterUnavailable(f"a dask worker died running the tasks ({exc})") from None
    except Exception:
        if client.status != "running":
            raise ClusterUnavailable(f"the dask scheduler at {where or 'the local cluster'} "
                                     "was lost during the trial") from None
        raise  # the target's own exception, re-raised by dask
    return runs


def _quiet() -> None:
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
