"""One set of defaults: the options object, and every way in that reads it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from concdoctor.errors import UsageError
from concdoctor.options import DEFAULTS, SETTINGS, OptionError, Options


def test_overrides_that_are_none_keep_the_default() -> None:
    options = DEFAULTS.given(trials=5, timeout=None, rules=Path("r.toml"))
    assert options.trials == 5 and options.timeout == DEFAULTS.timeout
    assert options.rules == Path("r.toml")
    assert DEFAULTS.given() is DEFAULTS


def test_layers_apply_in_order() -> None:
    command_line = DEFAULTS.given(timeout=10.0, confirm=False)
    marker = command_line.given(timeout=5.0)
    call = marker.given(confirm=True)
    assert (call.timeout, call.confirm, call.trials) == (5.0, True, DEFAULTS.trials)


@pytest.mark.parametrize(("setting", "value", "words"), [
    ("trials", 0, "trials must be a whole number of at least 1"),
    ("trials", True, "trials"),
    ("timeout", 0, "timeout must be a number of seconds above 0"),
    ("timeout", float("nan"), "timeout"),
    ("rate", 5000, "sampling rate must be 1-1000"),
    ("confirm", 1, "confirm must be True or False, got 1"),
    ("rules", "r.toml", "rules must be a path, got 'r.toml'"),
    ("cluster", 8786, "cluster must be text, got 8786"),
])
def test_bad_values_are_usage_errors(setting: str, value: object, words: str) -> None:
    with pytest.raises(OptionError, match=words) as caught:
        Options(**{setting: value})
    assert isinstance(caught.value, UsageError)


def test_unknown_options_are_named() -> None:
    with pytest.raises(TypeError, match="unknown option 'trails'"):
        DEFAULTS.given(trails=3)


def test_cli_help_shows_the_defaults_from_the_options() -> None:
    out = subprocess.run([sys.executable, "-m", "concdoctor", "profile", "--help"],
                         capture_output=True, text=True, timeout=60,
                         env={"COLUMNS": "200", "PATH": "", "TERM": "dumb"}).stdout
    for name, flag in (("trials", "--trials"), ("timeout", "--timeout"),
                       ("rate", "--sampling-rate")):
        line = next(line for line in out.splitlines() if flag in line)
        value = getattr(DEFAULTS, name)
        assert f"default: {value:g}" in line or f"default: {value}" in line, line


def test_every_option_is_documented() -> None:
    """Each field says what it does, once: --help, the plugin's options and the README
    read it from the field's declaration."""
    for field in fields(Options):
        text = SETTINGS[field.name].help
        assert text.strip() and text.endswith("."), f"{field.name} has no help"
