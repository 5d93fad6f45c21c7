"""The ``concdoctor`` command: parse, call the library, render. No decisions here."""

from __future__ import annotations

import enum
import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from concdoctor import __version__
from concdoctor.errors import ConcdoctorError, Interrupted, UsageError
from concdoctor.options import DEFAULTS, MAX_RATE, MIN_RATE

app = typer.Typer(
    name="concdoctor", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Which concurrency model will speed up this batch of calls, measured and confirmed.",
)


class Compare(str, enum.Enum):
    recommended = "recommended"
    all = "all"


class Format(str, enum.Enum):
    terminal = "terminal"
    md = "md"
    markdown = "markdown"
    html = "html"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"concdoctor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """Which concurrency model will speed up this batch of calls, measured and confirmed."""


@app.command()
def profile(
    target: Annotated[str, typer.Argument(
        help="The function: package.module:func or path/to/file.py:func.")],
    inputs: Annotated[Optional[str], typer.Option(
        help="A JSON list; each item is one task, passed as the single argument.")] = None,
    inputs_from: Annotated[Optional[str], typer.Option(
        help="module:ATTR holding the inputs: an iterable, or a function returning one.")] = None,
    repeat: Annotated[Optional[int], typer.Option(
        help="Call a function without arguments N times (N tasks).")] = None,
    rules: Annotated[Optional[Path], typer.Option(
        help="A rules TOML file, tried before the built-in decision matrix.")] = DEFAULTS.rules,
    confirm: Annotated[bool, typer.Option(
        "--confirm/--no-confirm", help="Re-run the batch on the advice to measure it.")] = (
        DEFAULTS.confirm),
    compare: Annotated[Compare, typer.Option(
        help="'all' measures every applicable executor, not only the advice.")] = (
        Compare.all if DEFAULTS.compare_all else Compare.recommended),
    trials: Annotated[int, typer.Option(
        min=1, help="Timed runs per executor (the most, when adaptive).")] = DEFAULTS.trials,
    adaptive: Annotated[bool, typer.Option(
        "--adaptive/--exact-trials",
        help="Stop an executor's trials once they settle the decision, or run all of them."
    )] = DEFAULTS.adaptive,
    timeout: Annotated[float, typer.Option(
        min=0.1, help="Seconds any one phase may take before the child tree is ended.")] = (
        DEFAULTS.timeout),
    sampling: Annotated[bool, typer.Option(
        "--sampling/--no-sampling", help="Sample the baseline with py-spy.")] = (
        DEFAULTS.sampling),
    rate: Annotated[int, typer.Option(
        "--sampling-rate", min=MIN_RATE, max=MAX_RATE,
        help="py-spy samples per second (each of 3 samplers); more is finer and costlier.")] = (
        DEFAULTS.rate),
    json_path: Annotated[Optional[Path], typer.Option(
        "--json", help="Also write the JSON report to this file.")] = None,
    report_dir: Annotated[Path, typer.Option(
        help="Folder that gets a sub-folder of reports per run.")] = DEFAULTS.report_dir,
    save: Annotated[bool, typer.Option(
        "--save/--no-save", help="Write the report folder.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Diagnose TARGET over its inputs and recommend an executor, confirmed by measurement."""
    from concdoctor import api
    from concdoctor.target import InputSpec, TargetSpec

    spec = InputSpec.from_options(inputs=inputs, inputs_from=inputs_from, repeat=repeat)
    TargetSpec.parse(target)
    console = _console(stderr=True)
    command = shlex.join(["concdoctor", *sys.argv[1:]])
    with _progress(console, quiet) as say:
        options = DEFAULTS.given(rules=rules, confirm=confirm, compare_all=compare is Compare.all,
                                 trials=trials, adaptive=adaptive, timeout=timeout,
                                 sampling=sampling, rate=rate, report_dir=report_dir)
        diagnosis = api.profile(
            target, list(spec.items) if spec.items is not None else None,
            repeat=repeat, inputs_from=inputs_from, options=options, command=command,
            progress=say,
        )
    _show(diagnosis)
    _save(diagnosis, json_path, report_dir if save else None, console)
    if diagnosis.failure is not None:
        raise typer.Exit(1)


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A report.json written by concdoctor.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = (
        Format.terminal),
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write to this file instead of the terminal.")] = None,
) -> None:
    """Re-render a saved report without running anything."""
    from concdoctor.diagnosis import Diagnosis, ReportSchemaError
    from concdoctor.render import atomic_write_text, get_renderer

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read report {str(path)!r}: {exc.strerror}") from None
    try:
        diagnosis = Diagnosis.from_json(text)
    except ReportSchemaError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if format is Format.terminal and output is None:
        _show(diagnosis)
        return
    rendered = get_renderer(format.value).render(diagnosis)
    if output is None:
        typer.echo(rendered)
    else:
        atomic_write_text(output, rendered)
        _console(stderr=True).print(f"wrote {output}")


def _show(diagnosis: object) -> None:
    from concdoctor.render import get_renderer

    renderer = get_renderer("terminal")
    renderer.print(diagnosis, _console(stderr=False))  # type: ignore[attr-defined]


def _save(diagnosis: object, json_path: Path | None, report_dir: Path | None,
          console: object) -> None:
    from concdoctor.render import atomic_write_text, write_report_folder

    try:
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(json_path, diagnosis.to_json())  # type: ignore[attr-defined]
            console.print(f"JSON report: {json_path}")  # type: ignore[attr-defined]
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            folder = write_report_folder(diagnosis, report_dir)  # type: ignore[arg-type]
            console.print(f"reports: {folder}/ (report.html, report.md, report.json)")  # type: ignore[attr-defined]
    except OSError as exc:
        where = exc.filename or json_path or report_dir
        raise UsageError(f"cannot write the report to {str(where)!r}: {exc.strerror}; "
                         "choose another --json path or --report-dir") from None


def _console(*, stderr: bool) -> object:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


class _progress:
    """A spinner on stderr naming the phase that runs (silent when not a terminal)."""

    def __init__(self, console: object, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.status = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if self.quiet:
            return lambda message: None
        self.status = self.console.status("starting the child process")  # type: ignore[attr-defined]
        self.status.__enter__()

        def say(message: str) -> None:
            self.status.update(message)  # type: ignore[union-attr]
            if not self.console.is_terminal:  # type: ignore[attr-defined]
                self.console.print(f"[dim]… {message}[/dim]")  # type: ignore[attr-defined]

        return say

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)


def _raise_interrupt(signum: int, frame: object) -> None:
    """First Ctrl-C or SIGTERM: unwind (the runners end their children on the way out).
    Further signals are ignored so that the clean-up itself cannot be interrupted."""
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every known failure is one line on stderr and an exit code."""
    previous = {each: signal.signal(each, _raise_interrupt)
                for each in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = app(args=argv, standalone_mode=False)
    except ConcdoctorError as exc:
        _fail(str(exc), exc.exit_code)
    except ValueError as exc:  # e.g. an unknown report format from the renderer registry
        _fail(str(exc), 2)
    except Exception as exc:
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # click's usage errors, as typer vendors it
            sys.exit(exc.exit_code)
        raise
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"concdoctor: error: {message}\n")
    sys.exit(code)
