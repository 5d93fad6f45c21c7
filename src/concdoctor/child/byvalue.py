"""Code shipped by value: what travels with cloudpickle when a name would not resolve.

The standard pickle sends a function as its module and name, so the process at the other
end must import that module: a closure, a lambda, a function of a notebook or of
``__main__`` under ``spawn``, or a module the other end does not have, cannot go. cloudpickle
(a dependency of loky and of dask) sends such code as its bytecode and the globals it
uses instead, and can be asked to send a whole module that way
(``register_pickle_by_value``).

:class:`ByValue` wraps an object so that whatever pickles it (dask's serialiser, which
tries the standard pickle first) sends ``pickle.loads(<cloudpickle bytes>)``: the other
end needs cloudpickle's helpers, not the object's module.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
from collections.abc import Iterable, Iterator
from typing import Any


class ByValue:
    """``obj`` pickled by cloudpickle now; unpickles as ``obj`` wherever cloudpickle is.

    Calling it calls ``obj`` (here: the other end holds ``obj`` itself)."""

    def __init__(self, obj: Any, *, by_value: Iterable[str] = ()) -> None:
        self.obj = obj
        with registered(by_value):
            self.blob = _cloudpickle().dumps(obj)
        self.__name__ = getattr(obj, "__name__", type(obj).__name__)  # dask names keys by it

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.obj(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return pickle.loads, (self.blob,)


@contextlib.contextmanager
def registered(modules: Iterable[str]) -> Iterator[None]:
    """Within the block, cloudpickle sends these modules' code by value (the modules and
    their submodules: cloudpickle checks parent packages)."""
    cloudpickle = _cloudpickle()
    added = []
    for name in dict.fromkeys(modules):
        module = sys.modules.get(name)
        if module is None or name in cloudpickle.list_registry_pickle_by_value():
            continue
        cloudpickle.register_pickle_by_value(module)
        added.append(module)
    try:
        yield
    finally:
        for module in added:
            cloudpickle.unregister_pickle_by_value(module)


def value_problem(*objects: Any, what: str = "the function") -> str | None:
    """Why cloudpickle cannot send these objects either (a lock, a generator, an open
    file), or None."""
    try:
        dumps = _cloudpickle().dumps
    except ImportError:
        return "cloudpickle is not installed"
    for obj in objects:
        try:
            dumps(obj)
        except Exception as exc:  # pickling raises many types: all mean "cannot ship it"
            return f"{what} cannot be pickled even by value ({type(exc).__name__}: {exc})"
    return None


def by_reference_only(func: Any, start_method: str) -> str | None:
    """Why the standard pickle, which sends ``func`` by name, cannot reach a fresh worker
    process that ``start_method`` starts, though it pickles here: a function of
    ``__main__`` resolves in a forked worker only (a ``spawn`` or ``forkserver`` worker
    runs the main script again as ``__mp_main__``, and a notebook has no script)."""
    module = getattr(func, "__module__", None)
    if module != "__main__" or start_method == "fork":
        return None
    name = getattr(func, "__qualname__", repr(func))
    return (f"the function {name} is defined in __main__, which {start_method} worker "
            "processes import again from its script (a notebook has none): define it in "
            "an importable module, and run the batch behind if __name__ == '__main__':")


def top_package(module: str | None) -> str | None:
    """The top-level package to send by value for ``module`` (None for ``__main__`` and
    built-ins: cloudpickle sends ``__main__`` by value already)."""
    if not module or module == "__main__" or module not in sys.modules:
        return None
    return module.split(".")[0]


def _cloudpickle() -> Any:
    import cloudpickle  # a dependency of loky and dask: imported when code travels

    return cloudpickle
