"""Which module-level state a task writes: the bytecode scan, the snapshot, and both together.

Pure unit tests on hand-written targets in tests/targets/stateful.py, loaded by path (as
concdoctor's child loads a path target). The scan tests never run the targets.
"""

from __future__ import annotations

import asyncio
import dis
import functools
import importlib.util
import sys
import types
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from concdoctor.child import statecheck
from concdoctor.child.statecheck import (
    StateWrite,
    changed,
    find,
    snapshot,
    static_writes,
    user_modules,
)

STATEFUL = Path(__file__).resolve().parent / "targets" / "stateful.py"


def _load() -> types.ModuleType:
    existing = sys.modules.get("stateful")
    if existing is not None and getattr(existing, "__file__", None) == str(STATEFUL):
        return existing
    spec = importlib.util.spec_from_file_location("stateful", STATEFUL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stateful"] = module
    spec.loader.exec_module(module)
    return module


stateful = _load()


def names(writes: tuple[StateWrite, ...]) -> set[tuple[str, str]]:
    return {(w.module, w.name) for w in writes}


def scratch(**values: Any) -> Any:  # a module; Any lets tests set globals
    module = types.ModuleType("scratch")
    vars(module).update(values)
    return module


# -- static scan: writes found -----------------------------------------------------------

@pytest.mark.parametrize(
    ("target", "name", "how", "function"),
    [
        ("pass_through", "PENDING", "item assignment", "pass_through"),
        ("count_calls", "CALLS", "rebinds it", "count_calls"),
        ("remember", "SEEN", "calls .append()", "remember"),
        ("dedupe", "UNIQUE", "calls .add()", "dedupe"),
        ("record_last", "STATS", "sets .last", "record_last"),
        ("bump", "STATS", "sets .count", "bump"),                    # STATS.count += 1
        ("tally", "TOTALS", "item assignment", "tally"),             # TOTALS[x] += 1
        ("register", "REGISTRY", "item assignment", "_store"),       # helper followed
        ("forget", "REGISTRY", "deletes an item", "forget"),
        ("nested_append", "NESTED", "calls [...].append()", "nested_append"),
        ("in_comprehension", "SEEN", "calls .append()", "in_comprehension"),
        ("in_lambda", "UNIQUE", "calls .add()", "in_lambda"),
        ("async_count", "CALLS", "rebinds it", "async_count"),
    ],
)
def test_static_finds_write(target: str, name: str, how: str, function: str) -> None:
    writes = static_writes(getattr(stateful, target))
    assert ("stateful", name) in names(writes)
    write = next(w for w in writes if w.name == name)
    assert write.how == how
    assert write.function.startswith(function)  # 3.10/3.11 name the <listcomp> too


def test_pass_through_reports_both_the_write_and_the_pop() -> None:
    hows = [w.how for w in static_writes(stateful.pass_through)]
    assert hows == ["item assignment", "calls .pop()"]


def test_write_through_an_imported_module() -> None:
    assert [str(w) for w in static_writes(stateful.set_env)] == [
        "os.environ (item assignment in set_env)"]


@pytest.mark.parametrize(
    "wrapped",
    [functools.partial(stateful.remember, 1), stateful.Recorder(), stateful.Recorder().method],
    ids=["partial", "callable-object", "bound-method"],
)
def test_static_unwraps(wrapped: Any) -> None:
    found = names(static_writes(wrapped))
    assert found & {("stateful", "SEEN"), ("stateful", "UNIQUE")}


def test_decorator_and_wrapped_function_both_scanned() -> None:
    assert names(static_writes(stateful.decorated)) == {("stateful", "SEEN"),
                                                        ("stateful", "CALLS")}


def test_calls_followed_three_deep_not_four() -> None:
    found = names(static_writes(stateful.level1))
    assert ("stateful", "SEEN") in found      # level3: 2 calls down
    assert ("stateful", "UNIQUE") in found    # level4: 3 calls down
    assert ("stateful", "TOTALS") not in found  # level5: 4 calls down


# -- static scan: controls ---------------------------------------------------------------

@pytest.mark.parametrize(
    "target",
    ["pure", "reads", "constant_key", "uses_stdlib", "copies", "passes_globals",
     "thread_local", "via_helper_object", "via_c_code"],
)
def test_static_finds_nothing(target: str) -> None:
    assert static_writes(getattr(stateful, target)) == ()


def test_stdlib_never_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[str] = []
    real = dis.get_instructions

    def spy(code: Any, *args: Any, **kwargs: Any) -> Iterator[dis.Instruction]:
        scanned.append(code.co_filename)
        return real(code, *args, **kwargs)

    monkeypatch.setattr(dis, "get_instructions", spy)
    assert static_writes(stateful.uses_stdlib) == ()
    assert scanned and set(scanned) == {str(STATEFUL)}
    assert user_modules(stateful.uses_stdlib) == [stateful]


def test_not_python_code() -> None:
    assert static_writes(len) == ()
    assert user_modules(len) == []


def test_str() -> None:
    write = StateWrite("examples.shared", "_CACHE", "item assignment", "lookup")
    assert str(write) == "examples.shared._CACHE (item assignment in lookup)"
    assert str(StateWrite("m", "X", "rebinds it")) == "m.X (rebinds it)"


# -- snapshot ----------------------------------------------------------------------------

def test_untouched_module_reports_nothing() -> None:
    module = scratch(TABLE={"a": [1]}, ITEMS=[1, 2], TAGS={"x"}, N=3, BYTES=bytearray(b"ab"))
    before = snapshot([module])
    module.TABLE.get("a"), list(module.ITEMS), "x" in module.TAGS, module.N + 1
    assert changed(before, snapshot([module])) == ()


def test_rebinding_detected() -> None:
    module = scratch(CONFIG={"a": 1}, NAME="one")
    before = snapshot([module])
    module.CONFIG = {"a": 1}
    module.NAME = "two"
    assert changed(before, snapshot([module])) == (
        StateWrite("scratch", "CONFIG", "rebinds it"), StateWrite("scratch", "NAME", "rebinds it"))


@pytest.mark.parametrize(
    ("value", "mutate"),
    [
        ({"a": 1}, lambda d: d.__setitem__("a", 2)),          # same length, new value
        ([1, 2], lambda items: items.append(3)),
        ({1}, lambda tags: tags.add(2)),
        (deque([1]), lambda q: q.appendleft(0)),
        (bytearray(b"ab"), lambda b: b.__setitem__(0, 120)),  # same length
        (types.SimpleNamespace(last=None), lambda ns: setattr(ns, "last", 5)),
    ],
    ids=["dict", "list", "set", "deque", "bytearray", "object"],
)
def test_in_place_mutation_detected(value: Any, mutate: Any) -> None:
    module = scratch(STATE=value)
    before = snapshot([module])
    mutate(module.STATE)
    assert changed(before, snapshot([module])) == (
        StateWrite("scratch", "STATE", "mutated in place"),)


def test_created_and_deleted_globals() -> None:
    module = scratch(OLD=[1])
    before = snapshot([module])
    del module.OLD
    module.NEW = [2]
    assert changed(before, snapshot([module])) == (
        StateWrite("scratch", "OLD", "deletes it"), StateWrite("scratch", "NEW", "rebinds it"))


def test_skips_dunders_modules_classes_and_callables() -> None:
    module = scratch(helper=lambda: 0, Kind=int, os=sys)
    before = snapshot([module])
    module.helper, module.Kind, module.os, module.__doc__ = (lambda: 1), str, types, "new"
    assert before.values == {} and changed(before, snapshot([module])) == ()


def test_big_dict_snapshot_is_bounded() -> None:
    module = scratch(BIG={i: i for i in range(100_000)}, LONG=list(range(100_000)))
    before = snapshot([module])
    assert before.items_seen == 2 * statecheck.SAMPLE
    module.BIG[-1] = 0  # a new key: the length shows it
    assert names(changed(before, snapshot([module]))) == {("scratch", "BIG")}


def test_big_dict_change_past_the_sample_is_missed() -> None:
    """The documented limit: a same-length change beyond the first SAMPLE items."""
    module = scratch(BIG={i: i for i in range(100_000)})
    before = snapshot([module])
    module.BIG[99_999] = -1
    assert changed(before, snapshot([module])) == ()


# -- find: both together -----------------------------------------------------------------

def test_pass_through_is_static_only() -> None:
    modules = user_modules(stateful.pass_through)
    before = snapshot(modules)
    stateful.pass_through(7)
    assert changed(before, snapshot(modules)) == ()
    assert [str(w) for w in find(stateful.pass_through, lambda: stateful.pass_through(7))] == [
        "stateful.PENDING (item assignment in pass_through)"]


def test_find_deduplicates_static_first() -> None:
    assert find(stateful.count_calls, lambda: stateful.count_calls(1)) == (
        StateWrite("stateful", "CALLS", "rebinds it", "count_calls"),)


@pytest.mark.parametrize(("target", "name"), [("via_helper_object", "BOX"),
                                              ("via_c_code", "ORDERED")])
def test_dynamic_sees_what_static_cannot(target: str, name: str) -> None:
    func = getattr(stateful, target)
    assert find(func, lambda: func(3)) == (StateWrite("stateful", name, "mutated in place"),)


def test_find_on_coroutine_function() -> None:
    writes = find(stateful.async_count, lambda: asyncio.run(stateful.async_count(1)))
    assert names(writes) == {("stateful", "CALLS")}


def test_find_pure_function_reports_nothing() -> None:
    assert find(stateful.pure, lambda: stateful.pure(2)) == ()


def test_find_propagates_the_task_exception() -> None:
    with pytest.raises(ZeroDivisionError):
        find(stateful.pure, lambda: 1 / 0)
