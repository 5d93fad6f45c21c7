"""yappi over a few tasks: where the time goes, CPU against wall clock.

Tracing costs 10-45x on call-heavy code, so it never runs during the timed baseline.
Inside the child, each clock gets its own pass on a worker thread, bounded by a time
budget: when the budget runs out the profiler stops and the pass reports what it saw.
The child exits right after (``os._exit``), so an unfinished task costs nothing more.
concdoctor sets the budget (:func:`budget_seconds`) from the slack the run has left.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from concdoctor.diagnosis import Confirmation, Evidence, FunctionStat
from concdoctor.protocol import TASK_FRAME, YappiDone

_OWN_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP_NAMES = {TASK_FRAME}
_SKIP_FILES = ("threading.py",)
FIXED_SECONDS = 0.35
"""Roughly what starting the child and attaching py-spy cost, measured on 2 cores."""
MIN_BUDGET = 0.05
MAX_BUDGET = 4.0
WAITING_SHARE = 0.3
"""Tasks idle less than this share of the time: their hot functions show in a short pass."""


def budget_seconds(evidence: Evidence, confirmation: Confirmation | None,
                   left: float | None = None) -> tuple[float, float]:
    """Seconds for yappi's wall-clock pass and CPU-clock pass: what naming the time's
    sinks needs, no more.

    Work that waits needs a wall-clock pass covering a whole typical task, or the
    blocking call (``time.sleep``, ``socket.recv``) is never seen returning; it gets
    that, from the slack the run has left (about seq - rec once the trials ran, less the
    fixed costs), and a short CPU pass (a call it does not reach used no CPU it saw).
    Work that runs all the time names its hot functions in short passes (tracing slows
    them 10-45x anyway). Never more than what is ``left`` of the diagnosis's budget.
    """
    if evidence.shares[0] < WAITING_SHARE:
        return MIN_BUDGET, MIN_BUDGET
    whole_task = min(1.1 * evidence.task_seconds_median + MIN_BUDGET, MAX_BUDGET)
    if left is not None:  # what remains of the diagnosis's --budget
        whole_task = min(whole_task, max(left, 0.0))
    if confirmation is not None and confirmation.recommended_seconds is not None:
        slack = (confirmation.baseline_seconds - confirmation.recommended_seconds
                 - FIXED_SECONDS)
        whole_task = min(whole_task, 0.5 * slack)
    return max(MIN_BUDGET, whole_task), MIN_BUDGET


def profile_tasks(
    run_one: Callable[[Any], Any], items: Sequence[Any], *, budget: float,
    cpu_budget: float | None = None, max_tasks: int = 3, limit: int = 15,
) -> YappiDone:
    """Profile up to ``max_tasks`` items with the wall clock for ``budget`` seconds, then
    with the CPU clock for ``cpu_budget`` (as long again when not given)."""
    try:
        import yappi
    except ImportError:
        return YappiDone(False, "yappi is not installed: pip install yappi")
    sample = list(items[:max_tasks])
    wall = _one_pass(yappi, "wall", run_one, sample, budget)
    cpu = _one_pass(yappi, "cpu", run_one, sample, budget if cpu_budget is None else cpu_budget)
    functions = []
    for key, row in wall.items():
        # The passes may cover different amounts of work (each stops at its budget), so
        # the CPU time is scaled to the wall pass's number of calls.
        other = cpu.get(key)
        per_call = other["self_seconds"] / other["calls"] if other and other["calls"] else None
        cpu_seconds = per_call * row["calls"] if per_call is not None else 0.0
        wall_seconds = row.pop("self_seconds")
        functions.append(FunctionStat(**row, wall_seconds=wall_seconds,
                                      cpu_seconds=min(cpu_seconds, wall_seconds)))
    functions.sort(key=lambda f: max(f.wall_seconds, f.cpu_seconds), reverse=True)
    return YappiDone(True, functions=tuple(functions[:limit]), tasks=len(sample))


def _one_pass(yappi: Any, clock: str, run_one: Callable[[Any], Any], sample: list[Any],
              budget: float) -> dict[tuple[str, int, str], dict[str, Any]]:
    """One traced pass of at most ``budget`` seconds. A task still in flight when it ends
    goes on untraced (its thread may compete with the next pass: CPU time is per thread,
    and times are compared per call, so that only shortens the next pass)."""
    done = threading.Event()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in sample:
                if stop.is_set():
                    break
                run_one(item)
        except BaseException:  # the baseline already reported failures; a pass just ends
            pass
        finally:
            done.set()

    yappi.clear_stats()
    yappi.set_clock_type(clock)
    yappi.start(builtins=True, profile_threads=True)
    worker = threading.Thread(target=work, name=f"concdoctor-yappi-{clock}", daemon=True)
    worker.start()
    done.wait(max(budget, 0.01))
    yappi.stop()
    stop.set()
    ctx_ids = [t.id for t in yappi.get_thread_stats() if t.tid == worker.ident]
    stats = yappi.get_func_stats(ctx_id=ctx_ids[0]) if ctx_ids else yappi.get_func_stats()
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}
    for stat in stats:
        if stat.name in _SKIP_NAMES or _is_own(stat.module):
            continue
        key = (stat.module, stat.lineno, stat.name)
        rows[key] = {"name": _display_name(stat), "file": stat.module, "line": stat.lineno,
                     "calls": stat.ncall, "self_seconds": stat.tsub,
                     "builtin": bool(stat.builtin)}
    yappi.clear_stats()
    return rows


def _is_own(module: str) -> bool:
    return module.startswith(_OWN_DIR) or module.endswith(_SKIP_FILES)


def _display_name(stat: Any) -> str:
    name = stat.full_name if stat.builtin else stat.name
    return name.replace("<built-in method ", "").rstrip(">") if stat.builtin else name
