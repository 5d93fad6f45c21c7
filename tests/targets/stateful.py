"""Targets for tests/test_statecheck.py: each function writes module-level state one way,
or (the controls) only reads it. A plain module, loaded by path."""

from __future__ import annotations

import asyncio
import bisect
import collections
import functools
import hashlib
import json
import os
import threading
import time
import types
from typing import Any

PENDING: dict[int, int] = {}
CALLS = 0
SEEN: list[int] = []
UNIQUE: set[int] = set()
STATS = types.SimpleNamespace(last=None, count=0)
REGISTRY: dict[str, int] = {}
TABLE = {"a": 1, "b": 2}
KEY = "answer"
TOTALS: collections.Counter[int] = collections.Counter()
NESTED: dict[str, list[int]] = {"inner": []}
ORDERED: list[int] = []
LOCAL = threading.local()


class Box:
    def __init__(self) -> None:
        self.count = 0

    def put(self, x: int) -> None:
        self.count += x


BOX = Box()


# -- writes ------------------------------------------------------------------------------

def pass_through(x: int) -> int:
    """The value parks in a module dict across a sleep: gone again when the task ends."""
    PENDING[x] = x
    time.sleep(0.001)
    return PENDING.pop(x)


def count_calls(x: int) -> int:
    global CALLS
    CALLS += 1
    return x


def remember(x: int) -> int:
    SEEN.append(x)
    return x


def dedupe(x: int) -> int:
    UNIQUE.add(x)
    return x


def record_last(x: int) -> int:
    STATS.last = x
    return x


def bump(x: int) -> int:
    STATS.count += 1
    return x


def tally(x: int) -> int:
    TOTALS[x] += 1
    return x


def register(x: int) -> int:
    _store(str(x), x)
    return x


def _store(name: str, value: int) -> None:
    REGISTRY[name] = value


def forget(x: int) -> None:
    del REGISTRY[str(x)]


def nested_append(x: int) -> None:
    NESTED["inner"].append(x)


def in_comprehension(xs: list[int]) -> list[None]:
    return [SEEN.append(x) for x in xs]


def in_lambda(xs: list[int]) -> list[None]:
    add = lambda x: UNIQUE.add(x)
    return [add(x) for x in xs]


def set_env(name: str) -> None:
    os.environ[name] = "1"


async def async_count(x: int) -> int:
    global CALLS
    await asyncio.sleep(0)
    CALLS += 1
    return x


def via_helper_object(x: int) -> int:
    """The write happens inside a method of a module-level object: only a snapshot sees it."""
    BOX.put(x)
    return x


def via_c_code(x: int) -> int:
    bisect.insort(ORDERED, x)
    return x


def level1(x: int) -> None:
    level2(x)


def level2(x: int) -> None:
    level3(x)


def level3(x: int) -> None:
    SEEN.append(x)
    level4(x)


def level4(x: int) -> None:
    UNIQUE.add(x)
    level5(x)


def level5(x: int) -> None:
    """Four calls below level1: deeper than the scan follows."""
    TOTALS.update([x])


def counted(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        global CALLS
        CALLS += 1
        return fn(*args)
    return wrapper


@counted
def decorated(x: int) -> int:
    SEEN.append(x)
    return x


class Recorder:
    def __call__(self, x: int) -> int:
        SEEN.append(x)
        return x

    def method(self, x: int) -> int:
        UNIQUE.add(x)
        return x


# -- controls: no module-level write ----------------------------------------------------

def pure(x: int) -> int:
    return x * 2 + 1


def reads(x: str) -> tuple[Any, ...]:
    found = TABLE.get(x)
    first = TABLE["a"]
    present = x in TABLE
    return found, first, present, len(SEEN), sorted(UNIQUE), STATS.count, NESTED["inner"][:1]


def constant_key(x: int) -> dict[Any, int]:
    local: dict[Any, int] = {}
    local[KEY] = x
    local[KEY] += 1
    local[(KEY, x)] = TABLE["a"]
    return local


def uses_stdlib(x: int) -> str:
    return hashlib.sha256(json.dumps({"x": x}).encode()).hexdigest()


def copies(x: int) -> tuple[dict[str, int], list[int]]:
    table = TABLE.copy()
    table[str(x)] = x
    seen = list(SEEN)
    seen.append(x)
    return table, seen


def thread_local(x: int) -> int:
    """Per-thread state is the fix for sharing, not a write to shared state."""
    LOCAL.value = x
    return x


def passes_globals(x: int) -> int:
    return max(len(TABLE), len(SEEN), x, key=abs)
