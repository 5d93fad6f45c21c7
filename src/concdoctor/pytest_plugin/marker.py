"""``@pytest.mark.concdoctor(...)``: validated arguments, merged from class to function.

The marker carries two kinds of argument. *Expectations* (``kind``, ``executor``,
``min_speedup``, ``confirmed``) are checked against every diagnosis the test made with
the ``concdoctor`` fixture, once the test body has passed. *Defaults* (every setting of
:class:`~concdoctor.options.Options` that the marker offers: ``timeout``, ``confirm``,
``trials``, ``rules``...) apply to every ``concdoctor.profile()`` call of the test that
does not pass them itself; Options checks them, so a bad one reads as it would anywhere.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from concdoctor.options import DEFAULTS, OptionError, offered

MARKER = "concdoctor"
EXPECTATIONS = ("kind", "executor", "min_speedup", "confirmed")
OPTIONS = tuple(setting.ways["marker"] for setting in offered("marker"))
KNOWN = tuple(sorted(EXPECTATIONS + OPTIONS))
MARKER_HELP = (
    f"{MARKER}({', '.join(f'{name}=None' for name in EXPECTATIONS + OPTIONS)}): every "
    "diagnosis the test makes with the concdoctor fixture must have one of these kinds / "
    "executors, at least this measured speedup, and be confirmed; the other arguments are "
    "defaults for the test's concdoctor.profile() calls, as profile() takes them."
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
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The defaults given (never ``None``), by setting."""

    def defaults(self) -> dict[str, Any]:
        """The defaults this marker sets for the test's diagnoses, as option overrides."""
        return dict(self.settings)

    @property
    def has_expectations(self) -> bool:
        return bool(self.kind or self.executor or self.min_speedup is not None
                    or self.confirmed is not None)


NO_MARKER = MarkerSpec()


def parse_marks(marks: Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]],
                base: Path) -> MarkerSpec:
    """Merge marks given closest first (function, class, module): the closest wins per
    argument, even when it gives ``None``. Relative ``rules`` paths are taken from
    ``base``, the test file's folder."""
    spec = NO_MARKER
    given: set[str] = set()
    for args, kwargs in marks:
        one = parse_mark(args, kwargs, base)
        fresh = [name for name in kwargs if name not in given]
        given.update(kwargs)
        settings = {name: one.settings[name] for name in fresh if name in one.settings}
        spec = replace(spec, settings={**spec.settings, **settings},
                       **{name: getattr(one, name) for name in fresh if name in EXPECTATIONS})
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
    expected: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        if name in EXPECTATIONS:
            expected[name] = _CHECKS[name](name, value)
        else:
            settings[name] = _setting(name, value, base)
    return MarkerSpec(**expected, settings=settings)


def _show_args(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(arg) for arg in args) + ")"


def _setting(name: str, value: Any, base: Path) -> Any:
    """A default for the test's diagnoses, checked by Options itself. Executors' names may
    be one name or a list; ``rules`` is a path from the test file's folder."""
    given = value
    if name == "compare":
        given = (value,) if isinstance(value, str) else (
            tuple(value) if isinstance(value, (list, tuple)) else value)
    elif name == "rules" and isinstance(value, str):
        given = Path(value)
    try:
        DEFAULTS.given(**{name: given})
    except OptionError as exc:
        raise MarkerError(f"@pytest.mark.{MARKER}({name}={value!r}): {exc}") from None
    return _rules_file(value, base) if name == "rules" else given


def _rules_file(value: str | Path, base: Path) -> Path:
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise MarkerError(f"@pytest.mark.{MARKER}(rules={str(value)!r}): no such rules file "
                          f"({path}; relative paths start at the test file's folder)")
    return path


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


def _kind(name: str, value: Any) -> tuple[str, ...]:
    from concdoctor.diagnosis import KINDS

    return _names(name, value, KINDS)


def _executor(name: str, value: Any) -> tuple[str, ...]:
    from concdoctor import executors as registry

    return _names(name, value, registry.names())


def _speedup(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes a number greater than 0, "
                          f"got {value!r}")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise MarkerError(f"@pytest.mark.{MARKER}({name}=...) takes True or False, "
                          f"got {value!r}")
    return value


_CHECKS = {"kind": _kind, "executor": _executor, "min_speedup": _speedup, "confirmed": _flag}
"""The expectations' checks (the defaults are the options', checked by Options)."""
