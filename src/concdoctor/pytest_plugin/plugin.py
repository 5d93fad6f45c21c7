"""pytest hooks: the ``--concdoctor-*`` options, the marker, the fixture, the summary.

Loaded in every pytest run through the ``pytest11`` entry point, so it must cost nothing
when unused: the fixture's module (and the result types) load when a test asks for the
fixture, the profiler (``concdoctor.api``) and the renderers only when it calls
``concdoctor.profile()``.

With pytest-xdist each worker diagnoses its own tests; at the end of its session a
worker sends its rows through ``config.workeroutput`` and the controller merges them
in ``pytest_testnodedown``, so the summary lists the diagnoses of every worker.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from concdoctor.options import DEFAULTS, OptionError, Options, Setting, offered
from concdoctor.pytest_plugin.marker import MARKER, MARKER_HELP, MarkerError, MarkerSpec
from concdoctor.pytest_plugin.marker import parse_marks as _parse_marks
from concdoctor.pytest_plugin.session import WORKEROUTPUT_KEY, ConcdoctorSession, Settings

if TYPE_CHECKING:
    from concdoctor.pytest_plugin.fixture import ConcdoctorFixture

SESSION_KEY = pytest.StashKey[ConcdoctorSession]()
FIXTURE_KEY = pytest.StashKey["ConcdoctorFixture"]()
MARKER_KEY = pytest.StashKey[MarkerSpec]()


# -- options ------------------------------------------------------------------------------
# One --concdoctor-* option per setting the plugin offers (concdoctor.options.SETTINGS
# says which, and how each is spelled), with the setting's help and Options' checks.
NOTES = {
    "confirm": " Speedup assertions then skip, unless a test asks for confirmation.",
    "report_dir": " Default: no reports are written.",
}
"""What a setting means in a test session, beyond what it means everywhere."""


def _value(setting: Setting) -> Callable[[str], Any]:
    """Reads one option's text as the setting's value; Options rejects a bad one with the
    message it gives everywhere (a word that is no number is shown to it as given)."""
    def read(text: str) -> Any:
        value: Any = text
        if setting.type is tuple:
            value = tuple(name.strip() for name in text.split(",") if name.strip())
        elif setting.type in (int, float, Path):
            try:
                value = setting.type(text)
            except ValueError:
                pass
        try:
            DEFAULTS.given(**{setting.name: value})
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return _FILES[setting.name](text) if setting.name in _FILES else value
    return read


def _rules_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such rules file: {text!r}")
    return path


def _report_dir(text: str) -> Path:
    path = Path(text)
    if not text or (path.exists() and not path.is_dir()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path


_FILES = {"rules": _rules_file, "report_dir": _report_dir}
"""Paths the session reads or writes: checked against the file system up front."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concdoctor", "concdoctor: which executor speeds up a batch")
    for setting in offered("plugin"):
        flag, dest = setting.ways["plugin"], f"concdoctor_{setting.name}"
        if setting.type is bool:  # a flag turns the default over
            text = f"{setting.help} This option turns it {'off' if setting.default else 'on'}."
            group.addoption(flag, dest=dest, action="store_const", const=not setting.default,
                            default=None, help=text + NOTES.get(setting.name, ""))
        else:
            text = setting.with_default() + NOTES.get(setting.name, "")
            group.addoption(flag, dest=dest, metavar=setting.metavar or "VALUE",
                            type=_value(setting), default=None, help=text)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    base = config.invocation_params.dir
    given = {setting.name: config.getoption(f"concdoctor_{setting.name}")
             for setting in offered("plugin")}
    report_dir, rules = given.pop("report_dir"), given.pop("rules")
    options = _project(config).given(rules=base / rules if rules is not None else None,
                                      **given)
    if options.rules is not None:
        _check_rules(options.rules)
    settings = Settings(options, report_dir=base / report_dir if report_dir is not None else None)
    config.stash[SESSION_KEY] = ConcdoctorSession(settings)
    config.pluginmanager.register(MarkerExpectations(), "concdoctor-marker-expectations")


def _project(config: pytest.Config) -> Options:
    """The defaults with the project's [tool.concdoctor] settings (its pyproject.toml)."""
    from concdoctor.options import project_options

    try:
        return project_options(config.rootpath)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_rules(path: Path) -> None:
    """A broken rules file is a usage error of the whole run: report it once, up front."""
    from concdoctor.decide import rules
    from concdoctor.errors import RulesError

    try:
        rules.load(path)
    except RulesError as exc:
        raise pytest.UsageError(f"--concdoctor-rules: {exc}") from None


# -- the fixture and the marker -------------------------------------------------------------
def _worker_id(config: pytest.Config) -> str | None:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else None


def marker_spec(item: pytest.Item) -> MarkerSpec:
    """The test's merged ``@pytest.mark.concdoctor`` (closest first); MarkerError if bad."""
    if MARKER_KEY not in item.stash:
        marks = [(mark.args, mark.kwargs) for mark in item.iter_markers(MARKER)]
        item.stash[MARKER_KEY] = _parse_marks(marks, item.path.parent)
    return item.stash[MARKER_KEY]


@pytest.fixture
def concdoctor(request: pytest.FixtureRequest) -> Generator[ConcdoctorFixture, None, None]:
    """Diagnose a function's bottleneck and assert on the advised executor.

    ``d = concdoctor.profile(func, inputs=[...])`` returns the Diagnosis;
    ``concdoctor.assert_kind(d, "io_bound")``, ``assert_executor``, ``assert_speedup``
    and ``assert_confirmed`` fail with the verdict explained.
    """
    from concdoctor.pytest_plugin.fixture import ConcdoctorFixture

    config = request.config
    item = request.node
    fixture = ConcdoctorFixture(nodeid=item.nodeid, session=config.stash[SESSION_KEY],
                                marker=lambda: marker_spec(item), worker=_worker_id(config))
    item.stash[FIXTURE_KEY] = fixture
    yield fixture


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Check the marker's arguments before the test body runs: a bad one fails the test."""
    if item.get_closest_marker(MARKER) is None:
        return
    problem = _marker_problem(item)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def _marker_problem(item: pytest.Item) -> str | None:
    try:
        marker_spec(item)
    except MarkerError as exc:
        return str(exc)
    return None


class MarkerExpectations:
    """Registered as its own plugin: its ``pytest_runtest_call`` must run *after* the
    test body (trylast), while the module's checks the arguments *before* it."""

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """After a passing test body: every diagnosis meets the marker's expectations.

        ``min_speedup`` and ``confirmed`` are not checked on diagnoses whose confirmation
        ``--concdoctor-no-confirm`` turned off (the summary shows them as 'off')."""
        if item.get_closest_marker(MARKER) is None:
            return
        spec = marker_spec(item)
        if not spec.has_expectations:
            return
        fixture = item.stash.get(FIXTURE_KEY, None)
        if fixture is None or not fixture.diagnoses:
            pytest.fail(f"@pytest.mark.{MARKER} sets expectations, but the test made no "
                        "diagnosis: call concdoctor.profile(...) with the concdoctor fixture",
                        pytrace=False)
        messages = fixture.marker_problems(spec)
        if messages:
            pytest.fail(f"@pytest.mark.{MARKER} expectations not met:\n\n"
                        + "\n\n".join(messages), pytrace=False)


# -- the session ----------------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this worker's rows to the controller."""
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None and SESSION_KEY in config.stash:
        workeroutput[WORKEROUTPUT_KEY] = config.stash[SESSION_KEY].export()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: merge the rows a worker sent (see pytest_sessionfinish).
    ``node`` is xdist's WorkerController (not imported: xdist is optional)."""
    config: pytest.Config = node.config
    output = getattr(node, "workeroutput", None) or {}
    worker = str(node.gateway.id)
    rows = output.get(WORKEROUTPUT_KEY)
    if rows is not None and SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].merge(rows, worker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is not None or SESSION_KEY not in config.stash:
        return
    verbose = (config.getoption("verbose") or 0) > 0
    config.stash[SESSION_KEY].display(terminalreporter, verbose=verbose)
