"""How a diagnosis runs: every setting and its default, in one place.

The command line, the Python API, the pytest fixture, the marker and the plugin's
``--concdoctor-*`` options all start from :data:`DEFAULTS` and override what the user
gave; ``concdoctor profile --help`` shows these values. Validation lives here too, so
that each way in rejects a bad value with the same one-line message.

This module imports nothing heavy: the pytest plugin reads it in every test session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from concdoctor.errors import UsageError

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
    trials: int = 3
    """Timed runs per executor (the most, when adaptive)."""
    adaptive: bool = True
    """Stop measuring an executor once its trials settle the decision."""
    timeout: float = 300.0
    """Seconds any one phase may take before the child process tree is ended."""
    sampling: bool = True
    """Sample the baseline with py-spy."""
    rate: int = 100
    """py-spy samples per second, for each of the three samplers."""
    rules: Path | None = None
    """A rules TOML file tried before the built-in decision matrix."""
    report_dir: Path = Path(".concdoctor")
    """Folder that gets a sub-folder of reports per run."""

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise OptionError(f"trials must be a whole number of at least 1, got {self.trials!r}")
        if not _positive(self.timeout):
            raise OptionError(f"timeout must be a number of seconds above 0, got {self.timeout!r}")
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
