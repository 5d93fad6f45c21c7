"""The loop of the user's program, rewritten to run its repeated call on the advised
executor, with the program's own names.

Every call is started first (submitted to a pool, or gathered as asyncio tasks under a
semaphore), in the order of the items; then the loop's body (or the comprehension's
element) runs with each call's result in place of the call. Which loops allow that, and
the loop cut at its call, are :mod:`concdoctor.program.loopshape`'s. Each executor's
writer is named by its registry entry (``loop_writer``).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from concdoctor.conclude.snippet import COMMENT_WIDTH
from concdoctor.executors import Executor
from concdoctor.program.loopshape import Loop, find_loop
from concdoctor.program.sourcetext import fresh

_DASK_OWN = ("key", "workers", "resources", "retries", "priority", "fifo_timeout",
             "allow_other_workers", "actor", "actors", "pure")
"""Keywords ``Client.submit`` takes for itself: a call passing one cannot go through it."""


@dataclass(frozen=True)
class LoopSnippet:
    imports: tuple[str, ...]
    """Lines to add at the top of the file."""
    before: str
    after: str
    """The replacement, at the loop's indentation, ready to paste over ``before``."""
    first_line: int
    last_line: int
    note: str | None


def loop_snippet(source: str, loop_line: int, call_line: int, func_name: str,
                 executor: Executor, workers: int, *, python: str) -> LoopSnippet | str:
    """The rewrite for this executor (by its ``loop_writer``), or why there is none."""
    writer = executor.write_loop()
    if writer is None:
        return f"{executor.label} has no loop rewrite: apply its snippet to the call"
    loop = find_loop(source, loop_line, call_line, func_name)
    if isinstance(loop, str):
        return loop
    if executor.needs_coroutine and not loop.awaited:
        return f"{executor.label} needs an async def function awaited here: {loop.func} is not"
    if loop.awaited and not executor.needs_coroutine:
        return (f"the call is awaited: a {executor.label} runs plain functions; apply the "
                "function snippet, which runs each call with asyncio.run")
    return writer(loop, executor, workers, python)


def pool_loop(loop: Loop, executor: Executor, workers: int, python: str) -> LoopSnippet | str:
    """The executor's ``pool_class`` in a ``with``: every call submitted, then the body."""
    module, _, pool_class = executor.pool_class.partition(":")
    source = f"from {module} import {pool_class}"
    if pool_class == "InterpreterPoolExecutor" and _version(python) < (3, 14):
        source = "from interpreters_backport.concurrent.futures import InterpreterPoolExecutor"
    pool = fresh(loop.taken, "pool")
    lines = [f"with {pool_class}(max_workers={workers}) as {pool}:",
             *_indented(_submitted(loop, f"{pool}.submit", width=4))]
    note = _guard_note(loop) if executor.ships else None
    return _snippet(loop, (source,), lines, note)


def loky_loop(loop: Loop, executor: Executor, workers: int, python: str) -> LoopSnippet | str:
    """loky's reusable executor: no ``with`` (it is reused) and no guard (its workers are
    fresh interpreters that never run ``__main__``)."""
    if "fn" in loop.keywords:
        return "the call passes `fn=`, which loky's submit takes for the function itself"
    pool = fresh(loop.taken, "pool")
    why = ("loky ships the function and its arguments by value (cloudpickle) and starts its "
           "workers as fresh interpreters that do not run __main__ again: no main-module "
           "guard is needed, and a closure or a function of __main__ reaches them. "
           "pip install loky")
    lines = [*_comment(why, loop),
             f"{pool} = get_reusable_executor(max_workers={workers})  # reused later",
             *_submitted(loop, f"{pool}.submit", width=0)]
    return _snippet(loop, ("from loky import get_reusable_executor",), lines)


def dask_loop(loop: Loop, executor: Executor, workers: int, python: str) -> LoopSnippet | str:
    """A local dask cluster: ``client.submit(..., pure=False)`` (every call runs, even with
    equal arguments), then each future's result."""
    clash = [name for name in loop.keywords if name in _DASK_OWN]
    if clash:
        return f"the call passes `{clash[0]}=`, which client.submit takes for itself"
    client = fresh(loop.taken, "client")
    lines = ["# a cluster on this machine; give a scheduler's address to use yours",
             f"with Client(n_workers={workers}, threads_per_worker=1) as {client}:",
             *_indented(_submitted(loop, f"{client}.submit", ("pure=False",), width=4))]
    note = ('the program must reach these lines only under its `if __name__ == "__main__":` '
            "guard: the cluster's workers start with spawn and import the main module again")
    return _snippet(loop, ("from dask.distributed import Client",), lines, note)


def asyncio_loop(loop: Loop, executor: Executor, workers: int,
                 python: str) -> LoopSnippet | str:
    """Every awaited call as a task of ``asyncio.gather``, at most ``workers`` in flight."""
    if not loop.parameters:
        return "the loop's target is not plain names: asyncio's per-item function takes them"
    semaphore, one, items, result = (fresh(loop.taken, name)
                                     for name in ("semaphore", "one", "items", "result"))
    names = ", ".join(loop.parameters)
    lines = [f"{semaphore} = asyncio.Semaphore({workers})  # at most {workers} in flight", "",
             f"async def {one}({names}):", f"    async with {semaphore}:",
             f"        return await {loop.func}({', '.join(loop.arguments)})", ""]

    def gathered(over: str) -> str:
        return f"await asyncio.gather(*({one}({names}) for {loop.target} in {over}))"

    if loop.kind == "for":
        lines += [f"{items} = list({loop.items})",
                  f"for {loop.target}, {result} in zip({items}, {gathered(items)}):",
                  *_indented(_body(loop, result))]
    elif loop.uses_target:
        clause = f"for {loop.target}, {result} in zip({items}, {gathered(items)})"
        lines += [f"{items} = list({loop.items})", *_statement(loop, clause, result)]
    else:
        lines += _statement(loop, f"for {result} in {gathered(loop.items)}", result)
    return _snippet(loop, ("import asyncio",), lines)


def _submitted(loop: Loop, submit: str, extra: tuple[str, ...] = (), *,
               width: int) -> list[str]:
    """Every call submitted, in the items' order, then the body (or the statement) with
    each future's result for its call; ``width``: the indentation the lines go under."""
    items, futures, future = (fresh(loop.taken, name) for name in ("items", "futures", "future"))
    call = f"{submit}({', '.join((loop.func, *loop.arguments, *extra))})"
    value = f"{future}.result()"
    room = COMMENT_WIDTH - len(loop.indent) - width
    if loop.kind == "for":
        return [f"{items} = list({loop.items})",
                *_listing(futures, call, f"for {loop.target} in {items}", room),
                f"for {loop.target}, {future} in zip({items}, {futures}):",
                *_indented(_body(loop, value))]
    if loop.uses_target:
        clause = f"for {loop.target}, {future} in zip({items}, {futures})"
        return [f"{items} = list({loop.items})",
                *_listing(futures, call, f"for {loop.target} in {items}", room),
                *_statement(loop, clause, value)]
    return [*_listing(futures, call, f"for {loop.target} in {loop.items}", room),
            *_statement(loop, f"for {future} in {futures}", value)]


def _listing(name: str, element: str, clause: str, room: int) -> list[str]:
    line = f"{name} = [{element} {clause}]"
    if len(line) <= room:
        return [line]
    return [f"{name} = [", f"    {element}", f"    {clause}", "]"]


def _body(loop: Loop, value: str) -> list[str]:
    head, tail = loop.around
    return f"{head}{value}{tail}".split("\n")


def _statement(loop: Loop, clause: str, value: str) -> list[str]:
    """The comprehension's statement, with the comprehension now over the results."""
    head, tail = loop.around
    opening, closing = ("{", "}") if loop.kind in ("set", "dict") else ("[", "]")
    comprehension = f"{opening}{head}{value}{tail} {clause}{closing}"
    lines: list[str] = []
    if loop.kind == "generator":
        comprehension = f"({comprehension})"
        lines = _comment("the generator expression is now a list: every call runs, even "
                         "where what reads it would have stopped early", loop)
    return [*lines, *f"{loop.statement[0]}{comprehension}{loop.statement[1]}".split("\n")]


def _snippet(loop: Loop, imports: tuple[str, ...], lines: list[str],
             note: str | None = None) -> LoopSnippet:
    physical = "\n".join(lines).split("\n")
    after = "".join(f"{loop.indent}{line}\n" if line.strip() else "\n" for line in physical)
    if not loop.before.endswith(("\n", "\r")):
        after = after.rstrip("\n")
    return LoopSnippet(imports, loop.before, after, loop.first_line, loop.last_line, note)


def _guard_note(loop: Loop) -> str:
    return (f'the program must reach these lines only under its `if __name__ == "__main__":` '
            "guard (spawn and forkserver workers import the main module again), and "
            f"{loop.func} must be importable by name: defined at module level")


def _comment(text: str, loop: Loop) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, COMMENT_WIDTH - 6 - len(loop.indent))]


def _indented(lines: list[str]) -> list[str]:
    return [f"    {line}" if line.strip() else "" for text in lines for line in text.split("\n")]


def _version(python: str) -> tuple[int, int]:
    """``"3.13.1"`` as ``(3, 13)``; unreadable: taken as new."""
    parts = python.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 99, 0
