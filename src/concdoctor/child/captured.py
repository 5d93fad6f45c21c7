"""Inside the diagnosis child: the calls ``concdoctor run`` captured from a program
(:mod:`concdoctor.program.capture`), read back as the batch's inputs.

Arguments pickled in the program name its own classes and functions as ``__main__.X``.
Here the program's main file is a module under its own name (imported as ``profile``
imports a ``file.py:func`` target), so ``__main__`` is looked up in that module, imported
the first time a call needs it.
"""

from __future__ import annotations

import io
import pickle
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Captured:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]]
    total: int
    """How many calls the program made in all, which the prediction scales to."""


def load_captured(path: str) -> Captured:
    """The captured calls; ValueError (one line) when they cannot be read back."""
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"cannot read the captured calls in {path!r}: {exc}") from None
    if not isinstance(data, dict) or "blobs" not in data:
        raise ValueError(f"{path!r} does not hold captured calls")
    main = _MainModule(data.get("main") or {})
    calls = []
    for index, blob in enumerate(data["blobs"]):
        try:
            calls.append(_Unpickler(blob, main).load())
        except (Exception, SystemExit) as exc:  # its class may not import; its module exit
            raise ValueError(f"captured call {index} cannot be read back outside the "
                             f"program ({type(exc).__name__}: {exc}); define what its "
                             "arguments use at module level") from None
    return Captured(calls, max(int(data.get("total") or 0), len(calls)))


class _MainModule:
    """The program's ``__main__``, imported under its own name when first needed: its
    script by path, or the module ``-m`` ran (for a package, its ``__main__``), by its
    dotted name."""

    def __init__(self, main: dict[str, str]) -> None:
        self.main = main
        self.module: Any = None

    def name(self) -> str:
        if self.module is None:
            if "path" in self.main:
                from concdoctor.child.resolve import import_path  # resolve imports this module

                self.module = import_path(self.main["path"])
            elif "module" in self.main:
                import importlib

                self.module = importlib.import_module(self.main["module"])
            else:
                self.module = sys.modules["__main__"]
        return self.module.__name__


class _Unpickler(pickle.Unpickler):
    def __init__(self, blob: bytes, main: _MainModule) -> None:
        super().__init__(io.BytesIO(blob))
        self.main = main

    def find_class(self, module: str, name: str) -> Any:
        if module == "__main__":
            module = self.main.name()
        return super().find_class(module, name)
