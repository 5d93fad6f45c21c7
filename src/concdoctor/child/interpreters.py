"""Sub-interpreters: one GIL each, in one process (PEP 734).

The standard library's ``InterpreterPoolExecutor`` on Python 3.14 and newer; on 3.13 the
``interpreters-pep-734`` backport (``pip install 'concdoctor[interpreters]'``), which
does not work on 3.12 (its import crashes there), so it is not even tried.

Each interpreter imports the target's module anew, so two things are checked before a
pool is trusted with the batch: that the module imports in a sub-interpreter at all (a C
extension without sub-interpreter support raises ``ImportError`` there, and inside the
backport's pool such a failure makes a worker spin forever instead of raising), and
that the interpreters see the child's ``sys.path`` (they start with the process's
original one).
"""

from __future__ import annotations

import functools
import sys
from typing import Any


def setup_script() -> str:
    """Run first in each interpreter: the child's ``sys.path``, so the target imports."""
    return f"import sys; sys.path[:] = {list(sys.path)!r}"


@functools.lru_cache(maxsize=16)
def import_problem(module: str | None) -> str | None:
    """Why ``module`` cannot be imported in a sub-interpreter (e.g. a C extension
    without sub-interpreter support), or None. Checked in a fresh interpreter."""
    if not module or module == "__main__":
        return None
    if not all(part.isidentifier() for part in module.split(".")):
        return f"{module!r} is not a module name"  # never run as code below
    api = _interpreters()
    if api is None:
        return None
    interp = api.create()
    try:
        interp.exec(f"{setup_script()}; import {module}")
    except Exception as exc:  # ExecutionFailed carries the interpreter's own exception
        info: Any = getattr(exc, "excinfo", None)
        text = getattr(info, "formatted", None) or str(exc).splitlines()[0]
        return f"{module} cannot be imported in a sub-interpreter ({text})"
    finally:
        interp.close()
    return None


def _interpreters() -> Any:
    try:
        if sys.version_info >= (3, 14):
            from concurrent import interpreters  # type: ignore[attr-defined]
        else:
            from interpreters_backport import interpreters  # type: ignore[import-not-found]
    except ImportError:
        return None
    return interpreters
