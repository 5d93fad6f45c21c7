"""The ``concdoctor`` command: parse, call the library, render. No decisions here."""

from __future__ import annotations

import enum
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from concdoctor import __version__
from concdoctor.errors import ConcdoctorError, Interrupted, UsageError
from concdoctor.options import DEFAULTS, SETTINGS

if TYPE_CHECKING:
    from rich.console import Console

    from concdoctor.program.report import ProgramReport

app = typer.Typer(
    name="concdoctor", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Which concurrency model will speed up this batch of calls, measured and confirmed.",
)


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
    version: Annotated[bool | None, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
) -> None:
    """Which concurrency model will speed up this batch of calls, measured and confirmed."""


def _help(name: str) -> str:
    """A setting's help as :class:`~concdoctor.options.Options` declares it."""
    return SETTINGS[name].with_default()


Inputs = Annotated[str | None, typer.Option(
    help="A JSON list; each item is one task, passed as the single argument.")]
InputsFrom = Annotated[str | None, typer.Option(
    help="module:ATTR holding the inputs: an iterable, or a function returning one.")]
Repeat = Annotated[int | None, typer.Option(
    help="Call a function without arguments N times (N tasks).")]
Calls = Annotated[bool, typer.Option(
    "--calls", help="Each input is one call's arguments, [args, kwargs] (a list and a "
    "dict, or a tuple of them): func(*args, **kwargs).")]
# The settings' options: their help is the settings'; their values are checked by Options,
# so that a bad one gets the same message here as in the API, the marker and the plugin.
Rules = Annotated[Path | None, typer.Option(help=_help("rules"))]
Confirm = Annotated[bool, typer.Option("--confirm/--no-confirm", help=_help("confirm"))]
CompareOption = Annotated[str, typer.Option(
    help="What to measure beside the advice: 'recommended' (nothing more), 'all' (every "
    "local executor), or executors by name: 'dask' (a LocalCluster without --cluster), "
    "'all,dask', 'thread,process'.")]
Cluster = Annotated[str | None, typer.Option(show_default=False, help=_help("cluster"))]
Budget = Annotated[float | None, typer.Option(show_default=False, help=_help("budget"))]
Seed = Annotated[int | None, typer.Option(show_default=False, help=_help("seed"))]
Sample = Annotated[int | None, typer.Option(show_default=False, help=_help("sample"))]
MemoryLimit = Annotated[str | None, typer.Option(show_default=False,
                                                  help=_help("memory_limit"))]
Trials = Annotated[int | None, typer.Option(show_default=False, help=_help("trials"))]
Adaptive = Annotated[bool | None, typer.Option(
    "--adaptive/--exact-trials", show_default=False, help=_help("adaptive"))]
Timeout = Annotated[float | None, typer.Option(show_default=False, help=_help("timeout"))]
KeepDetached = Annotated[bool | None, typer.Option(
    "--keep-detached", show_default=False, help=_help("keep_detached"))]
StartMethod = Annotated[str | None, typer.Option(show_default=False,
                                                 help=_help("start_method"))]
Sampling = Annotated[bool, typer.Option("--sampling/--no-sampling", help=_help("sampling"))]
Rate = Annotated[int | None, typer.Option(
    "--sampling-rate", show_default=False, help=_help("rate"))]
JsonPath = Annotated[Path | None, typer.Option(
    "--json", help="Also write the JSON report to this file.")]
ReportDir = Annotated[Path, typer.Option(help=_help("report_dir"))]
Save = Annotated[bool, typer.Option("--save/--no-save", help="Write the report folder.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")]


@app.command()
def profile(
    target: Annotated[str, typer.Argument(
        help="The function: package.module:func or path/to/file.py:func.")],
    inputs: Inputs = None, inputs_from: InputsFrom = None, repeat: Repeat = None,
    calls: Calls = False,
    rules: Rules = DEFAULTS.rules, confirm: Confirm = DEFAULTS.confirm,
    compare: CompareOption = "all" if DEFAULTS.compare_all else "recommended",
    cluster: Cluster = None,
    budget: Budget = None, seed: Seed = None, sample: Sample = None, trials: Trials = None,
    memory_limit: MemoryLimit = None,
    adaptive: Adaptive = None,
    timeout: Timeout = None, keep_detached: KeepDetached = None,
    start_method: StartMethod = None,
    sampling: Sampling = DEFAULTS.sampling, rate: Rate = None,
    json_path: JsonPath = None, report_dir: ReportDir = DEFAULTS.report_dir,
    save: Save = True, quiet: Quiet = False,
) -> None:
    """Diagnose TARGET over its inputs and recommend an executor, confirmed by measurement."""
    from concdoctor import api
    from concdoctor.options import project_options
    from concdoctor.target import InputSpec, TargetSpec

    options = project_options().given(
        rules=rules, confirm=confirm, compare_all="all" in compare.split(","),
        compare=_compared(compare), cluster=cluster, budget=budget,
        seed=seed, sample=sample, trials=trials, adaptive=adaptive, timeout=timeout,
        keep_detached=keep_detached, memory_limit=memory_limit, start_method=start_method,
        sampling=sampling, rate=rate, report_dir=report_dir)
    spec = InputSpec.from_options(inputs=inputs, inputs_from=inputs_from, repeat=repeat,
                                  calls=calls)
    TargetSpec.parse(target)
    command = shlex.join(["concdoctor", *sys.argv[1:]])
    from concdoctor.progress import PhaseProgress
    from concdoctor.render.terminal import prepare

    # quiet, rich is first loaded while the child starts (prepare), not before it starts
    console = None if quiet else _console(stderr=True)
    with PhaseProgress(console, quiet) as say:
        diagnosis = api.profile(
            target, list(spec.items) if spec.items is not None else None,
            repeat=repeat, inputs_from=inputs_from, calls=calls, options=options,
            command=command, progress=say, meanwhile=prepare,
        )
    _show(diagnosis)
    _save(diagnosis, json_path, report_dir if save else None, console or _console(stderr=True))
    if diagnosis.failure is not None:
        raise typer.Exit(1)


@app.command(context_settings={"allow_interspersed_args": False,
                               "ignore_unknown_options": True})
def run(
    program: Annotated[list[str], typer.Argument(
        show_default=False, help="SCRIPT [ARGS...], or with -m, MODULE [ARGS...]. "
        "concdoctor's own options go before it; everything after is the program's.")],
    module: Annotated[bool, typer.Option(
        "--module", "-m", help="Run a module, as 'python -m MODULE' does.")] = False,
    timeout: Annotated[float | None, typer.Option(
        show_default=False, help="End the program and all it started after this many "
        "seconds (default: no limit).")] = None,
    sampling: Sampling = DEFAULTS.sampling, rate: Rate = None,
    diagnose: Annotated[bool, typer.Option(
        "--diagnose/--no-diagnose", help="Run the program a second time, quietly, to "
        "capture calls of the top candidate (or of --function / --line) and diagnose "
        "them; --no-diagnose only ranks the candidates.")] = True,
    function: Annotated[str | None, typer.Option(
        show_default=False, help="Diagnose the calls of this function rather than the "
        "top candidate's: module:func or path/to/file.py:func.")] = None,
    line: Annotated[str | None, typer.Option(
        show_default=False, help="Diagnose the calls made on this line, or in the loop "
        "that starts on it: path/to/file.py:N.")] = None,
    capture: Annotated[int | None, typer.Option(
        show_default=False, help="How many calls to capture, spread over the run "
        "(default 120).")] = None,
    seed: Seed = None, confirm: Confirm = DEFAULTS.confirm, budget: Budget = None,
    rules: Rules = DEFAULTS.rules,
    json_path: JsonPath = None, report_dir: ReportDir = DEFAULTS.report_dir,
    save: Save = True, quiet: Quiet = False,
) -> None:
    """Run a whole program as it is, rank the loops worth running concurrently, and
    diagnose the calls of the best one."""
    from concdoctor import api
    from concdoctor.progress import PhaseProgress
    from concdoctor.render.program import show

    command = shlex.join(["concdoctor", *sys.argv[1:]])
    with PhaseProgress(_console(stderr=True), quiet, later=True) as say:  # type: ignore[arg-type]
        report = api.run_program(
            program, module=module, timeout=timeout, sampling=sampling, rate=rate,
            diagnose=diagnose, function=function, line=line, capture=capture, seed=seed,
            confirm=confirm, budget=budget, rules=rules, command=command, progress=say)
    show(report, _console(stderr=False))
    if json_path is not None:
        _write_json(json_path, report.to_json())
        _console(stderr=True).print(f"JSON report: {json_path}")
    if save:
        _save_program(report, report_dir)
    if report.failure is not None:
        found = len(report.candidates)
        raise ConcdoctorError(f"{report.failure}; the report keeps the {found} candidate"
                              f"{'' if found == 1 else 's'} found so far")
    if report.not_diagnosed and report.capture and report.capture.run_failure:
        raise ConcdoctorError(report.not_diagnosed)  # the capture's run crashed or hung
    if report.not_diagnosed and (function or line):
        raise UsageError(report.not_diagnosed)
    if report.diagnosis is not None and report.diagnosis.failure is not None:
        raise typer.Exit(1)


def _save_program(report: ProgramReport, report_dir: Path) -> None:
    """``concdoctor run``'s report folder: JSON, Markdown, HTML (with a diagnosis)."""
    from concdoctor.render.files import slug, timestamp, write_folder
    from concdoctor.render.program import files

    made = files(report)
    try:
        folder = write_folder(made, report_dir,
                              f"{timestamp('')}-run-{slug(Path(report.argv[0]).stem)}")
    except OSError as exc:
        raise UsageError(f"cannot write the report folder in {str(report_dir)!r}: "
                         f"{exc.strerror}; choose another --report-dir or --no-save") from None
    _console(stderr=True).print(f"reports: {folder}/ ({', '.join(sorted(made))})")


def _write_json(path: Path, text: str) -> None:
    from concdoctor.render import atomic_write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {str(path)!r}: {exc.strerror}; "
                         "choose another --json path") from None


def _compared(value: str) -> tuple[str, ...]:
    """``--compare``'s executors by name ('recommended' and 'all' are not names)."""
    return tuple(name.strip() for name in value.split(",")
                 if name.strip() not in ("", "recommended", "all"))


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A report.json written by concdoctor.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = (
        Format.terminal),
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of the terminal.")] = None,
) -> None:
    """Re-render a saved report without running anything."""
    from concdoctor.diagnosis import Diagnosis, ReportSchemaError
    from concdoctor.render import atomic_write_text, get_renderer

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read report {str(path)!r}: {exc.strerror}") from None
    if _is_program_report(text):
        _program_report(path, text, format, output)
        return
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


def _is_program_report(text: str) -> bool:
    """Whether ``text`` is ``concdoctor run``'s JSON (``"report": "program"``)."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("report") == "program"


def _program_report(path: Path, text: str, format: Format, output: Path | None) -> None:
    """``concdoctor report`` of a ``concdoctor run`` report: terminal, Markdown or JSON."""
    from concdoctor.program.report import ProgramReport
    from concdoctor.render import atomic_write_text
    from concdoctor.render.program import html, markdown, show

    try:
        report = ProgramReport.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a concdoctor run report this version reads ({exc})"
                         ) from None
    if format is Format.terminal and output is None:
        show(report, _console(stderr=False))
        return
    if format is Format.terminal:
        import io

        from rich.console import Console

        buffer = io.StringIO()
        show(report, Console(file=buffer, width=100, no_color=True, highlight=False))
        rendered = buffer.getvalue()
    elif format is Format.html:
        page = html(report)
        if page is None:
            raise UsageError(f"{path}: this run diagnosed no calls ({report.not_diagnosed}); "
                             "render it as terminal, md or json")
        rendered = page
    else:
        rendered = report.to_json() if format is Format.json else markdown(report)
    if output is None:
        typer.echo(rendered, nl=False)
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


def _console(*, stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


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
        usage_exit = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(usage_exit, int):
            exc.show()  # click's usage errors, as typer vendors it
            sys.exit(usage_exit)
        raise
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
    sys.exit(code if isinstance(code, int) else 0)


def console() -> None:
    """The installed ``concdoctor`` command and ``python -m concdoctor``: :func:`main`,
    then an exit that skips the interpreter's teardown (about 20 ms of freeing the
    modules a diagnosis loaded) once nothing else is left to end: no other thread and no
    child process. Its output is flushed first."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int) or threading.active_count() > 1 or _has_children():
        sys.exit(code)  # what SystemExit does with it, and the usual teardown
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream closed
            pass
    os._exit(code)


def _has_children() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)  # raises when this process has no child at all
    except ChildProcessError:
        return False
    return True


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"concdoctor: error: {message}\n")
    sys.exit(code)
