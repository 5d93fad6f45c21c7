"""What a dask worker runs for concdoctor: chunks of the user's calls, each timed.

This module travels by value (cloudpickle, see :mod:`concdoctor.child.byvalue`): neither
the scheduler nor the workers need concdoctor installed, so it must not import
concdoctor, and it uses only the standard library and what dask itself installs.
concdoctor's child imports it under this top-level name.
"""

from __future__ import annotations

import asyncio
import importlib.util
import pickle
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

RAISED = "concdoctor-target-raised"
"""Marks a chunk whose call raised: the target's own exception travels back as a value,
so that any exception dask raises is the cluster's, never the target's."""


def run_chunk(func: Callable[..., Any], pass_item: bool, is_coroutine: bool,
              items: Sequence[Any], unpack: bool = False,
              ) -> list[tuple[Any, float, float, int]] | tuple[Any, ...]:
    """Each item's call: ``(value, start, end, peak_bytes)``, as concdoctor's own pools
    report them (``perf_counter`` is one clock for the machine's processes); or, when a
    call raises, ``(RAISED, pickled exception or None, its text)``. With ``unpack`` an
    item is a whole call's ``(args, kwargs)``."""
    out = []
    for item in items:
        start = time.perf_counter()
        try:
            if unpack:
                call = func(*item[0], **item[1])
            else:
                call = func(item) if pass_item else func()
            value = asyncio.run(call) if is_coroutine else call
        except BaseException as exc:  # the target's own: sent back, told from the cluster's
            return RAISED, _pickled(exc), f"{type(exc).__name__}: {exc}"
        end = time.perf_counter()
        out.append((value, start, end, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    return out


def can_import(module: str) -> bool:
    """Whether this process (a worker, the scheduler) can import ``module`` as it is."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def load_problem(blob: bytes) -> str | None:
    """Why this process cannot unpickle ``blob`` (a task as concdoctor sends it), or None."""
    try:
        pickle.loads(blob)
    except BaseException as exc:  # whatever unpickling raises is the answer
        return f"{type(exc).__name__}: {exc}"
    return None


def _pickled(exc: BaseException) -> bytes | None:
    try:
        import cloudpickle  # dask's own dependency

        return cloudpickle.dumps(exc)
    except Exception:  # an exception that does not pickle: its text still travels
        return None
