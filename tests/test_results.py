"""The results check: digests that equal values share, the comparison task by task, and
the forked copy that tells results that vary by themselves from an executor's fault."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pytest

from concdoctor.child import results
from concdoctor.child.results import Record, Rerun, digest


@dataclass
class Point:
    x: int
    y: float


@pytest.mark.parametrize(("a", "b"), [
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ({1, 2, 3}, {3, 2, 1}),
    (frozenset({"x", "y"}), frozenset({"y", "x"})),
    ([{"k": {1, 2}}, (1, "z")], [{"k": {2, 1}}, (1, "z")]),
    (Point(1, 2.5), Point(1, 2.5)),
    (b"bytes" * 1000, b"bytes" * 1000),
    (float("nan"), float("nan")),
])
def test_equal_values_share_a_digest(a: object, b: object) -> None:
    assert digest(a) == digest(b) is not None


@pytest.mark.parametrize(("a", "b"), [
    (1, 2), ("1", 1), ([1, 2], [2, 1]), ((1,), [1]), ({"a": 1}, {"a": 2}),
    (Point(1, 2.5), Point(1, 2.6)), (OrderedDict(a=1, b=2), OrderedDict(b=2, a=1)),
])
def test_different_values_do_not(a: object, b: object) -> None:
    assert digest(a) != digest(b)


def test_a_value_that_cannot_be_pickled_cannot_be_compared() -> None:
    assert digest(threading.Lock()) is None
    assert digest({"lock": threading.Lock()}) is None


def test_previews_stay_short() -> None:
    assert len(results.preview(list(range(100_000)))) < 80
    assert len(results.preview("x" * 10_000)) < 80


def record(values: list[object]) -> Record:
    kept = Record()
    for value in values:
        kept.add(value)
    return kept


def never() -> bool:
    raise AssertionError("the variance check runs only when results differ")


def test_the_same_results_pass() -> None:
    check = record([{"a": 1}, 2, "x"]).compare([{"a": 1}, 2, "x"], [0, 1, 2], never)
    assert check.status == "same" and not check.unsafe


def test_differing_results_name_the_tasks_and_the_first_input() -> None:
    check = record([0, 2, 4, 6]).compare([0, 30, 4, 31], ["a", "b", "c", "d"], lambda: False)
    assert check.unsafe and check.status == "differ"
    assert check.tasks == (1, 3) and check.differing == 2
    assert (check.first_input, check.expected, check.got) == ("'b'", "2", "30")


def test_results_that_vary_by_themselves_are_not_blamed() -> None:
    check = record([1, 2]).compare([1, 3], [0, 1], lambda: True)
    assert check.status == "skipped" and "vary by themselves" in (check.reason or "")
    assert not check.unsafe


def test_results_that_cannot_be_pickled_are_not_compared() -> None:
    check = record([threading.Lock()]).compare([threading.Lock()], [0], never)
    assert check.status == "skipped" and "cannot be pickled" in (check.reason or "")


def test_the_rerun_covers_the_first_tasks_within_its_time() -> None:
    assert results.tasks_to_rerun([0.01] * 10) == 3
    assert results.tasks_to_rerun([0.6, 0.6, 0.6]) == 1
    assert results.tasks_to_rerun([5.0]) == 1  # at least one
    assert results.tasks_to_rerun([]) == 0


# -- the forked copy: same starting state, so only true variance differs ----------------------

_CALLS = [0]


def count(item: int) -> tuple[int, int]:
    _CALLS[0] += 1
    return item, _CALLS[0]


def roll(item: int) -> float:
    return item + random.random()


def stamp(item: int) -> float:
    return time.perf_counter_ns() + item


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize(("func", "varies"), [(count, False), (roll, True), (stamp, True)])
def test_the_copy_starts_from_the_baselines_state(func, varies: bool) -> None:
    items = list(range(5))
    copy = Rerun.fork(func, items)
    assert copy is not None
    try:
        baseline = record([func(item) for item in items])  # advances the counter
        assert [func(item) for item in items] != [func(item) for item in items] or varies
        assert copy.varies(baseline, [0.001] * 5, timeout=30) is varies
    finally:
        copy.close()
    assert _reaped(copy.pid)


def die(item: int) -> int:
    os._exit(1)  # in the copy: the baseline below never calls it


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_copy_that_dies_leaves_the_difference_standing() -> None:
    """No answer from the copy is no evidence that results vary by themselves: an
    executor's different results must still count against it."""
    copy = Rerun.fork(die, [1, 2])
    assert copy is not None
    try:
        assert copy.varies(record([1, 2]), [0.001] * 2, timeout=30) is False
    finally:
        copy.close()
    assert _reaped(copy.pid)


def _reaped(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
