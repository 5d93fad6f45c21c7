"""The loop around a repeated call, read from the program's source with ``ast``.

``concdoctor run`` knows a call site (the caller's file, the loop's line, the call's line
and the function's name). :func:`find_loop` says what the loop is (a ``for`` statement
whose body makes the call, or a comprehension whose element does) and cuts the call out
of it, for :mod:`concdoctor.program.rewrite` to start every call first and run the rest
with each call's result in its place.

That keeps the program the same only when each call's arguments are known before the
body runs and the loop makes the call once for every item: so a loop whose call sits
under an ``if``, whose arguments use a name the body computes, or whose body can stop
early (``break``, ``return``, ``raise``, ``continue``, ``yield``) is refused, in one line
that says why; :func:`carried` names what a call takes from the passes before it. The
text of the loop is kept where it can be (comments included): the call is cut out of it
by the ``ast``'s positions and the lines re-indented; a region holding a string that
spans lines, whose content re-indenting would change, is written with ``ast.unparse``
instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from concdoctor.program.sourcetext import Source, file_names, node_end, node_start

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


def find_loop(source: str, loop_line: int, call_line: int, func_name: str) -> Loop | str:
    """The loop starting at ``loop_line`` whose body calls ``func_name`` (a name, or an
    attribute's last part) on ``call_line``; or, in one line, why it cannot be rewritten
    safely."""
    found = _located(source, loop_line, call_line, func_name)
    if isinstance(found, str):
        return found
    tree, call, loop, parents = found
    hole: ast.expr = parents[call] if isinstance(parents[call], ast.Await) else call
    text = Source(source, file_names(tree))
    if isinstance(loop, ast.For):
        return _for_loop(text, loop, call, hole, parents)
    if isinstance(loop, (ast.AsyncFor, ast.While)):
        word = _COMPOUND[type(loop)]
        return (f"the loop is {_a(word)} `{word}`: its items are not known before it runs; "
                "apply the function snippet")
    return _comprehension(text, loop, call, hole, parents)


def carried(source: str, loop_line: int, call_line: int, func_name: str) -> tuple[str, ...]:
    """The names the call's arguments take from an earlier pass of its ``for`` loop: bound
    by the loop's body at or after the call's statement (``x = step(x)``, ``prev =
    item``), but for the loop's own variables, which each pass takes afresh from the
    items. A call that takes them depends on the passes before it (often on an earlier
    call's result): the calls cannot all start at once. Empty when there are none or the
    loop cannot be read (a ``while`` loop's items are not known before it runs: the
    rewrite refuses it on its own)."""
    found = _located(source, loop_line, call_line, func_name)
    if isinstance(found, str):
        return ()
    _, call, loop, parents = found
    if not isinstance(loop, (ast.For, ast.AsyncFor)) or not _within(call, loop.body,
                                                                     parents):
        return ()
    statement = next(node for node in loop.body if _within(call, [node], parents))
    later = loop.body[loop.body.index(statement):]
    targets = {node.id for node in ast.walk(loop.target) if isinstance(node, ast.Name)}
    used = {node.id for argument in (*call.args, *(each.value for each in call.keywords))
            for node in ast.walk(argument) if isinstance(node, ast.Name)}
    return tuple(sorted((used & _bound(later)) - targets))


def _located(source: str, loop_line: int, call_line: int, func_name: str
             ) -> tuple[ast.Module, ast.Call, _AnyLoop, dict[ast.AST, ast.AST]] | str:
    """The parsed file, the one call of ``func_name`` on ``call_line``, the loop around
    it starting at ``loop_line``, and each node's parent; or why they are not found."""
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
    loop = _loop_around(calls[0], loop_line, parents)
    if loop is None:
        return f"no loop on line {loop_line} around the call of {func_name} on line {call_line}"
    return tree, calls[0], loop, parents


def _for_loop(text: Source, loop: ast.For, call: ast.Call, hole: ast.expr,
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
    indent, start = "", node_start(first)
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


def _comprehension(text: Source, comp: _Comprehension, call: ast.Call, hole: ast.expr,
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
        around = text.cut(node_start(element[0]), node_end(element[-1]), hole, indent)
    if text.needs_unparse([statement], comp):
        cut = text.unparse(statement, comp)
    else:
        cut = text.cut(node_start(statement), text.line_end(statement.end_lineno or 0), comp,
                       indent)  # alone on its lines: what follows it is a comment
    return _loop(text, statement, clause, call, hole, kind=_KINDS[type(comp)], around=around,
                 statement=cut, uses_target=uses_target)


def _loop(text: Source, replaced: ast.stmt, clause: ast.For | ast.comprehension,
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


def _unparsed_element(text: Source, element: list[ast.expr],
                      hole: ast.AST) -> tuple[str, str]:
    if len(element) == 1:
        return text.unparse(element[0], hole)
    key, value = element
    if any(node is hole for node in ast.walk(key)):
        head, tail = text.unparse(key, hole)
        return head, f"{tail}: {ast.unparse(value)}"
    head, tail = text.unparse(value, hole)
    return f"{ast.unparse(key)}: {head}", tail


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


def _plain(target: ast.expr) -> bool:
    """The target binds names only (``page``, ``i, (a, b)``)."""
    return all(isinstance(node, (ast.Name, ast.Tuple, ast.List, ast.expr_context))
               for node in ast.walk(target))


def _called(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
