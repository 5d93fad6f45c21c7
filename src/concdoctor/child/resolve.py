"""Inside the child: the target function and its inputs, found from their names.

Only the child imports the user's code. Every problem here is a :class:`ResolveError`
whose ``category`` says whose fault it is: ``usage`` (a wrong name, a wrong signature,
no inputs: exit code 2) or ``target`` (the user's module raised while importing).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor.baseline import budget
from concdoctor.child import runners as executors
from concdoctor.protocol import is_own_file
from concdoctor.target import Job, TargetSpec


class ResolveError(Exception):
    """The target or inputs cannot be resolved; ``category`` says whose fault."""

    def __init__(self, message: str, category: str = "usage", detail: str | None = None):
        super().__init__(message)
        self.category = category
        self.detail = detail


@dataclass
class Resolved:
    task: executors.Task
    items: Sequence[Any]
    """The inputs the child holds: all of them, or a reservoir of a huge iterator."""
    input_source: str
    inputs_called: bool = False
    """``--inputs-from`` named a function, called to get the inputs."""
    total: int = -1
    """How many inputs there are in all (``len(items)`` unless a reservoir)."""

    def __post_init__(self) -> None:
        if self.total < 0:
            self.total = len(self.items)


def user_traceback(exc: BaseException) -> str:
    """The traceback with concdoctor's own frames and the import machinery's removed:
    the user's code is the story, whether a task, an import or the inputs raised."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not (is_own_file(f.filename) or f.filename.startswith(_IMPORT_MACHINERY))]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


_IMPORT_MACHINERY = ("<frozen importlib.", importlib.__file__.rsplit("/", 1)[0] + "/")
"""Frames of importlib's own code (frozen or in its package folder)."""


def resolve_job(job: Job) -> Resolved:
    for entry in reversed(job.extra_sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    func = _load_attribute(job.target, what="target")
    if not callable(func):
        raise ResolveError(f"target {job.target.text!r} is {type(func).__name__}, "
                           "not a function: name a callable after the ':'")
    spec = job.inputs
    if spec.repeat is not None:
        return Resolved(make_task(func, pass_item=False), [None] * int(spec.repeat), "repeat")
    if spec.captured is not None:
        from concdoctor.child.captured import load_captured

        try:
            captured = load_captured(spec.captured)
        except ValueError as exc:
            raise ResolveError(str(exc), "target") from None
        task = make_task(func, pass_item=True, calls=captured.calls)
        return Resolved(task, captured.calls, "captured", total=captured.total)
    if spec.source is not None:
        held, called = _load_inputs(spec.source, job.seed)
        task = make_task(func, pass_item=True, calls=held.items if spec.calls else None)
        return Resolved(task, held.items, "inputs_from", called, held.total)
    items = list(spec.items or ())
    task = make_task(func, pass_item=True, calls=items if spec.calls else None)
    return Resolved(task, items, "inputs")


def make_task(func: Callable[..., Any], *, pass_item: bool,
              calls: Sequence[Any] | None = None) -> executors.Task:
    """The task calling ``func`` with each input, or without any (``pass_item`` false);
    given ``calls``, each input is a call's ``(args, kwargs)``, checked against the
    signature."""
    if calls is None:
        _check_signature(func, pass_item)
    else:
        _check_calls(func, calls)
    is_coroutine = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))
    return executors.Task(func, pass_item=pass_item, is_coroutine=is_coroutine,
                          unpack=calls is not None)


def _check_calls(func: Callable[..., Any], calls: Sequence[Any]) -> None:
    """Every input is ``(args, kwargs)`` and binds to the signature: one line naming the
    first that does not, before anything runs."""
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    name = getattr(func, "__qualname__", repr(func))
    for index, call in enumerate(calls):
        if not (isinstance(call, (list, tuple)) and len(call) == 2
                and isinstance(call[0], (list, tuple)) and isinstance(call[1], dict)
                and all(isinstance(key, str) for key in call[1])):
            raise ResolveError(
                f"--calls: input {index} is {_preview(call)}, not [args, kwargs]; give each "
                "input as [[positional, ...], {\"keyword\": value}]")
        if signature is None:
            continue
        try:
            signature.bind(*call[0], **call[1])
        except TypeError as exc:
            raise ResolveError(f"--calls: input {index} does not fit {name}{signature}: "
                               f"{exc}; fix that input's arguments") from None


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_signature(func: Callable[..., Any], pass_item: bool) -> None:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return  # some builtins have no signature: let the call decide
    try:
        signature.bind(None) if pass_item else signature.bind()
    except TypeError:
        name = getattr(func, "__qualname__", repr(func))
        how = ("one argument per task (one item of the inputs)" if pass_item
               else "no arguments (--repeat)")
        if not pass_item:
            fix = "pass --inputs or --inputs-from to give it an argument"
        elif not signature.parameters:
            fix = "use --repeat N for a function without arguments"
        else:
            fix = ("wrap it in a function of one argument (e.g. a tuple of its arguments) "
                   "and profile that")
        raise ResolveError(f"{name}{signature} cannot be called with {how}; {fix}") from None


def _load_attribute(spec: TargetSpec, *, what: str) -> Any:
    module = _import(spec, what=what)
    value: Any = module
    for part in spec.attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            names = sorted(n for n, v in vars(module).items()
                           if callable(v) and not n.startswith("_"))[:12]
            raise ResolveError(
                f"{what} {spec.text!r}: {module.__name__!r} has no attribute "
                f"{spec.attribute!r}; it has: {', '.join(names) or 'no public callables'}"
            ) from None
    return value


def _import(spec: TargetSpec, *, what: str) -> Any:
    try:
        if spec.path:
            return import_path(spec.path)
        assert spec.module is not None
        return importlib.import_module(spec.module)
    except ResolveError:
        raise
    except ModuleNotFoundError as exc:
        wanted = spec.module or ""
        if exc.name and (wanted == exc.name or wanted.startswith(exc.name + ".")):
            raise ResolveError(
                f"{what} {spec.text!r}: module {exc.name!r} not found; run from the "
                "directory that contains it, install it, or use path/to/file.py:func"
            ) from None
        raise ResolveError(f"importing {what} {spec.text!r} failed: {exc}",
                           "target", user_traceback(exc)) from None
    except SyntaxError as exc:
        raise ResolveError(
            f"{what} {spec.text!r}: syntax error in {exc.filename}:{exc.lineno}: {exc.msg}; "
            "fix the file and run again"
        ) from None
    except BaseException as exc:  # the module's own code raised while importing
        raise ResolveError(f"importing {what} {spec.text!r} raised "
                           f"{type(exc).__name__}: {exc}", "target",
                           user_traceback(exc)) from None


def import_path(path: str) -> Any:
    """Import a file as a top-level module named after it, importable again by workers."""
    directory, filename = os.path.split(path)
    name = os.path.splitext(filename)[0]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == path:
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ResolveError(f"cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_inputs(spec: TargetSpec, seed: int) -> tuple[budget.Held, bool]:
    """The inputs (a sequence as it is, an iterator read into a reservoir), and whether
    they came from calling a function."""
    value = _load_attribute(spec, what="--inputs-from")
    called = callable(value)
    if called:
        try:
            value = value()
        except Exception as exc:
            raise ResolveError(f"--inputs-from {spec.text!r} raised {type(exc).__name__}: "
                               f"{exc}", "target", user_traceback(exc)) from None
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise ResolveError(f"--inputs-from {spec.text!r} gave {type(value).__name__}, "
                           "not an iterable: return a list of inputs")
    try:
        held = budget.hold(value, seed)
    except Exception as exc:
        raise ResolveError(f"reading --inputs-from {spec.text!r} raised "
                           f"{type(exc).__name__}: {exc}", "target",
                           user_traceback(exc)) from None
    if not held.total:
        raise ResolveError(f"--inputs-from {spec.text!r} gave no items")
    return held, called
