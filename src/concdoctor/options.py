"""How a diagnosis runs: every setting and its default, in one place.

The command line, the Python API, the pytest fixture, the marker and the plugin's
``--concdoctor-*`` options all start from :data:`DEFAULTS` and override what the user
gave; ``concdoctor profile --help`` shows these values. Validation lives here too, so
that each way in rejects a bad value with the same one-line message.

This module imports nothing heavy: the pytest plugin reads it in every test session.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from concdoctor.errors import UsageError

EXECUTOR_NAMES = ("sequential", "thread", "process", "asyncio", "interpreter", "dask")
"""The executors' names (the contract's; :data:`concdoctor.diagnosis.EXECUTORS`)."""
MIN_RATE, MAX_RATE = 1, 1000
"""py-spy samples per second, per sampler."""


class OptionError(UsageError):
    """A setting out of range; the message names it and the range."""


@dataclass(frozen=True)
class Options:
    """The settings of one diagnosis (not what to diagnose: that is the target)."""

    confirm: bool = True
    """Re-run the batch on the advice to measure the speedup."""
    compare_all: bool = False
    """Measure every applicable executor, not only the advice."""
    compare: tuple[str, ...] = ()
    """Executors to measure beside the advice (one trial each, more if they look faster)."""
    cluster: str | None = None
    """The dask scheduler's address (else DASK_SCHEDULER_ADDRESS): the batch is measured on
    that cluster too."""
    trials: int = 3
    """Timed runs per executor (the most, when adaptive)."""
    adaptive: bool = True
    """Stop measuring an executor once its trials settle the decision."""
    timeout: float = 300.0
    """Seconds any one phase may take before the child process tree is ended."""
    sampling: bool = True
    """Sample the baseline with py-spy."""
    rate: int = 100
    """py-spy samples per second for the idle and active samplers; the two GIL samplers
    run faster (``sampling.gil_rate``)."""
    budget: float = 30.0
    """Seconds the measuring may take; a batch too long for it is diagnosed on a sample,
    and its full time predicted."""
    seed: int | None = None
    """Seed of the sample; None: a random one, reported so the run can be repeated."""
    sample: int | None = None
    """Diagnose exactly this many tasks (with ``seed``: the same ones as a report's run);
    None: as many as the budget allows."""
    rules: Path | None = None
    """A rules TOML file tried before the built-in decision matrix."""
    project: Path | None = None
    """The folder whose pyproject.toml ``[tool.concdoctor]`` gave the settings, and gives
    the rules when ``rules`` is None (None: the current folder)."""
    report_dir: Path = Path(".concdoctor")
    """Folder that gets a sub-folder of reports per run."""

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise OptionError(f"trials must be a whole number of at least 1, got {self.trials!r}")
        if not _positive(self.timeout):
            raise OptionError(f"timeout must be a number of seconds above 0, got {self.timeout!r}")
        if not _positive(self.budget):
            raise OptionError(f"budget must be a number of seconds above 0, got {self.budget!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise OptionError(f"seed must be a whole number, got {self.seed!r}")
        unknown = [name for name in self.compare if name not in EXECUTOR_NAMES]
        if unknown:
            raise OptionError(f"unknown executor {unknown[0]!r} to compare; use "
                              f"{', '.join(EXECUTOR_NAMES)} or all")
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


DEFAULTS = Options()

PROJECT_KEYS = {"budget": "budget", "trials": "trials", "adaptive": "adaptive",
                "timeout": "timeout", "sampling_rate": "rate", "seed": "seed"}
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
