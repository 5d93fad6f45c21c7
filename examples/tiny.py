"""Tasks too small for any pool: a dictionary lookup per call. -> stay sequential."""

from __future__ import annotations

_TABLE = {i: i * i for i in range(1000)}


def lookup(key: int) -> int:
    return _TABLE.get(key % 1000, 0)


INPUTS = list(range(2000))
