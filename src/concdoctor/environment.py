"""The facts about this Python and machine that the rules and the report need.

Kept apart so that tests can inject build facts (a free-threaded 3.14, a GIL disabled at
run time) that this machine cannot install.
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from collections.abc import Callable

from concdoctor import __version__
from concdoctor.baseline import stacks as sampling
from concdoctor.child import runners as executors
from concdoctor.cores import cpu_count
from concdoctor.diagnosis import Environment


def describe(*, is_gil_enabled: Callable[[], bool] | None = None,
             free_threaded_build: bool | None = None) -> Environment:
    """This interpreter and machine; the two GIL facts can be injected for tests."""
    gil_check = is_gil_enabled or getattr(sys, "_is_gil_enabled", None)
    if free_threaded_build is None:
        free_threaded_build = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return Environment(
        python=platform.python_version(), cpu_count=cpu_count(),
        gil_enabled=bool(gil_check()) if gil_check else True,
        free_threaded_build=free_threaded_build,
        implementation=platform.python_implementation(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        start_method=executors.start_method(), concdoctor=__version__,
        py_spy=sampling.py_spy_version(sampling.find_py_spy()), yappi=_yappi_version(),
    )


def _yappi_version() -> str | None:
    try:
        from importlib.metadata import version
        return version("yappi")
    except Exception:  # metadata lookups fail in many ways; the version is only shown
        return None
