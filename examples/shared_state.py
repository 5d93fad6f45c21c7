"""Functions that share module state: fast on threads, and wrong there.

``remember`` passes its input through a module-level dict across a wait, as code that
keeps "the current request" in a global does: on threads another task overwrites it in
the meantime. ``count_calls`` numbers its calls, so only the sequential order gives the
sequential answers. ``simulate`` keeps its scheduler in a module global, as some of
CPython's own benchmarks do, and raises on threads when another task clears it.
concdoctor's results check catches all three and advises the fastest executor whose
results equal the sequential ones; ``roll`` varies by itself and is not blamed on any
executor.
"""

from __future__ import annotations

import random
import time

_CURRENT: dict[str, int] = {}
_CALLS = 0


def remember(item: int) -> int:
    _CURRENT["item"] = item
    time.sleep(0.02)  # the request's I/O: another thread runs meanwhile
    return _CURRENT["item"] * 2


def count_calls(item: int) -> tuple[int, int]:
    global _CALLS
    _CALLS += 1
    number = _CALLS
    time.sleep(0.02)
    return item, number


class _Scheduler:
    def __init__(self, steps: int) -> None:
        self.left = steps
        self.done = 0

    def step(self) -> int:
        self.left -= 1
        self.done += 1
        return self.done


_SCHEDULER: _Scheduler | None = None


def simulate(steps: int) -> int:
    global _SCHEDULER
    _SCHEDULER = _Scheduler(steps)
    total = 0
    while _SCHEDULER.left > 0:  # the module's scheduler, looked up at every step
        total += _SCHEDULER.step()
        time.sleep(0.002)  # waiting on a simulated device
    _SCHEDULER = None  # torn down: another task's scheduler is gone too
    return total


def roll(item: int) -> float:
    time.sleep(0.02)
    return item + random.random()


INPUTS = list(range(16))
STEPS = [10] * 16
