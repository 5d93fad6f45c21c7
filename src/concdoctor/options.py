"""How a diagnosis runs: every setting, its default, its help and its checks, in one place.

Each field of :class:`Options` is declared once, with :func:`_about`: its default, the
help every way in shows, and the ways in that do not offer it. The ways in are the
command line (``concdoctor profile``), :func:`concdoctor.api.profile`, the pytest
fixture's ``profile()``, ``@pytest.mark.concdoctor(...)``, the plugin's
``--concdoctor-*`` options and ``[tool.concdoctor]`` in pyproject.toml (:data:`WAYS`);
:data:`SETTINGS` says how each spells each setting, and a test holds every way in to
it. All of them start from :data:`DEFAULTS` and override what the user gave, and
validation lives here, so that each way in rejects a bad value with the same message.

This module imports nothing heavy: the pytest plugin reads it in every test session.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from concdoctor import executors as registry
from concdoctor import memory
from concdoctor.errors import UsageError

MIN_RATE, MAX_RATE = 1, 1000
"""py-spy samples per second, per sampler."""
WAYS = ("cli", "api", "fixture", "marker", "plugin", "project")
"""The ways a setting comes in: ``concdoctor profile``'s options, the keyword arguments
of ``api.profile`` and of the fixture's ``profile()``, the marker's arguments, the pytest
plugin's ``--concdoctor-*`` options, the keys of ``[tool.concdoctor]``."""
CALLS = ("api", "fixture", "marker")
"""The ways in that say no more than the call's own arguments: what a test or a script
passes per diagnosis. ``report_dir`` and ``project`` are the session's, not the call's."""


class OptionError(UsageError):
    """A setting out of range; the message names it and the range."""


def _about(help: str, *, metavar: str = "", absent: tuple[str, ...] = (),
           **spelled: str) -> dict[str, Any]:
    """A field's declaration beside its default: its help, the ways in that do not offer
    it (``absent``; why is said beside the field) and how a way spells it where that is
    not the usual ``--name`` / ``--concdoctor-name`` / ``name``."""
    unknown = sorted((set(absent) | set(spelled)) - set(WAYS))
    if unknown:
        raise ValueError(f"no way in is called {unknown[0]!r}; the ways are {WAYS}")
    if set(spelled) & set(CALLS):
        raise ValueError("a call's keyword argument is the field's name: given() takes those")
    return {"help": help, "metavar": metavar, "absent": absent, "spelled": spelled}


@dataclass(frozen=True)
class Options:
    """The settings of one diagnosis (not what to diagnose: that is the target)."""

    # [tool.concdoctor] sets how a project is measured (trials, adaptive, timeout, rate,
    # budget, seed); whether to confirm, what else to measure and where are the run's.
    confirm: bool = field(default=True, metadata=_about(
        "Re-run the batch on the advice to measure the speedup.", absent=("project",)))
    compare_all: bool = field(default=False, metadata=_about(
        "Measure every local executor, not only the advice.", absent=("project",),
        cli="--compare"))  # the command line's --compare all
    compare: tuple[str, ...] = field(default=(), metadata=_about(
        "Executors to measure beside the advice, by name (one trial each, more if "
        "they look faster).", metavar="NAMES", absent=("project",)))
    cluster: str | None = field(default=None, metadata=_about(
        "A dask scheduler's address (default: DASK_SCHEDULER_ADDRESS): the batch is "
        "measured on that cluster too.", metavar="ADDRESS", absent=("project",)))
    trials: int = field(default=3, metadata=_about(
        "Timed runs per executor (the most, when adaptive).", metavar="N"))
    adaptive: bool = field(default=True, metadata=_about(
        "Stop an executor's trials once they settle the decision (else run all "
        "of them).", cli="--adaptive", plugin="--concdoctor-exact-trials"))
    timeout: float = field(default=300.0, metadata=_about(
        "Seconds any one phase may take before the child process tree is ended.",
        metavar="SECONDS"))
    keep_detached: bool = field(default=False, metadata=_about(
        "Leave running the processes the target starts in a session or process group of "
        "their own (the report lists them as kept); by default whatever it leaves "
        "running is ended after each phase."))
    start_method: str | None = field(default=None, metadata=_about(
        "How the trials' process pools start their workers: fork, spawn or forkserver "
        "(default: the platform's, as the user's code gets it; forkserver on Linux from "
        "Python 3.14). The snippet is written for it.", metavar="METHOD"))
    sampling: bool = field(default=True, metadata=_about(
        "Sample the baseline with py-spy.", absent=("project",)))
    rate: int = field(default=100, metadata=_about(
        "py-spy samples per second (the GIL samplers run faster); more is finer and "
        "costlier.", metavar="N", cli="--sampling-rate", plugin="--concdoctor-sampling-rate",
        project="sampling_rate"))
    budget: float = field(default=30.0, metadata=_about(
        "Seconds the measuring may take: a longer batch is diagnosed on a sample and "
        "its full time predicted.", metavar="SECONDS"))
    seed: int | None = field(default=None, metadata=_about(
        "Seed of the sample (default: a random one, which the report gives so that "
        "the run can be repeated).", metavar="N"))
    # a count of tasks belongs to one batch, not to a session or a project
    sample: int | None = field(default=None, metadata=_about(
        "Diagnose exactly this many tasks (with the seed: the same ones again). "
        "Default: as many as the budget allows.", metavar="N", absent=("plugin", "project")))
    memory_limit: int | None = field(default=None, metadata=_about(
        "Memory the workers may take together, in bytes or with a unit (512M, 2G); "
        "default: the cgroup's limit, else the memory available. No advice counts more "
        "workers than fit.", metavar="SIZE"))
    # [tool.concdoctor] gives rules itself (its rules key and rule tables: decide.rules)
    rules: Path | None = field(default=None, metadata=_about(
        "A rules TOML file, tried before the built-in decision matrix.",
        metavar="FILE", absent=("project",)))
    # where the settings were read: set by project_options, not given
    project: Path | None = field(default=None, metadata=_about(
        "The folder whose pyproject.toml [tool.concdoctor] gave the settings, and "
        "gives the rules when no rules file is (default: the current folder).",
        metavar="DIR", absent=WAYS))
    # reports are written by the command line and the plugin, not per call or project
    report_dir: Path = field(default=Path(".concdoctor"), metadata=_about(
        "Folder that gets a sub-folder of reports per run.",
        metavar="DIR", absent=(*CALLS, "project")))

    def __post_init__(self) -> None:
        if isinstance(self.memory_limit, str):  # "2G": the ways in that take text
            try:
                object.__setattr__(self, "memory_limit", memory.parse_size(self.memory_limit))
            except ValueError as exc:
                raise OptionError(f"memory_limit: {exc}") from None
        if self.memory_limit is not None and (isinstance(self.memory_limit, bool) or not (
                isinstance(self.memory_limit, int) and self.memory_limit > 0)):
            raise OptionError("memory_limit must be a size above 0 (bytes, or 512M, 2G), "
                              f"got {self.memory_limit!r}")
        _check_types(self)
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise OptionError(f"trials must be a whole number of at least 1, got {self.trials!r}")
        if not _positive(self.timeout):
            raise OptionError(f"timeout must be a number of seconds above 0, got {self.timeout!r}")
        if not _positive(self.budget):
            raise OptionError(f"budget must be a number of seconds above 0, got {self.budget!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise OptionError(f"seed must be a whole number, got {self.seed!r}")
        if self.start_method is not None:
            import multiprocessing  # only when one is given: the plugin reads this module

            offered_here = multiprocessing.get_all_start_methods()
            if self.start_method not in offered_here:
                raise OptionError(f"start_method must be one of {', '.join(offered_here)} "
                                  f"here, got {self.start_method!r}")
        unknown = [name for name in self.compare if not registry.known(name)]
        if unknown:
            raise OptionError(f"unknown executor {unknown[0]!r} to compare; use "
                              f"{', '.join(registry.names())} or all")
        if self.sample is not None and (isinstance(self.sample, bool)
                                        or not isinstance(self.sample, int) or self.sample < 1):
            raise OptionError(f"sample must be a whole number of at least 1, got {self.sample!r}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int) or not (
                MIN_RATE <= self.rate <= MAX_RATE):
            raise OptionError(f"sampling rate must be {MIN_RATE}-{MAX_RATE} samples per second, "
                              f"got {self.rate!r}")

    def given(self, **overrides: Any) -> Options:
        """These options with every override that is not ``None`` applied."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown option {unknown[0]!r}; known: {', '.join(sorted(known))}")
        chosen = {name: value for name, value in overrides.items() if value is not None}
        return replace(self, **chosen) if chosen else self


def _positive(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value) and value > 0)


_TYPE_NAMES = {bool: "True or False", Path: "a path", str: "text"}
"""The field types checked by type alone, and how a message names them."""


def _check_types(options: Options) -> None:
    """Flags, paths and text of the right type (numbers have their ranges checked)."""
    for name, setting in SETTINGS.items():
        value = getattr(options, name)
        if setting.type in _TYPE_NAMES and not (
                isinstance(value, setting.type) or (value is None and setting.default is None)):
            raise OptionError(f"{name} must be {_TYPE_NAMES[setting.type]}, got {value!r}")


@dataclass(frozen=True)
class Setting:
    """One field of :class:`Options` as the ways in present it."""

    name: str
    type: type
    """The value's type, without ``None`` (``tuple`` for a list of names)."""
    default: Any
    help: str
    metavar: str
    ways: Mapping[str, str]
    """Each way in that offers the setting, and how it spells it: a flag of the command
    line or the plugin, a keyword argument, a key of ``[tool.concdoctor]``."""

    def with_default(self) -> str:
        """The help, and the default where a project may change it (help shows both)."""
        if "project" not in self.ways or self.default is None:
            return self.help
        shown = f"{self.default:g}" if isinstance(self.default, float) else str(self.default)
        return f"{self.help} (default: {shown}, or tool.concdoctor in pyproject.toml)"


def _spelling(way: str, name: str, default: Any) -> str:
    """How a way in spells a setting unless the field says otherwise. The plugin's flags
    only change a default, so one that is on by default is spelled ``--concdoctor-no-``."""
    dashed = name.replace("_", "-")
    if way == "cli":
        return f"--{dashed}"
    if way == "plugin":
        return f"--concdoctor-no-{dashed}" if default is True else f"--concdoctor-{dashed}"
    return name


def _without_none(hint: Any) -> type:
    """``int`` for ``int | None``, ``tuple`` for ``tuple[str, ...]``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(kind for kind in typing.get_args(hint) if kind is not type(None))
    return typing.get_origin(hint) or hint


def _describe() -> dict[str, Setting]:
    hints = typing.get_type_hints(Options)
    described: dict[str, Setting] = {}
    for each in fields(Options):
        meta = each.metadata
        ways = {way: meta["spelled"].get(way) or _spelling(way, each.name, each.default)
                for way in WAYS if way not in meta["absent"]}
        described[each.name] = Setting(each.name, _without_none(hints[each.name]),
                                       each.default, meta["help"], meta["metavar"], ways)
    return described


SETTINGS = _describe()
"""Every setting by name, in the order :class:`Options` declares them."""


def offered(way: str) -> list[Setting]:
    """The settings ``way`` offers, in declaration order."""
    if way not in WAYS:
        raise ValueError(f"no way in is called {way!r}; the ways are {WAYS}")
    return [setting for setting in SETTINGS.values() if way in setting.ways]


DEFAULTS = Options()

PROJECT_KEYS = {setting.ways["project"]: setting.name for setting in offered("project")}
"""Settings a project may set in ``[tool.concdoctor]`` of its pyproject.toml, by key."""


def project_options(folder: Path | None = None) -> Options:
    """The defaults, with what ``[tool.concdoctor]`` of ``folder``'s pyproject.toml sets
    (the current folder's by default); the command line and the API override both."""
    folder = folder or Path.cwd()
    path = folder / "pyproject.toml"
    if not path.is_file():
        return DEFAULTS.given(project=folder)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OptionError(f"{path}: cannot read [tool.concdoctor] ({exc})") from None
    section = data.get("tool", {}).get("concdoctor", {})
    given = {PROJECT_KEYS[key]: value for key, value in section.items() if key in PROJECT_KEYS}
    try:
        return DEFAULTS.given(project=folder, **given)
    except OptionError as exc:
        raise OptionError(f"{path} [tool.concdoctor]: {exc}") from None
