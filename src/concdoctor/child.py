"""The child runner: the only process that imports and calls the user's code.

Started by :mod:`concdoctor.runner` either as ``python -m concdoctor.child JOB CMD MSG``
(a target named on the command line) or by ``fork`` (a callable handed to the pytest
fixture). It speaks JSON lines: commands arrive on fd CMD, events leave on fd MSG, so the
target's own stdout and stderr stay free for it to print on.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import inspect
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from concdoctor import executors, tracing

PR_SET_PTRACER = 0x59616D61


@dataclass
class Channel:
    commands: Any
    events: Any

    def send(self, event: str, **fields: Any) -> None:
        self.events.write(json.dumps({"event": event, **fields}, default=repr) + "\n")
        self.events.flush()

    def receive(self) -> dict[str, Any]:
        line = self.commands.readline()
        if not line:
            return {"cmd": "exit"}
        return json.loads(line)


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
    input_source: str


def allow_tracer(pid: int) -> None:
    """Let ``pid`` and its descendants (the py-spy samplers) read this process under Yama
    ptrace_scope 1. Where Yama is absent prctl fails with EINVAL: nothing is needed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0)
    except (OSError, AttributeError):
        pass


# -- resolution -------------------------------------------------------------------------

def resolve_job(job: dict[str, Any]) -> Resolved:
    for entry in reversed(job.get("extra_sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    func = _load_attribute(job["target"], what="target")
    if not callable(func):
        raise ResolveError(f"target {job['target']['text']!r} is {type(func).__name__}, "
                           "not a function: name a callable after the ':'")
    spec = job["inputs"]
    if spec["repeat"] is not None:
        items: list[Any] = [None] * int(spec["repeat"])
        source = "repeat"
    elif spec["source"] is not None:
        items, source = _load_inputs(spec["source"]), "inputs_from"
    else:
        items, source = list(spec["items"]), "inputs"
    return Resolved(make_task(func, pass_item=source != "repeat"), items, source)


def make_task(func: Callable[..., Any], *, pass_item: bool) -> executors.Task:
    _check_signature(func, pass_item)
    is_coroutine = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None))
    return executors.Task(func, pass_item=pass_item, is_coroutine=is_coroutine)


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


def _load_attribute(spec: dict[str, Any], *, what: str) -> Any:
    module = _import(spec, what=what)
    value: Any = module
    for part in spec["attribute"].split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            names = sorted(n for n, v in vars(module).items()
                           if callable(v) and not n.startswith("_"))[:12]
            raise ResolveError(
                f"{what} {spec['text']!r}: {module.__name__!r} has no attribute "
                f"{spec['attribute']!r}; it has: {', '.join(names) or 'no public callables'}"
            ) from None
    return value


def _import(spec: dict[str, Any], *, what: str) -> Any:
    try:
        if spec["path"]:
            return _import_path(spec["path"])
        return importlib.import_module(spec["module"])
    except ResolveError:
        raise
    except ModuleNotFoundError as exc:
        wanted = spec["module"] or ""
        if exc.name and (wanted == exc.name or wanted.startswith(exc.name + ".")):
            raise ResolveError(
                f"{what} {spec['text']!r}: module {exc.name!r} not found; run from the "
                "directory that contains it, install it, or use path/to/file.py:func"
            ) from None
        raise ResolveError(f"importing {what} {spec['text']!r} failed: {exc}",
                           "target", traceback.format_exc()) from None
    except SyntaxError as exc:
        raise ResolveError(
            f"{what} {spec['text']!r}: syntax error in {exc.filename}:{exc.lineno}: {exc.msg}; "
            "fix the file and run again"
        ) from None
    except BaseException as exc:  # the module's own code raised while importing
        raise ResolveError(f"importing {what} {spec['text']!r} raised "
                           f"{type(exc).__name__}: {exc}", "target",
                           traceback.format_exc()) from None


def _import_path(path: str) -> Any:
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


def _load_inputs(spec: dict[str, Any]) -> list[Any]:
    value = _load_attribute(spec, what="--inputs-from")
    if callable(value):
        try:
            value = value()
        except Exception as exc:
            raise ResolveError(f"--inputs-from {spec['text']!r} raised {type(exc).__name__}: "
                               f"{exc}", "target", traceback.format_exc()) from None
    try:
        items = list(value)
    except TypeError:
        raise ResolveError(f"--inputs-from {spec['text']!r} gave {type(value).__name__}, "
                           "not an iterable: return a list of inputs") from None
    if not items:
        raise ResolveError(f"--inputs-from {spec['text']!r} gave no items")
    return items


# -- phases -----------------------------------------------------------------------------

def _concdoctor_wait(channel: Channel) -> dict[str, Any]:
    """Every wait for the parent goes through this frame: py-spy samples in it are not
    the task's, even when a non-blocking read truncates the stack above it."""
    return channel.receive()


def _concdoctor_task(task: executors.Task, item: Any, loop: Any) -> Any:
    """Every baseline call goes through this frame: samples outside it are not the task's."""
    if loop is not None:
        return loop.run_until_complete(task.coroutine(item))
    return task(item)


def _thread_counters() -> tuple[float, int, int, float]:
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    delay = 0.0
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as handle:
            delay = int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    return time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw, delay


def run_baseline(channel: Channel, resolved: Resolved) -> Any:
    task, items = resolved.task, resolved.items
    loop = None
    if task.is_coroutine:
        import asyncio
        loop = asyncio.new_event_loop()
    walls: list[float] = []
    first_result: Any = None
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    thread0 = _thread_counters()
    start = time.perf_counter()
    for index, item in enumerate(items):
        t0 = time.perf_counter()
        try:
            result = _concdoctor_task(task, item, loop)
        except BaseException as exc:
            channel.send("error", category="raised", phase="baseline", index=index,
                         input=_short_repr(item), message=f"{type(exc).__name__}: {exc}",
                         detail=_user_traceback(exc))
            return None
        walls.append(time.perf_counter() - t0)
        if index == 0:
            first_result = result
    wall = time.perf_counter() - start
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    thread1 = _thread_counters()
    channel.send(
        "baseline", wall_seconds=wall, task_seconds=walls,
        cpu_seconds=(self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime),
        thread_cpu_seconds=thread1[0] - thread0[0], voluntary_switches=thread1[1] - thread0[1],
        involuntary_switches=thread1[2] - thread0[2], run_delay_seconds=thread1[3] - thread0[3],
        process_problem=(executors.pickling_problem(task, items)
                         or executors.result_pickling_problem(first_result)),
    )
    if loop is not None:
        loop.close()
    return first_result


def run_trial(channel: Channel, resolved: Resolved, command: dict[str, Any]) -> None:
    executor = command["executor"]
    try:
        seconds = executors.run_batch(executor, resolved.task, resolved.items,
                                      workers=int(command["workers"]),
                                      chunksize=int(command.get("chunksize", 1)))
    except executors.ExecutorUnavailable as exc:
        channel.send("trial", executor=executor, skipped=str(exc))
        return
    except BaseException as exc:
        channel.send("error", category="raised", phase=f"confirm:{executor}",
                     message=f"{type(exc).__name__}: {exc}", detail=_user_traceback(exc))
        return
    channel.send("trial", executor=executor, seconds=seconds)


def run_profile(channel: Channel, resolved: Resolved, command: dict[str, Any]) -> None:
    task = resolved.task
    result = tracing.profile_tasks(task, resolved.items, budget=float(command["budget"]))
    channel.send("yappi", **result)


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _user_traceback(exc: BaseException) -> str:
    """The traceback with concdoctor's own frames removed: the user's code is the story."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(os.path.dirname(__file__))]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


# -- entry points -----------------------------------------------------------------------

def serve(channel: Channel, resolve: Callable[[], Resolved]) -> None:
    """Resolve, report readiness, then obey commands until told to exit."""
    try:
        resolved = resolve()
    except ResolveError as exc:
        channel.send("error", category=exc.category, phase="resolve", message=str(exc),
                     detail=exc.detail)
        return
    channel.send("ready", pid=os.getpid(), thread_id=threading.get_native_id(),
                 thread_ident=threading.get_ident(), tasks=len(resolved.items),
                 is_coroutine=resolved.task.is_coroutine, input_source=resolved.input_source,
                 start_method=executors.start_method())
    while True:
        command = _concdoctor_wait(channel)
        name = command.get("cmd")
        if name == "baseline":
            run_baseline(channel, resolved)
        elif name == "trial":
            run_trial(channel, resolved, command)
        elif name == "yappi":
            run_profile(channel, resolved, command)
            return  # a yappi pass may leave a task running: only exiting ends it
        else:
            return


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    job_path, cmd_fd, msg_fd = args[0], int(args[1]), int(args[2])
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    allow_tracer(os.getppid())
    channel = Channel(os.fdopen(cmd_fd, "r", encoding="utf-8"),
                      os.fdopen(msg_fd, "w", encoding="utf-8"))
    try:
        serve(channel, lambda: resolve_job(job))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
