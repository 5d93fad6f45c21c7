"""The loop of the user's program, rewritten to run its repeated call on the advised executor.

``concdoctor run`` knows a call site (the caller's file, the loop's line, the call's line
and the function's name); the report shows the lines that replace that loop, with the
program's own names. The ``ast`` of the file says what the loop is: a ``for`` statement
whose body makes the call, or a comprehension whose element does. Every call is then
started first (submitted to a pool, or gathered as asyncio tasks under a semaphore) and
the loop's body (or the comprehension's element) runs afterwards with each call's
result in place of the call, in the order of the items.

That is the same program only when each call's arguments are known before the body
runs and the loop makes the call once for every item: so a loop whose call sits under an
``if``, whose arguments use a name the body computes, or whose body can stop early
(``break``, ``return``, ``raise``, ``continue``, ``yield``) is refused, in one line that
says why. The text of the loop is kept where it can be (comments included): the call is
cut out of it by the ``ast``'s positions and the lines re-indented; a region holding a
string that spans lines, whose content re-indenting would change, is written with
``ast.unparse`` instead.
"""

from __future__ import annotations

import ast
import copy
import io
import itertools
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from concdoctor.conclude.snippet import COMMENT_WIDTH
from concdoctor.executors import Executor

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_KINDS = {ast.ListComp: "list", ast.SetComp: "set", ast.DictComp: "dict",
          ast.GeneratorExp: "generator"}
_Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
_AnyLoop = ast.For | ast.AsyncFor | ast.While | _Comprehension
_COMPOUND = {getattr(ast, name): word for name, word in (
    ("If", "if"), ("For", "for"), ("AsyncFor", "async for"), ("While", "while"),
    ("With", "with"), ("AsyncWith", "async with"), ("Try", "try"), ("TryStar", "try"),
    ("Match", "match"), ("FunctionDef", "def"), ("AsyncFunctionDef", "async def"),
    ("ClassDef", "class")) if hasattr(ast, name)}
_DASK_OWN = ("key", "workers", "resources", "retries", "priority", "fifo_timeout",
             "allow_other_workers", "actor", "actors", "pure")
"""Keywords ``Client.submit`` takes for itself: a call passing one cannot go through it."""


@dataclass(frozen=True)
class Loop:
    """A loop of the program whose call can be split out, parsed.

    Texts are as written, re-indented as if the replaced statement sat at column 0.
    """

    first_line: int
    last_line: int
    indent: str
    before: str
    """The original text of lines ``first_line`` to ``last_line``, exactly as in the file."""
    kind: str
    """``"for"``, or the comprehension's: ``"list"``, ``"set"``, ``"dict"``, ``"generator"``."""
    target: str
    """The loop variable(s), tuples in parentheses: ``page``, ``(i, url)``."""
    parameters: tuple[str, ...]
    """The target's names, when it binds only names (asyncio's function takes them)."""
    items: str
    func: str
    """The function called, as written: ``fetch``, ``self.fetch``."""
    arguments: tuple[str, ...]
    """Its arguments as written: ``url``, ``*rest``, ``timeout=3``, ``**options``."""
    keywords: tuple[str, ...]
    awaited: bool
    around: tuple[str, str]
    """The body (of a ``for``) or the element (of a comprehension), cut at the call."""
    statement: tuple[str, str]
    """The statement holding a comprehension, cut at it; empty for a ``for``."""
    uses_target: bool
    """The comprehension's element uses the target beyond the call."""
    taken: frozenset[str]
    """Every name of the file: the rewrite's own names must not rebind one."""


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


def find_loop(source: str, loop_line: int, call_line: int, func_name: str) -> Loop | str:
    """The loop starting at ``loop_line`` whose body calls ``func_name`` (a name, or an
    attribute's last part) on ``call_line``; or, in one line, why it cannot be rewritten
    safely."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return f"the source does not parse: {error.msg} (line {error.lineno})"
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    spanning = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and _called(node.func) == func_name
                and node.lineno <= call_line <= (node.end_lineno or node.lineno)]
    calls = [node for node in spanning if node.lineno == call_line] or spanning
    if not calls:
        return f"no call of {func_name} on line {call_line}"
    if len(calls) > 1:
        return f"{func_name} is called {len(calls)} times on line {call_line}: which one repeats?"
    call = calls[0]
    loop = _loop_around(call, loop_line, parents)
    if loop is None:
        return f"no loop on line {loop_line} around the call of {func_name} on line {call_line}"
    hole: ast.expr = parents[call] if isinstance(parents[call], ast.Await) else call
    text = _Source(source, _names(tree))
    if isinstance(loop, ast.For):
        return _for_loop(text, loop, call, hole, parents)
    if isinstance(loop, (ast.AsyncFor, ast.While)):
        word = _COMPOUND[type(loop)]
        return (f"the loop is {_a(word)} `{word}`: its items are not known before it runs; "
                "apply the function snippet")
    return _comprehension(text, loop, call, hole, parents)


def pool_loop(loop: Loop, executor: Executor, workers: int, python: str) -> LoopSnippet | str:
    """The executor's ``pool_class`` in a ``with``: every call submitted, then the body."""
    module, _, pool_class = executor.pool_class.partition(":")
    source = f"from {module} import {pool_class}"
    if pool_class == "InterpreterPoolExecutor" and _version(python) < (3, 14):
        source = "from interpreters_backport.concurrent.futures import InterpreterPoolExecutor"
    pool = _fresh(loop.taken, "pool")
    lines = [f"with {pool_class}(max_workers={workers}) as {pool}:",
             *_indented(_submitted(loop, f"{pool}.submit", width=4))]
    note = _guard_note(loop) if executor.ships else None
    return _snippet(loop, (source,), lines, note)


def loky_loop(loop: Loop, executor: Executor, workers: int, python: str) -> LoopSnippet | str:
    """loky's reusable executor: no ``with`` (it is reused) and no guard (its workers are
    fresh interpreters that never run ``__main__``)."""
    if "fn" in loop.keywords:
        return "the call passes `fn=`, which loky's submit takes for the function itself"
    pool = _fresh(loop.taken, "pool")
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
    client = _fresh(loop.taken, "client")
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
    semaphore, one, items, result = (_fresh(loop.taken, name)
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


def _for_loop(text: _Source, loop: ast.For, call: ast.Call, hole: ast.expr,
              parents: dict[ast.AST, ast.AST]) -> Loop | str:
    if loop.orelse:
        return ("the loop has an `else:`, which runs only when no `break` stopped it; "
                "rewrite it by hand")
    if not _within(call, loop.body, parents):
        return "the call is in the loop's header, which runs once"
    statement = next(node for node in loop.body if _within(call, [node], parents))
    if type(statement) in _COMPOUND:
        word = _COMPOUND[type(statement)]
        return (f"the call is inside {_a(word)} `{word}` in the loop: its arguments may not be "
                "computed for every item; move it out or apply the function snippet")
    reason = _unconditional(call, statement, parents) or _jump(loop.body)
    if reason:
        return reason
    targets = {node.id for node in ast.walk(loop.target) if isinstance(node, ast.Name)}
    index = loop.body.index(statement)
    computed = (_bound(loop.body) - targets) | (_bound(loop.body[:index]) & targets)
    used = sorted({node.id for node in ast.walk(call) if isinstance(node, ast.Name)} & computed)
    if used:
        names = ", ".join(f"`{name}`" for name in used)
        return (f"the call's arguments use {names}, computed in the loop body: the calls "
                "cannot all start before it runs; apply the function snippet")
    first = loop.body[0]
    indent, start = "", _start(first)
    header = loop.iter.end_lineno or loop.lineno
    if first.lineno > header:  # from the line after the header: the comments above it too
        indent, start = text.indent(first.lineno), (header + 1, 0)
    if text.needs_unparse(loop.body, hole):
        around = text.unparse(ast.Module(body=loop.body, type_ignores=[]), hole)
    else:
        head, tail = text.cut(start, text.line_end(loop.end_lineno or loop.lineno), hole,
                              indent)  # to the end of the line: its comment too
        around = head.lstrip("\n"), tail
    return _loop(text, loop, loop, call, hole, kind="for", around=around,
                 statement=("", ""), uses_target=True)


def _comprehension(text: _Source, comp: _Comprehension, call: ast.Call, hole: ast.expr,
                   parents: dict[ast.AST, ast.AST]) -> Loop | str:
    generators = comp.generators
    if len(generators) > 1:
        return (f"the comprehension has {len(generators)} `for` clauses: rewrite it by hand "
                "or apply the function snippet")
    clause = generators[0]
    if clause.ifs:
        return ("the comprehension has an `if` clause: its call is not made for every item; "
                "rewrite it by hand or apply the function snippet")
    if clause.is_async:
        return "the comprehension is an `async for`: its items are not known before it runs"
    element = [comp.key, comp.value] if isinstance(comp, ast.DictComp) else [comp.elt]
    if not _within(call, element, parents):
        return "the call is in the comprehension's iterable, which runs once"
    statement = parents[comp]
    while not isinstance(statement, ast.stmt):
        statement = parents[statement]
    if type(statement) in _COMPOUND:
        word = _COMPOUND[type(statement)]
        return (f"the comprehension is in the header of {_a(word)} `{word}` statement: "
                "rewrite it by hand or apply the function snippet")
    reason = (_unconditional(call, comp, parents)
              or _unconditional(comp, statement, parents, what="the comprehension"))
    if reason:
        return reason
    if not text.alone(statement):
        return "the comprehension's statement shares its line with another: split the line"
    targets = {node.id for node in ast.walk(clause.target) if isinstance(node, ast.Name)}
    uses_target = not _plain(clause.target) or any(
        isinstance(node, ast.Name) and node.id in targets
        for part in element for node in _walk_outside(part, call))
    indent = text.indent(statement.lineno)
    if text.needs_unparse(element, hole):
        around = _unparsed_element(text, element, hole)
    else:
        around = text.cut(_start(element[0]), _end(element[-1]), hole, indent)
    if text.needs_unparse([statement], comp):
        cut = text.unparse(statement, comp)
    else:
        cut = text.cut(_start(statement), text.line_end(statement.end_lineno or 0), comp,
                       indent)  # alone on its lines: what follows it is a comment
    return _loop(text, statement, clause, call, hole, kind=_KINDS[type(comp)], around=around,
                 statement=cut, uses_target=uses_target)


def _loop(text: _Source, replaced: ast.stmt, clause: ast.For | ast.comprehension,
          call: ast.Call, hole: ast.expr, *, kind: str, around: tuple[str, str],
          statement: tuple[str, str], uses_target: bool) -> Loop:
    target = clause.target
    names = tuple(dict.fromkeys(node.id for node in ast.walk(target)
                                if isinstance(node, ast.Name)))
    arguments = [text.code(argument) for argument in call.args] + [
        f"{keyword.arg}={text.code(keyword.value)}" if keyword.arg
        else f"**{text.code(keyword.value)}" for keyword in call.keywords]
    items = text.code(clause.iter)
    if not isinstance(clause.iter, _ATOMS):
        items = f"({items})"  # `a if c else b` after a comprehension's `in` would be an `if`
    last = replaced.end_lineno or replaced.lineno
    return Loop(first_line=replaced.lineno, last_line=last, indent=text.indent(replaced.lineno),
                before=text.between(replaced.lineno, last), kind=kind,
                target=ast.unparse(target), parameters=names if _plain(target) else (),
                items=items, func=text.code(call.func), arguments=tuple(arguments),
                keywords=tuple(keyword.arg for keyword in call.keywords if keyword.arg),
                awaited=hole is not call, around=around, statement=statement,
                uses_target=uses_target, taken=text.taken)


_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Dict, ast.Set,
          ast.Constant, ast.JoinedStr, *_KINDS)


class _Source:
    """The file's text, addressed the way the ``ast`` addresses it (UTF-8 byte columns)."""

    def __init__(self, source: str, taken: frozenset[str]) -> None:
        self.source = source
        self.taken = taken
        self.lines = io.StringIO(source, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, column: int) -> int:
        text = self.lines[line - 1]
        return self.starts[line - 1] + len(text.encode()[:column].decode(errors="replace"))

    def indent(self, line: int) -> str:
        text = self.lines[line - 1]
        return text[:len(text) - len(text.lstrip(" \t"))]

    def line_end(self, line: int) -> tuple[int, int]:
        return line, len(self.lines[line - 1].rstrip("\r\n").encode())

    def between(self, first: int, last: int) -> str:
        return "".join(self.lines[first - 1:last])

    def alone(self, node: ast.stmt) -> bool:
        """Nothing but the statement (and a comment) on its lines."""
        head = self.source[self.starts[node.lineno - 1]:self.offset(*_start(node))]
        end = node.end_lineno or node.lineno
        tail = self.source[self.offset(*_end(node)):self.starts[end]].strip()
        return not head.strip() and (not tail or tail.startswith("#"))

    def code(self, node: ast.expr) -> str:
        if self.needs_unparse([node]):
            return ast.unparse(node)
        text = self.source[self.offset(*_start(node)):self.offset(*_end(node))]
        return _dedent(text, self.indent(node.lineno))

    def cut(self, start: tuple[int, int], end: tuple[int, int], hole: ast.expr,
            indent: str) -> tuple[str, str]:
        """The text from ``start`` to ``end`` without ``hole``: what comes before it and
        after it."""
        head = self.source[self.offset(*start):self.offset(*_start(hole))]
        tail = self.source[self.offset(*_end(hole)):self.offset(*end)]
        if start[1] == 0:  # a line start: its first line moves left too
            return _dedent("\n" + head, indent)[1:], _dedent(tail, indent)
        return _dedent(head, indent), _dedent(tail, indent)

    def unparse(self, node: ast.AST, hole: ast.AST) -> tuple[str, str]:
        """``node`` written by ``ast.unparse``, cut at ``hole``."""
        if node is hole:
            return "", ""
        twin = copy.deepcopy(node)
        mark = _fresh(self.taken, "concdoctor_result")
        for original, copied in zip(ast.walk(node), ast.walk(twin)):
            if original is hole:
                _swap(twin, copied, ast.Name(id=mark, ctx=ast.Load()))
        head, _, tail = ast.unparse(twin).partition(mark)
        return head, tail

    def needs_unparse(self, nodes: Iterable[ast.AST], hole: ast.AST | None = None) -> bool:
        """A string spanning lines (re-indenting would change it), or the hole inside an
        f-string (whose inner positions older Pythons get wrong)."""
        pending = list(nodes)
        while pending:
            node = pending.pop()
            if node is hole:
                continue
            spans = (getattr(node, "end_lineno", 0) or 0) > getattr(node, "lineno", 0)
            if isinstance(node, ast.JoinedStr):
                if spans or any(inner is hole for inner in ast.walk(node)):
                    return True
                continue
            if spans and isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                return True
            pending.extend(ast.iter_child_nodes(node))
        return False


def _unparsed_element(text: _Source, element: list[ast.expr],
                      hole: ast.AST) -> tuple[str, str]:
    if len(element) == 1:
        return text.unparse(element[0], hole)
    key, value = element
    if any(node is hole for node in ast.walk(key)):
        head, tail = text.unparse(key, hole)
        return head, f"{tail}: {ast.unparse(value)}"
    head, tail = text.unparse(value, hole)
    return f"{ast.unparse(key)}: {head}", tail


def _submitted(loop: Loop, submit: str, extra: tuple[str, ...] = (), *,
               width: int) -> list[str]:
    """Every call submitted, in the items' order, then the body (or the statement) with
    each future's result for its call; ``width``: the indentation the lines go under."""
    items, futures, future = (_fresh(loop.taken, name) for name in ("items", "futures", "future"))
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


def _dedent(text: str, indent: str) -> str:
    """``text``'s lines after the first moved left by ``indent`` (a line indented less, a
    comment or a continuation inside brackets, to column 0)."""
    first, *rest = re.split(r"\r\n?|\n", text)
    return "\n".join([first, *("" if not line.strip() else line[len(indent):]
                                if line.startswith(indent) else line.lstrip() for line in rest)])


def _loop_around(call: ast.Call, loop_line: int,
                 parents: dict[ast.AST, ast.AST]) -> _AnyLoop | None:
    """The innermost loop around the call starting on ``loop_line``; else the innermost
    comprehension spanning it (before Python 3.12 the recorder gives a comprehension's
    line as the call's)."""
    loops: list[_AnyLoop] = []
    node = parents.get(call)
    while node is not None:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, *_KINDS)):
            loops.append(node)
        node = parents.get(node)
    return next((node for node in loops if node.lineno == loop_line), None) or next(
        (node for node in loops if isinstance(node, tuple(_KINDS))
         and node.lineno <= loop_line <= (node.end_lineno or 0)), None)


def _unconditional(node: ast.AST, upto: ast.AST, parents: dict[ast.AST, ast.AST],
                   what: str = "the call") -> str | None:
    """Why ``node`` may not be evaluated whenever ``upto`` is, or None."""
    child = node
    while (parent := parents[child]) is not upto:
        where = _condition(parent, child)
        if where:
            return (f"{what} is {where}: it may not run once for every item; move it out "
                    "or apply the function snippet")
        child = parent
    return None


def _condition(parent: ast.AST, child: ast.AST) -> str | None:
    if isinstance(parent, _SCOPES):
        return "inside a lambda"
    if isinstance(parent, tuple(_KINDS)):
        return "inside another comprehension"
    if isinstance(parent, ast.IfExp) and child is not parent.test:
        return "in a branch of a conditional expression (`a if c else b`)"
    if isinstance(parent, ast.BoolOp) and child is not parent.values[0]:
        return f"after an `{'and' if isinstance(parent.op, ast.And) else 'or'}`"
    if isinstance(parent, ast.Compare) and child in parent.comparators[1:]:
        return "in a chained comparison"
    return None


def _jump(body: list[ast.stmt]) -> str | None:
    """Why the loop may stop or skip before its last item (``break``, ``return``...)."""
    found: list[tuple[int, str]] = []
    pending: list[tuple[ast.AST, bool]] = [(node, False) for node in body]
    while pending:
        node, nested = pending.pop()
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, (ast.Break, ast.Continue)) and not nested:
            found.append((node.lineno, "break" if isinstance(node, ast.Break) else "continue"))
        elif isinstance(node, (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom)):
            word = {ast.Return: "return", ast.Raise: "raise", ast.Yield: "yield",
                    ast.YieldFrom: "yield from"}[type(node)]
            found.append((node.lineno, word))
        inner = getattr(node, "body", ()) if isinstance(node, (ast.For, ast.While)) else ()
        pending += [(child, nested or child in inner) for child in ast.iter_child_nodes(node)]
    if not found:
        return None
    line, word = min(found)
    return (f"the loop body has a `{word}` (line {line}): the rewrite would make the calls "
            "of items the loop skips or never reaches; apply the function snippet")


def _bound(statements: list[ast.stmt]) -> set[str]:
    """The names these statements assign (or whose attributes or items they set)."""
    found: set[str] = set()
    pending: list[ast.AST] = list(statements)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) and not isinstance(
                node.ctx, ast.Load):
            root: ast.AST = node
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name):
                found.add(root.id)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        if isinstance(node, ast.comprehension):  # its target is the comprehension's own
            pending += [node.iter, *node.ifs]
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _names(tree: ast.AST) -> frozenset[str]:
    """Every name the file binds or reads."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.alias):
            found.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.update(node.names)
        else:  # a def's or class's name, an except's `as`, a match's captures
            found.update(value for field in ("name", "rest")
                         if isinstance(value := getattr(node, field, None), str))
    return frozenset(found)


def _fresh(taken: frozenset[str], name: str) -> str:
    """``name``, or ``name_``, ``name_2``...: the first the program does not use."""
    candidates = itertools.chain((name, f"{name}_"), (f"{name}_{n}" for n in itertools.count(2)))
    return next(candidate for candidate in candidates if candidate not in taken)


def _within(node: ast.AST, roots: list[ast.AST] | list[ast.stmt] | list[ast.expr],
            parents: dict[ast.AST, ast.AST]) -> bool:
    ancestor: ast.AST | None = node
    while ancestor is not None:
        if any(ancestor is root for root in roots):
            return True
        ancestor = parents.get(ancestor)
    return False


def _walk_outside(node: ast.AST, skip: ast.AST) -> Iterable[ast.AST]:
    """The nodes under ``node`` but those under ``skip``."""
    pending = [node]
    while pending:
        each = pending.pop()
        if each is not skip:
            yield each
            pending.extend(ast.iter_child_nodes(each))


def _swap(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for node in ast.walk(root):
        for field, value in ast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
            elif isinstance(value, list):
                value[:] = [new if item is old else item for item in value]


def _plain(target: ast.expr) -> bool:
    """The target binds names only (``page``, ``i, (a, b)``)."""
    return all(isinstance(node, (ast.Name, ast.Tuple, ast.List, ast.expr_context))
               for node in ast.walk(target))


def _called(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _start(node: ast.expr | ast.stmt) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _end(node: ast.expr | ast.stmt) -> tuple[int, int]:
    return node.end_lineno or node.lineno, node.end_col_offset or node.col_offset


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _version(python: str) -> tuple[int, int]:
    """``"3.13.1"`` as ``(3, 13)``; unreadable: taken as new."""
    parts = python.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 99, 0
