"""Pure-Python CPU work: the guide's ``cpu_work``. Holds the GIL -> processes."""

from __future__ import annotations


def sum_of_squares(n: int) -> int:
    return sum(i * i for i in range(n))


cpu_work = sum_of_squares

INPUTS = [3_000_000] * 8
