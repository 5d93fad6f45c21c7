"""Every way in offers every setting that Options declares for it, and checks it the same.

``concdoctor.options.SETTINGS`` says, per setting, which ways in offer it and how each
spells it; the settings a way leaves out are declared there, beside the field. These
tests read each way in as it really is (a signature, the command's parameters, the
options the plugin registers, the marker's arguments, the keys a pyproject may hold)
and fail naming the setting one of them lacks, or a setting it offers that Options
does not declare.
"""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from concdoctor import api, cli
from concdoctor.options import (
    DEFAULTS,
    PROJECT_KEYS,
    SETTINGS,
    WAYS,
    OptionError,
    Options,
    offered,
    project_options,
)
from concdoctor.pytest_plugin import marker, plugin
from concdoctor.pytest_plugin.fixture import ConcdoctorFixture
from concdoctor.pytest_plugin.marker import NO_MARKER, MarkerError, parse_mark
from concdoctor.pytest_plugin.session import ConcdoctorSession

NOT_SETTINGS = {
    "api": {"func", "inputs", "repeat", "inputs_from", "calls", "options", "command",
            "progress", "meanwhile"},
    "fixture": {"self", "func", "inputs", "repeat", "inputs_from", "calls", "allow_failure"},
    "cli": {"target", "inputs", "inputs_from", "repeat", "calls", "json_path", "save",
            "quiet"},
}
"""What a way in takes beside the settings: what to diagnose, and what to do with it."""


class _Options:
    """Stands in for pytest's parser: records the plugin's options as it adds them."""

    def __init__(self) -> None:
        self.added: dict[str, dict[str, Any]] = {}

    def getgroup(self, *args: Any, **kwargs: Any) -> _Options:
        return self

    def addoption(self, *names: str, **kwargs: Any) -> None:
        for name in names:
            self.added[name] = kwargs


def _plugin_options() -> dict[str, dict[str, Any]]:
    recorder = _Options()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    return recorder.added


def _cli_params() -> dict[str, Any]:
    command = typer.main.get_command(cli.app).commands["profile"]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def _keywords(function: Any, way: str) -> set[str]:
    return set(inspect.signature(function).parameters) - NOT_SETTINGS[way]


def _offered_by(way: str) -> set[str]:
    """The spellings under which ``way`` really takes a setting."""
    if way == "api":
        return _keywords(api.profile, way)
    if way == "fixture":
        return _keywords(ConcdoctorFixture.profile, way)
    if way == "cli":
        return {opt for name, param in _cli_params().items()
                if name not in NOT_SETTINGS["cli"] for opt in param.opts}
    if way == "plugin":
        return set(_plugin_options())
    if way == "marker":
        return set(marker.KNOWN) - set(marker.EXPECTATIONS)
    return set(PROJECT_KEYS)


@pytest.mark.parametrize("way", WAYS)
def test_each_way_in_offers_each_of_its_settings(way: str) -> None:
    there = _offered_by(way)
    missing = [f"{setting.name} (as {setting.ways[way]})" for setting in offered(way)
               if setting.ways[way] not in there]
    assert not missing, (f"{way} lacks {', '.join(missing)}: offer it, or declare it absent "
                         "from this way in its field of concdoctor.options.Options")


@pytest.mark.parametrize("way", WAYS)
def test_each_way_in_offers_only_declared_settings(way: str) -> None:
    declared = {setting.ways[way] for setting in offered(way)}
    extra = sorted(_offered_by(way) - declared)
    assert not extra, (f"{way} offers {', '.join(extra)}, which no field of Options declares "
                       "for it: declare it there (or list it in NOT_SETTINGS here, if it is "
                       "not a setting)")


def test_the_marker_accepts_each_of_its_settings(tmp_path: Path) -> None:
    """The marker's table is derived; what counts is that parse_mark takes the names."""
    for setting in offered("marker"):
        assert parse_mark((), {setting.name: None}, tmp_path) == NO_MARKER


@pytest.mark.parametrize("way", ["api", "fixture"])
def test_calls_leave_unset_settings_to_the_layers_below(way: str) -> None:
    function = api.profile if way == "api" else ConcdoctorFixture.profile
    parameters = inspect.signature(function).parameters
    for setting in offered(way):
        parameter = parameters[setting.name]
        assert parameter.default is None, f"{way}: {setting.name} defaults to None"
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, setting.name


def test_cli_defaults_are_the_options_or_left_to_the_project() -> None:
    params = _cli_params()
    for setting in offered("cli"):
        param = next(param for param in params.values() if setting.ways["cli"] in param.opts)
        if param.name == "compare":  # --compare names two settings: compare_all, compare
            assert param.default == "recommended" and not DEFAULTS.compare_all
        elif "project" in setting.ways:
            assert param.default is None, f"--{param.name}: the project's value must show"
        else:
            assert param.default in (None, setting.default), param.name


def test_the_plugin_shows_each_settings_help() -> None:
    added = _plugin_options()
    for setting in offered("plugin"):
        assert setting.help in added[setting.ways["plugin"]]["help"], setting.name


def test_project_keys_are_read(tmp_path: Path) -> None:
    values = {"trials": 4, "adaptive": False, "timeout": 12.5, "rate": 50, "budget": 9.0,
              "seed": 7, "memory_limit": 2 << 30, "keep_detached": True,
              "start_method": "spawn"}
    assert set(values) == {setting.name for setting in offered("project")}
    lines = [f"{SETTINGS[name].ways['project']} = "
             + (f'"{value}"' if isinstance(value, str) else str(value).lower())
             for name, value in values.items()]
    (tmp_path / "pyproject.toml").write_text("[tool.concdoctor]\n" + "\n".join(lines) + "\n")
    options = project_options(tmp_path)
    assert {name: getattr(options, name) for name in values} == values


# -- one message everywhere ---------------------------------------------------------------
BAD = [("trials", 0), ("timeout", -1.0), ("budget", 0.0), ("rate", 5000), ("sample", 0),
       ("confirm", 1), ("compare", ("fiber",)), ("memory_limit", "lots"),
       ("start_method", "vfork")]


def _message(name: str, value: Any) -> str:
    with pytest.raises(OptionError) as caught:
        Options(**{name: value})
    return str(caught.value)


@pytest.mark.parametrize(("name", "value"), BAD)
def test_the_calls_give_options_message(name: str, value: Any, tmp_path: Path) -> None:
    expected = _message(name, value)
    with pytest.raises(OptionError) as caught:
        api.profile(print, repeat=1, **{name: value}, options=DEFAULTS)
    assert str(caught.value) == expected
    fixture = ConcdoctorFixture(nodeid="t", session=ConcdoctorSession(),
                                marker=lambda: NO_MARKER)
    with pytest.raises(OptionError) as caught:
        fixture.profile(print, repeat=1, **{name: value})
    assert str(caught.value) == expected
    with pytest.raises(MarkerError) as bad_mark:
        parse_mark((), {name: value}, tmp_path)
    assert str(bad_mark.value).endswith(f": {expected}"), bad_mark.value


@pytest.mark.parametrize(("name", "value"), [(name, value) for name, value in BAD
                                             if SETTINGS[name].type in (int, float)])
def test_the_command_lines_give_options_message(name: str, value: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    expected = _message(name, value)
    setting = SETTINGS[name]
    if "plugin" in setting.ways:
        option = _plugin_options()[setting.ways["plugin"]]
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{re.escape(expected)}$"):
            option["type"](str(value))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        cli.main(["profile", "pkg.mod:func", "--repeat", "1", setting.ways["cli"], str(value)])
    assert done.value.code == 2
    assert capsys.readouterr().err == f"concdoctor: error: {expected}\n"


def test_the_project_gives_options_message(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.concdoctor]\nsampling_rate = 5000\n")
    with pytest.raises(OptionError) as caught:
        project_options(tmp_path)
    assert str(caught.value) == f"{path} [tool.concdoctor]: {_message('rate', 5000)}"
