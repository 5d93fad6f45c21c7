"""concdoctor: which concurrency model will speed up this batch of calls, measured."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext concdoctor``: the ``%concdoctor`` magics (IPython is imported only now)."""
    from concdoctor.notebook.magics import load

    load(ipython)
