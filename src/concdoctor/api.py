"""The Python entry points: the same diagnosis the CLI runs, for code and the fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from concdoctor import rules as rules_module
from concdoctor.diagnosis import Diagnosis
from concdoctor.errors import UsageError
from concdoctor.pipeline import Progress, Request, diagnose
from concdoctor.target import InputSpec, Job, TargetSpec

DEFAULT_TIMEOUT = 300.0


def profile(
    func: Callable[..., Any] | str,
    inputs: Iterable[Any] | None = None,
    *,
    repeat: int | None = None,
    inputs_from: str | None = None,
    rules: str | Path | None = None,
    confirm: bool = True,
    compare_all: bool = False,
    trials: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
    sampling: bool = True,
    rate: int = 100,
    command: str = "",
    progress: Progress | None = None,
) -> Diagnosis:
    """Diagnose ``func`` over ``inputs`` (one call per item) or ``repeat`` calls.

    ``func`` is a callable (run in a forked child, so functions defined in test modules
    work) or a ``"module:func"`` / ``"file.py:func"`` string (run with ``python -m``).
    """
    given = sum(value is not None for value in (inputs, repeat, inputs_from))
    if given != 1:
        raise UsageError("give exactly one of inputs=[...], repeat=N or inputs_from='module:ATTR'")
    if inputs_from is not None and not isinstance(func, str):
        raise UsageError("inputs_from needs func as a 'module:func' string; pass inputs= instead")
    if repeat is not None and repeat < 1:
        raise UsageError(f"repeat must be at least 1, got {repeat}")
    if trials < 1:
        raise UsageError(f"trials must be at least 1, got {trials}")
    if timeout <= 0:
        raise UsageError(f"timeout must be positive, got {timeout}")
    if not 1 <= rate <= 1000:
        raise UsageError(f"sampling rate must be 1-1000 samples per second, got {rate}")
    items = list(inputs) if inputs is not None else [None] * int(repeat or 0)
    if not items and inputs_from is None:
        raise UsageError("inputs is empty: give at least one item")
    request = Request(
        rules=load_rules(rules), confirm=confirm, compare_all=compare_all, trials=trials,
        timeout=timeout, sampling=sampling, rate=rate, command=command,
        repeat=repeat is not None,
        progress=progress or (lambda message: None),
    )
    if isinstance(func, str):
        if inputs_from is not None:
            spec = InputSpec(source=TargetSpec.parse(inputs_from, what="--inputs-from"))
        elif repeat is not None:
            spec = InputSpec(repeat=repeat)
        else:
            spec = InputSpec(items=tuple(items))
        request.job = Job(TargetSpec.parse(func), spec)
    elif callable(func):
        request.func, request.items = func, items
    else:
        raise UsageError(f"func must be a callable or 'module:func', got {type(func).__name__}")
    return diagnose(request)


def load_rules(rules: str | Path | None) -> rules_module.RuleSet:
    """``rules`` if given, else ``[tool.concdoctor]`` of ./pyproject.toml, else defaults."""
    pyproject = Path.cwd() / "pyproject.toml"
    return rules_module.load(rules, pyproject=pyproject if pyproject.is_file() else None)
