"""``@pytest.mark.concdoctor(...)``: validated arguments, merged from class to function.

The marker carries two kinds of argument. *Expectations* (``kind``, ``executor``,
``min_speedup``, ``confirmed``) are checked against every diagnosis the test made with
the ``concdoctor`` fixture, once the test body has passed. *Defaults* (``timeout``,
``confirm``, ``trials``, ``compare_all``, ``rules``) apply to every
``concdoctor.profile()`` call of the test that does not pass them itself.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

MARKER = "concdoctor"
EXPECTATIONS = ("kind", "executor", "min_speedup", "confirmed")
OPTIONS = ("timeout", "confirm", "trials", "compare_all", "rules")
KNOWN = tuple(sorted(EXPECTATIONS + OPTIONS))
MARKER_HELP = (
    f"{MARKER}(kind=None, executor=None, min_speedup=None, confirmed=None, timeout=None, "
    "confirm=None, trials=None, compare_all=None, rules=None): every diagnosis the test "
    "makes with the concdoctor fixture must have one of these kinds / executors, at least "
    "this measured speedup, and be confirmed; timeout, confirm, trials, compare_all and "
    "rules are defaults for the test's concdoctor.profile() calls."
)


class MarkerError(ValueError):
    """A ``@pytest.mark.concdoctor`` argument that cannot be used; the message says which."""


@dataclass(frozen=True)
class MarkerSpec:
    """The merged, validated arguments of every ``concdoctor`` mark on one test."""

    kind: tuple[str, ...] = ()
    executor: tuple[str, ...] = ()
    min_speedup: float | None = None
    confirmed: bool | None = None
    timeout: float | None = None
    confirm: bool | None = None
    trials: int | None = None
    compare_all: bool | None = None
    rules: Path | None = None

    def defaults(self) -> dict[str, Any]:
        """The defaults this marker sets for the test's diagnoses, as option overrides."""
        return {name: getattr(self, name) for name in OPTIONS if getattr(self, name) is not None}

    @property
    def has_expectations(self) -> bool:
        return bool(self.kind or self.executor or self.min_speedup is not None
                    or self.confirmed is not None)


NO_MARKER = MarkerSpec()


def parse_marks(marks: Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]],
                base: Path) -> MarkerSpec:
    """Merge marks given closest first (function, class, module): the closest wins per
    argument. Relative ``rules`` paths are taken from ``base``, the test file's folder."""
    spec = NO_MARKER
    given: set[str] = set()
    for args, kwargs in marks:
        one = parse_mark(args, kwargs, base)
        updates = {name: getattr(one, name) for name in kwargs if name not in given}
        given.update(kwargs)
        spec = replace(spec, **updates)
    return spec


def parse_mark(args: tuple[Any, ...], kwargs: Mapping[str, Any], base: Path) -> MarkerSpec:
    if args:
        raise MarkerError(
            f"@pytest.mark.{MARKER} takes keyword arguments only, got positional "
            f"{_show_args(args)}; e.g. @pytest.mark.{MARKER}(kind='io_bound')")
    for name in kwargs:
        if name not in KNOWN:
            close = difflib.get_close_matches(name, KNOWN, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise MarkerError(f"unknown argument {name!r} to @pytest.mark.{MARKER}{hint}; "
                              f"known: {', '.join(KNOWN)}")
    values: dict[str, Any] = {}
    for name, value in kwargs.items():
        if value is not None:
            values[name] = _CHECKS[name](name, value, base)
    return MarkerSpec(**values)


def _show_args(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(arg) for arg in args) + ")"


def _names(name: str, value: Any, known: tuple[str, ...]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (tuple, list, set, frozenset)) or not items:
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes a name or a list of "
                          f"names from: {', '.join(known)}; got {value!r}")
    for item in items:
        if item not in known:
            raise MarkerError(f"@pytest.mark.{MARKER}({name}={item!r}): unknown {name}; "
                              f"known: {', '.join(known)}")
    return tuple(sorted(items)) if isinstance(items, (set, frozenset)) else tuple(items)


def _kind(name: str, value: Any, base: Path) -> tuple[str, ...]:
    from concdoctor.diagnosis import KINDS

    return _names(name, value, KINDS)


def _executor(name: str, value: Any, base: Path) -> tuple[str, ...]:
    from concdoctor.diagnosis import EXECUTORS

    return _names(name, value, EXECUTORS)


def _positive(name: str, value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes a number greater than 0, "
                          f"got {value!r}")
    return float(value)


def _flag(name: str, value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes True or False, "
                          f"got {value!r}")
    return value


def _trials(name: str, value: Any, base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes a whole number of at "
                          f"least 1, got {value!r}")
    return value


def _rules(name: str, value: Any, base: Path) -> Path:
    if not isinstance(value, (str, Path)):
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes the path of a rules TOML "
                          f"file, got {value!r}")
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise MarkerError(f"@pytest.mark.{MARKER}({name}={str(value)!r}): no such rules file "
                          f"({path}; relative paths start at the test file's folder)")
    return path


_CHECKS = {
    "kind": _kind,
    "executor": _executor,
    "min_speedup": _positive,
    "confirmed": _flag,
    "timeout": _positive,
    "confirm": _flag,
    "trials": _trials,
    "compare_all": _flag,
    "rules": _rules,
}
