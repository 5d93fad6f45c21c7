"""yappi over a few tasks: where the time goes, CPU against wall clock.

Tracing costs 10-45x on call-heavy code, so it never runs during the timed baseline.
Inside the child, each clock gets its own pass on a worker thread, bounded by a time
budget: when the budget runs out the profiler stops and the pass reports what it saw.
The child exits right after (``os._exit``), so an unfinished task costs nothing more.
The parent sets the budget (:func:`concdoctor.baseline.budget.tracing_seconds`) from the
slack the run has left.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor.diagnosis import FunctionStat
from concdoctor.protocol import TASK_FRAME, YappiDone, is_own_file

_SKIP_NAMES = {TASK_FRAME}
_SKIP_FILES = ("threading.py",)
def profile_tasks(
    run_one: Callable[[Any], Any], items: Sequence[Any], *, budget: float,
    cpu_budget: float | None = None, cpu_share: float | None = None, one_task: bool = False,
    max_tasks: int = 3, limit: int = 15,
) -> YappiDone:
    """Profile up to ``max_tasks`` items with the wall clock for ``budget`` seconds (or
    until the first is done, with ``one_task``), then with the CPU clock for
    ``cpu_budget`` (as long again when not given); given ``cpu_share`` (see
    :class:`~concdoctor.protocol.RunYappi`), only the first pass."""
    try:
        import yappi
    except ImportError:
        return YappiDone(False, "yappi is not installed: pip install yappi")
    sample = list(items[:max_tasks])
    traced = sample[:1] if one_task else sample
    wall, covered = _one_pass(yappi, "wall", run_one, traced, budget)
    cpu = {} if cpu_share is not None else _one_pass(
        yappi, "cpu", run_one, sample, budget if cpu_budget is None else cpu_budget)[0]
    functions = []
    for key, row in wall.items():
        wall_seconds = row.pop("self_seconds")
        # The passes may cover different amounts of work (each stops at its budget), so
        # the CPU time is scaled to the wall pass's number of calls.
        other = cpu.get(key)
        per_call = other["self_seconds"] / other["calls"] if other and other["calls"] else None
        cpu_seconds = (wall_seconds * cpu_share if cpu_share is not None else
                       per_call * row["calls"] if per_call is not None else 0.0)
        functions.append(FunctionStat(**row, wall_seconds=wall_seconds,
                                      cpu_seconds=min(cpu_seconds, wall_seconds)))
    functions.sort(key=lambda f: max(f.wall_seconds, f.cpu_seconds), reverse=True)
    return YappiDone(True, functions=tuple(functions[:limit]), tasks=len(traced),
                     traced_seconds=round(covered.seconds, 6), tasks_done=covered.tasks_done)


@dataclass(frozen=True)
class _Covered:
    """What a pass traced: for how long, and how many tasks it saw to their end."""

    seconds: float
    tasks_done: int


def _one_pass(yappi: Any, clock: str, run_one: Callable[[Any], Any], sample: list[Any],
              budget: float) -> tuple[dict[tuple[str, int, str], dict[str, Any]], _Covered]:
    """One traced pass of at most ``budget`` seconds. A task still in flight when it ends
    goes on untraced (its thread may compete with the next pass: CPU time is per thread,
    and times are compared per call, so that only shortens the next pass); the calls it
    was in are counted as ``unfinished``."""
    done = threading.Event()
    stop = threading.Event()
    finished = [0]

    def work() -> None:
        try:
            for item in sample:
                if stop.is_set():
                    break
                run_one(item)
                finished[0] += 1
        except BaseException:  # the baseline already reported failures; a pass just ends
            pass
        finally:
            done.set()

    yappi.clear_stats()
    yappi.set_clock_type(clock)
    yappi.start(builtins=True, profile_threads=True)
    worker = threading.Thread(target=work, name=f"concdoctor-yappi-{clock}", daemon=True)
    start = time.perf_counter()
    worker.start()
    done.wait(max(budget, 0.01))
    running = _on_stack(worker.ident)
    yappi.stop()
    covered = _Covered(time.perf_counter() - start, finished[0])
    stop.set()
    ctx_ids = [t.id for t in yappi.get_thread_stats() if t.tid == worker.ident]
    stats = yappi.get_func_stats(ctx_id=ctx_ids[0]) if ctx_ids else yappi.get_func_stats()
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    for stat in stats:
        if stat.name in _SKIP_NAMES or _is_own(stat.module):
            continue
        key = (stat.module, stat.lineno, stat.name)
        unfinished = min(running[(stat.module, stat.lineno)], stat.ncall)
        rows[key] = {"name": _display_name(stat), "file": stat.module, "line": stat.lineno,
                     "calls": stat.ncall, "self_seconds": stat.tsub,
                     "total_seconds": stat.ttot, "unfinished": unfinished,
                     "builtin": bool(stat.builtin)}
    yappi.clear_stats()
    return rows, covered


def _on_stack(ident: int | None) -> Counter[tuple[str, int]]:
    """The Python functions on thread ``ident``'s stack now, by file and first line (as
    yappi's ``module`` and ``lineno`` name them), each with its depth of recursion: the
    calls still running."""
    frame = sys._current_frames().get(ident) if ident is not None else None
    running: Counter[tuple[str, int]] = Counter()
    while frame is not None:
        running[(frame.f_code.co_filename, frame.f_code.co_firstlineno)] += 1
        frame = frame.f_back
    return running


def _is_own(module: str) -> bool:
    return is_own_file(module) or module.endswith(_SKIP_FILES)


def _display_name(stat: Any) -> str:
    name = stat.full_name if stat.builtin else stat.name
    return name.replace("<built-in method ", "").rstrip(">") if stat.builtin else name
