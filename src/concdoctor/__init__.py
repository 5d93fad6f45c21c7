"""concdoctor: which concurrency model will speed up this batch of calls, measured."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
