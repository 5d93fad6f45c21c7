"""The facts about this Python and machine that the rules and the report need.

Kept apart so that tests can inject build facts (a free-threaded 3.14, a GIL disabled at
run time) that this machine cannot install.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import sysconfig
from collections.abc import Callable

from concdoctor import __version__, memory
from concdoctor import executors as registry
from concdoctor.baseline import stacks as sampling
from concdoctor.cores import cpu_count
from concdoctor.decide import limits
from concdoctor.diagnosis import Environment


def describe(*, is_gil_enabled: Callable[[], bool] | None = None,
             free_threaded_build: bool | None = None) -> Environment:
    """This interpreter and machine; the two GIL facts can be injected for tests."""
    gil_check = is_gil_enabled or getattr(sys, "_is_gil_enabled", None)
    if free_threaded_build is None:
        free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    found, room = limits.read(), memory.limit_bytes()
    return Environment(
        python=platform.python_version(), cpu_count=cpu_count(),
        gil_enabled=bool(gil_check()) if gil_check else True,
        free_threaded_build=free_threaded_build,
        implementation=platform.python_implementation(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        start_method=start_method(), concdoctor=__version__,
        threads_limit=found.threads, files_limit=found.files,
        unavailable={e.name: reason for e in registry.pools() if (reason := e.unavailable())},
        memory_limit_bytes=room[0] if room else None,
        memory_limit_source=room[1] if room else None,
        py_spy=sampling.py_spy_version(sampling.find_py_spy()), yappi=_yappi_version(),
    )


def _yappi_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("yappi")
    except Exception:  # metadata lookups fail in many ways; the version is only shown
        return None


def start_method() -> str:
    """The start method a process pool created now would use, read without fixing it
    (``get_start_method()`` would, and a later ``set_start_method`` would then fail): the
    one set, else the platform's default, the first of ``get_all_start_methods()``."""
    import multiprocessing

    return (multiprocessing.get_start_method(allow_none=True)
            or multiprocessing.get_all_start_methods()[0])


def pool_start_methods(in_force: str) -> dict[str, str]:
    """How each process pool's workers start, by executor, under the start method
    ``in_force`` (the trials use exactly these: the report says so per pool)."""
    return {e.name: in_force if e.start_method == "default" else e.start_method
            for e in registry.pools() if e.start_method}


def loky_unavailable() -> str | None:
    """Why the by-value process pool cannot run here (loky is a dependency, so only a
    broken install), or None."""
    import importlib.util

    # the module's file in its package's folder, not an import of it: loky's import takes
    # 40 ms, which every diagnosis would pay in its own process, where the pool never runs
    package, _, module = "loky.reusable_executor".partition(".")  # what the pool uses
    spec = importlib.util.find_spec(package)
    folders = spec.submodule_search_locations if spec is not None else None
    if not folders or not any(os.path.isfile(os.path.join(folder, f"{module}{suffix}"))
                              for folder in folders for suffix in (".py", ".pyc")):
        return "the by-value process pool needs loky: pip install 'loky>=3.7'"
    return None


# Sub-interpreters: one GIL each, in one process (PEP 734). The standard library's
# InterpreterPoolExecutor on 3.14+; on 3.13 the backport, whose import crashes on 3.12.
BACKPORT = "interpreters-pep-734"


@functools.lru_cache(maxsize=1)
def interpreter_pool() -> type | None:
    """InterpreterPoolExecutor where this Python has one (3.14+, or 3.13 with the
    backport), else None."""
    import concurrent.futures as cf

    found = getattr(cf, "InterpreterPoolExecutor", None)
    if found is not None or sys.version_info[:2] != (3, 13):
        return found
    try:
        from interpreters_backport.concurrent.futures import (  # type: ignore[import-not-found]
            InterpreterPoolExecutor,
        )
    except ImportError:
        return None
    return InterpreterPoolExecutor


def interpreter_unavailable() -> str | None:
    """Why this Python has no interpreter pool (the fix in the words), or None."""
    if interpreter_pool() is not None:
        return None
    version = ".".join(map(str, sys.version_info[:2]))
    if sys.version_info[:2] == (3, 13):
        return (f"sub-interpreters on Python 3.13 need the {BACKPORT} backport: "
                "pip install 'concdoctor[interpreters]'")
    return f"InterpreterPoolExecutor needs Python 3.14, or 3.13 with {BACKPORT} (this is {version})"
