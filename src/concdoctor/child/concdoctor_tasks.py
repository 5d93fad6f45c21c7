"""What a dask worker runs for concdoctor: chunks of the user's calls, each timed.

This file is shipped to the workers as it is (``Client.upload_file``) and imported
there as the top-level module ``concdoctor_tasks``, so it must not import concdoctor:
a cluster's workers need not have it installed. concdoctor's child imports it under
the same name, so that the functions pickled by reference resolve on both sides.
"""

from __future__ import annotations

import asyncio
import importlib.util
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any


def run_chunk(func: Callable[..., Any], pass_item: bool, is_coroutine: bool,
              items: Sequence[Any]) -> list[tuple[Any, float, float, int]]:
    """Each item's call: ``(value, start, end, peak_bytes)``, as concdoctor's own pools
    report them (``perf_counter`` is one clock for the machine's processes)."""
    out = []
    for item in items:
        start = time.perf_counter()
        call = func(item) if pass_item else func()
        value = asyncio.run(call) if is_coroutine else call
        end = time.perf_counter()
        out.append((value, start, end, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    return out


def can_import(module: str) -> bool:
    """Whether this worker can import ``module`` (the user's code) as it is."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
