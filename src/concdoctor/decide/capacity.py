"""The speedup of each executor at every worker count, and on machines with more cores.

A batch of ``n`` tasks of ``t`` seconds spends the shares ``idle`` waiting, ``gil``
running Python (or C that keeps the GIL) and ``released`` running C without it. On an
executor with ``W`` workers and ``C`` cores, the batch cannot finish before any of:

* its waves: ``ceil(n / W)`` tasks one after another on each worker;
* its cores: all the running, ``n * (gil + released) * t``, shared by ``min(W, C)``;
* what the executor serialises: threads take turns on the GIL (``n * gil * t``, none on
  a free-threaded build), one event loop runs all of asyncio's work, while processes,
  sub-interpreters and dask workers each have their own;
* handing the tasks out: a cost per task (more for data pickled to a process, more
  again across a network) in the one thread that dispatches them;

plus the executor's start-up, per worker. The speedup is the sequential time over the
longest of those, plus the start-up. Costs are this machine's typical ones (each
executor's ``costs`` in :mod:`concdoctor.executors`); where the confirmation measured an
executor, its curve is scaled to pass through the measured point, so the measured points
sit on the curves.

What this cannot see from here is written in the README ("What the scaling model
assumes"): memory bandwidth and caches shared by more cores, hyper-threads counted as
cores, a remote cluster's network latency and bandwidth (a per-task cost stands in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from concdoctor import executors as registry
from concdoctor.diagnosis import Diagnosis, ExecutorResult, ScalingPoint
from concdoctor.executors import Costs

WORKERS = (1, 2, 4, 8, 16, 32, 64)
"""The worker counts the scaling table shows (and the advised and measured ones)."""
KNEE_SIZES = tuple(2 ** i for i in range(13))
"""The worker counts the knee weighs, up to 4096: thousands of short waits need more
threads than any table shows; what else bounds them is the limits' (decide/limits.py)."""
CORES = (1, 2, 4, 8, 16, 32, 64)
KNEE = 0.95
"""The knee: the fewest workers reaching this share of the best speedup on the curve."""
CONTENTION = 4
"""How a shared GIL or event loop combines with the other bounds (see :func:`seconds`)."""
WAITING_CONTENTION = 0.25
"""Tasks idle this share of the time or more queue for the cores at random moments (see
:func:`_queueing`); below it, in proportion."""


@dataclass(frozen=True)
class Work:
    """The batch as the scaling model sees it."""

    tasks: int
    task_seconds: float
    idle: float
    gil: float
    released: float
    bytes_per_task: int = 0
    gil_enabled: bool = True
    external: float = 0.0
    """CPU seconds the programs a task waits for (gzip, a compiler) use per second of the
    task: idle to the interpreter, yet they take cores."""
    coroutine: bool = False
    """The tasks are coroutines: inside a hybrid pool's worker, one loop runs them."""


THREAD_START = 0.0001
"""What one more thread inside a hybrid pool's worker costs to start."""


def seconds(executor: str, work: Work, workers: int, cores: int,
            costs: Costs | None = None, chunksize: int = 1, inner: int = 1) -> float:
    """The batch's predicted wall time on ``executor`` with ``workers`` on ``cores``
    (its registry entry's costs, unless ``costs`` are given), tasks handed out
    ``chunksize`` at a time, each worker running ``inner`` of them at once where the
    executor nests (the hybrid pool: ``workers`` processes x ``inner`` threads).

    The cores bound applies to the CPU share of the work only (the interpreter's, and
    the child programs'): more workers than cores overlap one worker's waits with
    another's running, so a pool of processes gains past the core count on work that
    waits part of the time."""
    n, t = work.tasks, work.task_seconds
    entry = registry.get(executor)
    cost = costs or entry.costs
    assert cost is not None, f"{executor} is not modelled"
    busy = work.gil + work.released
    size = max(1, min(workers, n))
    inner = max(1, inner) if entry.nested else 1
    chunk = max(1, min(chunksize, math.ceil(n / size)))
    chunks = math.ceil(n / chunk)
    cpu = busy + work.external  # a child program may use more than one core per task
    running = max(1.0, min(min(size * inner, n) * max(1.0, cpu), cores))
    pickling = n * (cost.per_item + work.bytes_per_task * cost.per_byte)
    dispatch = chunks * cost.per_task + pickling
    waves = math.ceil(chunks / size) * math.ceil(chunk / inner) * t
    on_cores = (n * cpu * t + pickling) / running  # the dispatcher's pickling runs there too
    parallel = max(_queueing(waves, on_cores, work.idle), dispatch)
    # Workers queueing for one shared GIL (or loop) while their waves also bound the
    # batch lose more than the larger bound says: the two combine as a 4-norm, which is
    # the larger bound when one dominates, and more when they are close.
    longest = _norm(parallel, _serial(entry, work, size, inner))
    threads = (inner - 1) * size * THREAD_START
    return cost.start + cost.per_worker * size + threads + longest


def _serial(entry: registry.Executor, work: Work, size: int, inner: int) -> float:
    """What the workers take turns on: one GIL (or loop) for all of them, or, nested, one
    per process among its ``inner`` calls."""
    n, t = work.tasks, work.task_seconds
    busy = work.gil + work.released
    if entry.nested:
        if inner == 1:
            return 0.0
        held = busy if work.coroutine else (work.gil if work.gil_enabled else 0.0)
        return n * held * t / size
    if size == 1:  # one worker queues behind no one
        return 0.0
    if entry.serialises == "gil" and work.gil_enabled:
        return n * work.gil * t
    if entry.serialises == "loop":
        return n * busy * t
    return 0.0


def _queueing(waves: float, on_cores: float, idle: float) -> float:
    """Waves and cores together. Workers that never wait keep the cores busy: the larger
    bound. Workers that wait and run in turn sometimes want more cores than there are and
    sometimes leave one idle, so where the two bounds meet the batch takes longer than
    either: as with a shared GIL, a 4-norm, weighed in as the tasks wait."""
    longer = max(waves, on_cores)
    weight = min(1.0, idle / WAITING_CONTENTION)
    return longer + weight * (_norm(waves, on_cores) - longer)


def _norm(a: float, b: float) -> float:
    return (a ** CONTENTION + b ** CONTENTION) ** (1 / CONTENTION)


def speedup(executor: str, work: Work, workers: int, cores: int,
            costs: Costs | None = None, scale: float = 1.0, chunksize: int = 1,
            inner: int = 1) -> float:
    sequential = work.tasks * work.task_seconds
    predicted = seconds(executor, work, workers, cores, costs, chunksize, inner) * scale
    return round(sequential / predicted, 3) if predicted > 0 else 0.0


def knee(executor: str, work: Work, cores: int, ceiling: int = max(WORKERS),
         chunks: Callable[[int], int] | None = None) -> int:
    """The fewest workers, up to ``ceiling``, whose predicted speedup is within
    :data:`KNEE` of the best (never more workers than tasks). Powers of two are weighed,
    and the core count's multiples, so a 6-core machine can be advised 6."""
    top = max(1, min(ceiling, work.tasks))
    per_core = {cores * m for m in (1, 2, 4, 8)}
    sizes = sorted({w for w in (*KNEE_SIZES, *per_core) if w < top} | {top})
    curve = [(w, speedup(executor, work, w, cores, chunksize=chunks(w) if chunks else 1))
             for w in sizes]
    best = max(s for _, s in curve)
    return next(w for w, s in curve if s >= KNEE * best)


def work_from(metrics: Mapping[str, object]) -> Work:
    """The batch's figures from the rules' metrics."""
    def number(name: str) -> float:
        value = metrics.get(name, 0.0)
        return float(value) if isinstance(value, (int, float)) else 0.0

    return Work(int(number("tasks")), number("task_seconds"), number("idle_fraction"),
                number("gil_fraction"), number("released_fraction"),
                int(number("bytes_per_task")), bool(metrics.get("gil_enabled", True)),
                number("child_cpu_ratio"), bool(metrics.get("is_coroutine", False)))


def work_of(d: Diagnosis) -> Work | None:
    """The batch's figures from a diagnosis's evidence (None before the baseline)."""
    ev = d.evidence
    if ev is None:
        return None
    # The median task, as the rules' ``task_seconds`` the knee is found from.
    return Work(d.workload.tasks, ev.task_seconds_median, *ev.shares, ev.bytes_per_task,
                d.environment.gil_enabled, ev.child_cpu_ratio, d.workload.is_coroutine)


def curves(d: Diagnosis) -> dict[str, tuple[ScalingPoint, ...]]:
    """Every applicable executor's speedup at each worker count, on this machine's cores
    and on more; scaled through what the confirmation measured."""
    work = work_of(d)
    if work is None or work.task_seconds <= 0:
        return {}
    here = d.environment.cpu_count
    measured = {r.executor: r for r in (d.confirmation.results if d.confirmation else ())
                if r.speedup is not None and not r.unsafe}
    rec = d.recommendation
    advised = ({rec.executor: (rec.workers, rec.chunksize, rec.inner_workers)}
               if rec is not None else {})
    # a nested pool's curve needs its calls per worker: drawn once advised or measured
    names = [e.name for e in registry.modelled()
             if (d.workload.is_coroutine or not e.needs_coroutine)
             and (not (e.opt_in or e.nested) or e.name in measured or e.name in advised)
             and e.name not in d.environment.unavailable]
    return {executor: _curve(executor, work, here, measured.get(executor),
                             advised.get(executor)) for executor in names}


def _curve(executor: str, work: Work, here: int, result: ExecutorResult | None,
           advised: tuple[int, int, int] | None = None) -> tuple[ScalingPoint, ...]:
    """One executor's points; chunks and calls per worker as measured, else advised."""
    chunksize, inner = ((result.chunksize, result.inner_workers) if result is not None else
                        advised[1:] if advised is not None else (1, 1))

    def model(workers: int, cores: int, factor: float = 1.0) -> float:
        return speedup(executor, work, workers, cores, scale=factor,
                       chunksize=chunksize, inner=inner)

    scale = 1.0
    if result is not None and result.speedup:
        scale = model(result.workers, here) / result.speedup
    # A measured pool of one worker says how this machine ran it, not how workers share
    # more cores: the other machines keep the model's own curve.
    elsewhere = scale if result is not None and result.workers >= 2 else 1.0
    points = []
    for cores in sorted({here, *(c for c in CORES if c > here)}):
        for workers in _sizes(work.tasks, result, advised[0] if advised else None):
            hit = (result is not None and cores == here and workers == result.workers)
            factor = scale if cores == here else elsewhere
            points.append(ScalingPoint(workers, cores, round(model(workers, cores, factor), 3),
                                       result.speedup if hit and result else None))
    return tuple(points)


def _sizes(tasks: int, result: ExecutorResult | None, advised: int | None) -> Sequence[int]:
    """The usual worker counts, and the ones measured and advised."""
    sizes = {w for w in WORKERS if w <= tasks} | ({result.workers} if result else set())
    sizes |= {advised} if advised else set()
    return sorted(sizes or {1})
