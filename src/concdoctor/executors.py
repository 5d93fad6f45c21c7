"""Every executor concdoctor knows, each in one entry: the one place that says what it is.

An entry holds what every stage asks about an executor: its name (the report's) and its
label (the reader's); its default worker count and whether the scaling curve's knee
picks it; what it costs and what it serialises, for the capacity model; whether it
ships data (pickles the function, inputs and results) and chunks short tasks; what the
results check and the snippet must know (it shares the process's memory, it needs an
``async def`` target); and, by name, the function that runs it inside the child and the
one that writes its snippet. Adding an executor is one :func:`register` call and those
two functions: the rules, the measuring, the capacity model, the reports and the
snippet all read the entry.

This module imports nothing heavy: the options (and so the pytest plugin) read it in
every session. Runners and snippet writers are named ``"module:function"`` and imported
where they are used, the runner only inside the child.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SEQUENTIAL = "sequential"
"""The reference every speedup is measured against: the batch in a plain loop."""


@dataclass(frozen=True)
class Costs:
    """What an executor costs beyond the work: once, per worker, per task, per byte."""

    start: float
    per_worker: float
    per_task: float
    """Per hand-off (a task, or a chunk of them): the round trip to a worker."""
    per_byte: float = 0.0
    per_item: float = 0.0
    """Per call shipped, even inside a chunk: pickling it and its result (CPU the
    dispatching process spends beside the workers)."""


@dataclass(frozen=True)
class Executor:
    """One way to run the batch."""

    name: str
    label: str
    """What the reports call it ("thread pool")."""
    runner: str
    """``module:function`` that runs the batch inside the child (see
    :func:`concdoctor.child.runners.run_batch` for its signature)."""
    snippet: str
    """``module:function`` that writes the lines applying the advice (see
    :mod:`concdoctor.conclude.snippet`)."""
    workers: str = "1"
    """Its worker count when nothing else sets it: a rules expression (tasks, cpu_count,
    cluster_workers). A rules file's ``[alternatives]`` may override it."""
    costs: Costs | None = None
    """For the capacity model; None: not modelled (the sequential loop)."""
    serialises: str = ""
    """What its workers take turns on: ``"gil"`` (threads, unless the GIL is off),
    ``"loop"`` (one event loop runs all the Python), or nothing."""
    ships: bool = False
    """Pickles the function, its inputs and its results to its workers by name (the
    standard pickle): a closure, a lambda, or a function of ``__main__`` under ``spawn``
    or ``forkserver`` cannot go."""
    by_value: bool = False
    """Ships them with cloudpickle instead: code that does not import by name goes as its
    bytecode (only what does not pickle at all, a lock or a generator, cannot go)."""
    start_method: str = ""
    """How its workers start: ``"default"``, the multiprocessing start method in force
    (the platform's, or ``--start-method``); a fixed one of its own (``"loky"``); empty
    for no processes of its own."""
    chunks: bool = False
    """Hands short tasks out in chunks (``map(..., chunksize=N)``)."""
    kneed: bool = False
    """Each worker costs something, so the scaling curve's knee picks the count."""
    shares_memory: bool = False
    """Its tasks share the process's module state: a write to it needs a lock."""
    os_threads: bool = False
    """Each worker is a thread of this process: the user's thread limit bounds them."""
    starts_on_submit: bool = False
    """Each submit starts a worker until it has them all (``ThreadPoolExecutor``): the
    first tasks run while the later workers start, and the rest wait in its queue only
    once every worker has started (the prediction's model, :mod:`concdoctor.confirm.prediction`)."""
    worker_memory: str = ""
    """What its trials report as memory per worker: ``"pss"`` (a worker process's
    proportional set size), ``"added"`` (what each worker added to this process), or
    nothing."""
    nested: bool = False
    """Each worker runs several calls at once (threads, or an event loop for an ``async
    def`` target): ``workers`` processes x ``inner_workers`` calls."""
    needs_coroutine: bool = False
    """Runs only ``async def`` targets."""
    opt_in: bool = False
    """Measured only when named (``--compare``, ``--cluster``): it costs seconds to start."""
    on_cluster: bool = False
    """Runs on the cluster given by ``--cluster`` (measured whenever one is given)."""
    rivals: tuple[str, ...] = ()
    """Executors that run the same work much the same way (process, interpreter, hybrid):
    when this one is advised, a rival the model rates close to it gets a trial against
    it, since which is faster (start-up, shipping, memory, overlap) is for a measurement
    to say."""
    pool_class: str = ""
    """``module:Class`` of the ``concurrent.futures.Executor`` its snippet uses, for a
    snippet written by :func:`concdoctor.conclude.snippet.pool_body`."""
    available: str | None = None
    """``module:function`` returning why it cannot run on this Python, or None."""
    loop_writer: str = ""
    """``module:function`` that rewrites a program's loop to run its calls on this
    executor, for ``concdoctor run`` (see :mod:`concdoctor.program.rewrite`); empty:
    that report gives the call's snippet instead."""

    @property
    def pickles(self) -> bool:
        """Its workers are other processes, sent the function and the data pickled (by
        name or by value)."""
        return self.ships or self.by_value

    def run(self) -> Callable[..., Any]:
        return _resolve(self.runner)

    def write_snippet(self) -> Callable[..., list[str]]:
        return _resolve(self.snippet)

    def write_loop(self) -> Callable[..., list[str]] | None:
        return _resolve(self.loop_writer) if self.loop_writer else None

    def unavailable(self) -> str | None:
        """Why this Python cannot run it at all, or None."""
        return _resolve(self.available)() if self.available else None


_REGISTRY: dict[str, Executor] = {}


def register(executor: Executor) -> Executor:
    """Add (or replace) an executor; every stage sees it from then on."""
    if not executor.name.isidentifier():
        raise ValueError(f"executor name {executor.name!r} must be an identifier (the rules "
                         "and metrics spell it)")
    _REGISTRY[executor.name] = executor
    return executor


def unregister(name: str) -> None:
    if name == SEQUENTIAL:
        raise ValueError("the sequential reference cannot be removed")
    _REGISTRY.pop(name, None)


def get(name: str) -> Executor:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown executor {name!r}; known: {', '.join(names())}") from None


def known(name: str) -> bool:
    return name in _REGISTRY


def names() -> tuple[str, ...]:
    """Every executor's name, the sequential reference first."""
    return tuple(_REGISTRY)


def all_executors() -> Iterator[Executor]:
    return iter(tuple(_REGISTRY.values()))


def pools() -> tuple[Executor, ...]:
    """Every executor but the sequential reference."""
    return tuple(e for e in _REGISTRY.values() if e.name != SEQUENTIAL)


def modelled() -> tuple[Executor, ...]:
    """The executors the capacity model predicts."""
    return tuple(e for e in _REGISTRY.values() if e.costs is not None)


def label(name: str) -> str:
    return _REGISTRY[name].label if name in _REGISTRY else name


def _resolve(path: str) -> Any:
    module, _, attribute = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


_RUNNERS = "concdoctor.child.runners"
_SNIPPETS = "concdoctor.conclude.snippet"
_LOOPS = "concdoctor.program.rewrite"

register(Executor(SEQUENTIAL, "stay sequential", f"{_RUNNERS}:run_sequential",
                  f"{_SNIPPETS}:sequential_body"))
register(Executor(
    "thread", "thread pool", f"{_RUNNERS}:run_threads", f"{_SNIPPETS}:pool_body",
    workers="tasks", costs=Costs(start=0.0005, per_worker=0.0001, per_task=0.00003),
    serialises="gil", kneed=True, shares_memory=True, os_threads=True, starts_on_submit=True,
    pool_class="concurrent.futures:ThreadPoolExecutor", loop_writer=f"{_LOOPS}:pool_loop"))
register(Executor(
    "process", "process pool", f"{_RUNNERS}:run_processes", f"{_SNIPPETS}:pool_body",
    workers="min(tasks, 8 * cpu_count)",
    costs=Costs(start=0.005, per_worker=0.01, per_task=0.0001, per_byte=2e-9, per_item=7e-6),
    ships=True, chunks=True, kneed=True, rivals=("interpreter", "hybrid"), worker_memory="pss",
    start_method="default", pool_class="concurrent.futures:ProcessPoolExecutor",
    loop_writer=f"{_LOOPS}:pool_loop"))
register(Executor(
    "asyncio", "asyncio tasks", f"{_RUNNERS}:run_asyncio", f"{_SNIPPETS}:asyncio_body",
    workers="min(tasks, 1000)", costs=Costs(start=0.001, per_worker=0.0, per_task=0.00005),
    serialises="loop", shares_memory=True, needs_coroutine=True,
    loop_writer=f"{_LOOPS}:asyncio_loop"))
register(Executor(
    "interpreter", "interpreter pool", f"{_RUNNERS}:run_interpreters",
    f"{_SNIPPETS}:pool_body", workers="min(tasks, cpu_count)",
    costs=Costs(start=0.01, per_worker=0.05, per_task=0.0002, per_byte=2e-9, per_item=7e-6),
    ships=True, chunks=True, kneed=True, rivals=("process",), worker_memory="added",
    pool_class="concurrent.futures:InterpreterPoolExecutor",
    available="concdoctor.environment:interpreter_unavailable", loop_writer=f"{_LOOPS}:pool_loop"))
register(Executor(
    "dask", "dask cluster", f"{_RUNNERS}:run_on_cluster", f"{_SNIPPETS}:dask_body",
    workers="max(cluster_workers, cpu_count)",
    costs=Costs(start=0.7, per_worker=0.05, per_task=0.0005, per_byte=5e-9, per_item=1e-5),
    by_value=True, opt_in=True, on_cluster=True, available="concdoctor.cluster:missing",
    loop_writer=f"{_LOOPS}:dask_loop"))
register(Executor(
    "hybrid", "process pool × threads", "concdoctor.child.hybrid:run_hybrid",
    f"{_SNIPPETS}:hybrid_body",
    workers="min(tasks, 8 * cpu_count)",
    costs=Costs(start=0.005, per_worker=0.01, per_task=0.0001, per_byte=2e-9, per_item=7e-6),
    serialises="gil", ships=True, chunks=True, kneed=True, nested=True, worker_memory="pss",
    start_method="default", rivals=("process",)))
# Where the function or its data only pickle by value (a closure, a lambda, a function of
# a notebook or of __main__ under spawn / forkserver): loky's process pool, which ships
# with cloudpickle and starts each worker as a fresh interpreter that does not run
# __main__ again. Measured where advised or named: elsewhere the standard pool does as well.
register(Executor(
    "loky", "loky process pool", f"{_RUNNERS}:run_loky", f"{_SNIPPETS}:loky_body",
    workers="min(tasks, 8 * cpu_count)",
    costs=Costs(start=0.2, per_worker=0.4, per_task=0.0002, per_byte=3e-9, per_item=2e-5),
    by_value=True, chunks=True, kneed=True, worker_memory="pss", opt_in=True,
    start_method="loky", available="concdoctor.environment:loky_unavailable",
    loop_writer=f"{_LOOPS}:loky_loop"))
