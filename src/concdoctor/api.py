"""The Python entry points: the same diagnosis the CLI runs, for code and the fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from concdoctor.baseline.budget import new_seed
from concdoctor.cluster import address as scheduler_address
from concdoctor.cluster import check as check_scheduler
from concdoctor.decide import rules as rules_module
from concdoctor.diagnosis import Diagnosis
from concdoctor.errors import UsageError
from concdoctor.options import Options, project_options
from concdoctor.pipeline import Progress, Request, diagnose, quiet
from concdoctor.pipeline import diagnose as diagnose_job
from concdoctor.target import InputSpec, Job, TargetSpec

if TYPE_CHECKING:
    from concdoctor.program.report import ProgramReport


def profile(
    func: Callable[..., Any] | str,
    inputs: Iterable[Any] | None = None,
    *,
    repeat: int | None = None,
    inputs_from: str | None = None,
    calls: bool = False,
    rules: str | Path | None = None,
    confirm: bool | None = None,
    compare_all: bool | None = None,
    compare: Iterable[str] | None = None,
    cluster: str | None = None,
    trials: int | None = None,
    adaptive: bool | None = None,
    timeout: float | None = None,
    keep_detached: bool | None = None,
    start_method: str | None = None,
    sampling: bool | None = None,
    rate: int | None = None,
    budget: float | None = None,
    seed: int | None = None,
    sample: int | None = None,
    memory_limit: int | str | None = None,
    options: Options | None = None,
    command: str = "",
    progress: Progress | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Diagnosis:
    """Diagnose ``func`` over ``inputs`` (one call per item) or ``repeat`` calls. With
    ``calls``, each input (of ``inputs`` or ``inputs_from``) is one call's
    ``(args, kwargs)``: ``func(*args, **kwargs)``.

    ``func`` is a callable (run in a forked child, so functions defined in test modules
    work) or a ``"module:func"`` / ``"file.py:func"`` string (run with ``python -m``).
    Settings left at ``None`` come from ``options`` (by default, concdoctor's defaults
    with ``[tool.concdoctor]`` of ./pyproject.toml); each is the field of
    :class:`~concdoctor.options.Options` of that name, which says what it does and
    checks its value. ``compare`` takes executors' names (``["dask"]``, or one name).
    ``meanwhile`` is called, in this process, while the child starts and imports the
    target: work of the caller's own that then costs no time of its own.
    """
    options = (options or project_options()).given(
        rules=Path(rules) if isinstance(rules, str) else rules, confirm=confirm,
        compare_all=compare_all, compare=_names(compare), cluster=cluster, trials=trials,
        adaptive=adaptive, timeout=timeout, keep_detached=keep_detached, sampling=sampling,
        rate=rate, budget=budget, seed=seed, sample=sample, memory_limit=memory_limit,
        start_method=start_method)
    if options.seed is None:  # chosen now, so that the report can give it
        options = options.given(seed=new_seed())
    items = _items(func, inputs, repeat, inputs_from)
    if calls and repeat is not None:
        raise UsageError("calls=True gives each input's arguments; repeat calls the "
                         "function without any: pass inputs or inputs_from")
    scheduler = scheduler_address(options.cluster)
    reached = check_scheduler(scheduler) if scheduler else None
    request = Request(rules=load_rules(options.rules, options.project), options=options,
                      command=command,
                      repeat=repeat is not None, calls=calls, progress=progress or quiet,
                      meanwhile=meanwhile,
                      scheduler=scheduler,
                      cluster_workers=reached.workers if reached else 0,
                      cluster_mismatch=reached.mismatch if reached else None)
    if isinstance(func, str):
        if inputs_from is not None:
            spec = InputSpec(source=TargetSpec.parse(inputs_from, what="--inputs-from"),
                             calls=calls)
        elif repeat is not None:
            spec = InputSpec(repeat=repeat)
        else:
            spec = InputSpec(items=tuple(items), calls=calls)
        job = Job(TargetSpec.parse(func), spec, seed=options.seed or 0)
        return diagnose(replace(request, job=job))
    if callable(func):
        return diagnose(replace(request, func=func, items=items))
    raise UsageError(f"func must be a callable or 'module:func', got {type(func).__name__}")


def run_program(program: list[str], *, module: bool = False, timeout: float | None = None,
                sampling: bool | None = None, rate: int | None = None,
                diagnose: bool = True, function: str | None = None, line: str | None = None,
                capture: int | None = None, seed: int | None = None,
                rules: str | Path | None = None, confirm: bool | None = None,
                budget: float | None = None, options: Options | None = None,
                command: str = "", progress: Progress | None = None) -> ProgramReport:
    """Run a whole program (``[SCRIPT, *ARGS]``, or with ``module`` ``[MODULE, *ARGS]``)
    and rank the calls worth running concurrently: the ``concdoctor run`` command.

    With ``diagnose`` (the default) the program runs a second time, quietly, to capture
    ``capture`` calls (120 by default) of the top candidate, or of the one ``function``
    (``module:func``) or ``line`` (``file.py:N``) names, spread over the run by ``seed``;
    those calls are diagnosed as ``profile`` would, and the prediction scales to all the
    program's calls. ``timeout`` (seconds, default none) ends each run of the program
    early; the other settings are the fields of that name of
    :class:`~concdoctor.options.Options`."""
    from concdoctor.program.capture import DEFAULT_COUNT
    from concdoctor.program.session import run_program as run
    from concdoctor.program.sites import Pick

    # ``timeout`` bounds each run of the program, not the diagnosis's phases
    options = (options or project_options()).given(
        sampling=sampling, rate=rate, seed=seed, confirm=confirm,
        budget=budget, rules=Path(rules) if isinstance(rules, str) else rules)
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be more than 0 seconds, got {timeout:g}")
    if options.seed is None:
        options = options.given(seed=new_seed())
    count = DEFAULT_COUNT if capture is None else capture
    if count < 1:
        raise UsageError(f"capture must be at least 1 call, got {count}")
    request = Request(rules=load_rules(options.rules, options.project), options=options,
                      command=command, progress=progress or quiet)

    def diagnosed(job: Job) -> Diagnosis:
        return diagnose_job(replace(request, job=job))

    return run(list(program), module=module, timeout=timeout, sampling=options.sampling,
               rate=options.rate, diagnose=diagnosed if diagnose else None,
               pick=Pick(function, line), capture=count, seed=options.seed or 0,
               progress=request.progress)


def _names(names: Iterable[str] | None) -> tuple[str, ...] | None:
    """Executors' names as Options holds them; one name on its own is one name."""
    if names is None:
        return None
    return (names,) if isinstance(names, str) else tuple(names)


def _items(func: object, inputs: Iterable[Any] | None, repeat: int | None,
           inputs_from: str | None) -> list[Any]:
    """The tasks' inputs held here (none for ``inputs_from``: the child loads those)."""
    given = sum(value is not None for value in (inputs, repeat, inputs_from))
    if given != 1:
        raise UsageError("give exactly one of inputs=[...], repeat=N or inputs_from='module:ATTR'")
    if inputs_from is not None and not isinstance(func, str):
        raise UsageError("inputs_from needs func as a 'module:func' string; pass inputs= instead")
    if repeat is not None and repeat < 1:
        raise UsageError(f"repeat must be at least 1, got {repeat}")
    items = list(inputs) if inputs is not None else [None] * int(repeat or 0)
    if not items and inputs_from is None:
        raise UsageError("inputs is empty: give at least one item")
    return items


def load_rules(rules: str | Path | None, project: Path | None = None) -> rules_module.RuleSet:
    """``rules`` if given, else ``[tool.concdoctor]`` of ``project``'s pyproject.toml (the
    current folder's by default), else the defaults."""
    pyproject = (project or Path.cwd()) / "pyproject.toml"
    return rules_module.load(rules, pyproject=pyproject if pyproject.is_file() else None)
