"""Inside the child: what a pool can ship to its workers, checked once per batch.

A process pool pickles the function, each input and each result by name (the standard
pickle); a pool that ships by value (loky, dask) uses cloudpickle, which also takes a
closure, a lambda or a function of ``__main__`` (see :mod:`.byvalue`). The baseline
checks both, its results included, before anything is timed; the trials reuse its
answers for the same task and inputs.
"""

from __future__ import annotations

import pickle
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from concdoctor import executors as registry
from concdoctor.child import byvalue
from concdoctor.environment import start_method

if TYPE_CHECKING:
    from concdoctor.child.runners import Task

_CHECKED: weakref.WeakKeyDictionary[Task, tuple[Sequence[Any], str | None, str | None]] = (
    weakref.WeakKeyDictionary())
"""Each task's checks (by name, by value), with the inputs they were made on: trials
repeat the batch."""


def pickling_problem(task: Task, items: Sequence[Any]) -> str | None:
    """Why a process pool cannot ship this task or its inputs by name to a worker started
    the way this process starts them (:func:`~concdoctor.environment.start_method`), or
    None."""
    try:
        pickle.dumps(task)
    except Exception as exc:  # pickle raises many types: all mean "cannot ship it"
        name = getattr(task.func, "__qualname__", repr(task.func))
        return f"the function {name} cannot be pickled ({type(exc).__name__}: {exc})"
    unreachable = byvalue.by_reference_only(task.func, start_method())
    if unreachable:
        return unreachable
    for index, item in enumerate(items):
        try:
            pickle.dumps(item)
        except Exception as exc:
            return f"input #{index} cannot be pickled ({type(exc).__name__}: {exc})"
    return None


def value_problem(task: Task, items: Sequence[Any]) -> str | None:
    """Why a pool that ships by value cannot ship this task or its inputs either, or None."""
    return byvalue.value_problem(task) or byvalue.value_problem(*items, what="an input")


def result_problems(result: Any) -> tuple[str | None, str | None]:
    """Why a result does not pickle by name, and (only then asked) not by value either."""
    try:
        pickle.dumps(result)
    except Exception as exc:
        by_name = f"the function's result cannot be pickled ({type(exc).__name__}: {exc})"
        return by_name, byvalue.value_problem(result, what="the function's result")
    return None, None


def checked_at_baseline(task: Task, items: Sequence[Any],
                        result: tuple[str | None, str | None]) -> tuple[str | None, str | None]:
    """The batch's problems by name and by value (the first ``result``'s included), kept
    for the trials; where only the name fails, the by-name problem names the pools that
    ship by value, the fix."""
    by_name = pickling_problem(task, items) or result[0]
    by_value = (value_problem(task, items) or result[1]) if by_name else None
    if by_name and not by_value:
        by_name += "".join(f"; the {e.label} sends it by value (--compare {e.name})"
                           for e in registry.pools() if e.by_value and not e.on_cluster)
    _CHECKED[task] = (items, by_name, by_value)
    return by_name, by_value


def problems(task: Task, items: Sequence[Any]) -> tuple[str | None, str | None]:
    """The problems by name and by value, as the baseline found them for these inputs,
    else checked now (the results then unseen)."""
    checked = _CHECKED.get(task)
    if checked is None or checked[0] is not items:
        by_name = pickling_problem(task, items)
        checked = _CHECKED[task] = (items, by_name,
                                    value_problem(task, items) if by_name else None)
    return checked[1], checked[2]
