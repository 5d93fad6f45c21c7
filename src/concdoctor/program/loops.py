"""Whether a call site sits inside a loop of its caller, read from the caller's source.

The recorder gives each call site as the caller's code object (its file, first line and
name) and the line of the call. The ``ast`` of the caller's file answers "is that line
inside a ``for``, ``while`` or comprehension of that function, and which one?" directly
and on every Python version, where bytecode jump targets change shape from one release
to the next. A line in a loop of a *nested* function does not count for its enclosing
one: the scope is the innermost function whose span holds the line. The ``iter`` of a
``for`` runs once, so only its body (or a ``while``'s test and body) is "inside".
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
COMPREHENSION_CODES = ("<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>")
"""Names of the code objects comprehensions had before Python 3.12 inlined them."""


@functools.lru_cache(maxsize=256)
def _tree(path: str) -> ast.Module | None:
    try:
        return ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None


def loop_line(path: str, function: str, line: int) -> int | None:
    """The line of the loop around ``line`` in ``function`` of file ``path`` (the loop's
    own first line), or None when the call is not repeated by a loop there or the
    source cannot be read."""
    if function.rpartition(".")[2] in COMPREHENSION_CODES:
        return line  # the caller is the comprehension itself (Python 3.11 and older)
    tree = _tree(path)
    return None if tree is None else enclosing_loop(tree, line)


def enclosing_loop(tree: ast.AST, line: int) -> int | None:
    """The innermost loop holding ``line`` within the innermost scope holding it."""
    scope = _innermost_scope(tree, line)
    found: int | None = None
    for node in _walk_scope(scope):
        if _repeats(node, line):
            if found is None or node.lineno >= found:
                found = node.lineno
    return found


def _innermost_scope(tree: ast.AST, line: int) -> ast.AST:
    scope = tree
    for node in ast.walk(tree):
        if isinstance(node, _SCOPES) and _first_line(node) <= line <= _last_line(node):
            if _first_line(node) >= _first_line(scope):
                scope = node
    return scope


def _walk_scope(scope: ast.AST):  # type: ignore[no-untyped-def]
    """Every node of ``scope`` but those of the functions nested in it."""
    pending = list(ast.iter_child_nodes(scope))
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            continue
        yield node
        pending.extend(ast.iter_child_nodes(node))


def _repeats(node: ast.AST, line: int) -> bool:
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return node.body[0].lineno <= line <= _last_line(node)
    if isinstance(node, ast.While):
        return node.lineno <= line <= _last_line(node)
    if isinstance(node, _COMPREHENSIONS):
        return node.lineno <= line <= _last_line(node)
    return False


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([getattr(node, "lineno", 0), *(each.lineno for each in decorators)])


def _last_line(node: ast.AST) -> int:
    return getattr(node, "end_lineno", None) or getattr(node, "lineno", 0)


CALL_CHARS = 80
"""The longest call text a report quotes; longer ones end in an ellipsis."""


def call_text(path: str, line: int, name: str) -> str | None:
    """The call of ``name`` on ``line`` as the source writes it (``fetch(url, timeout=5)``),
    or None when the source cannot be read or holds no such call there."""
    tree = _tree(path)
    if tree is None:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and node.lineno <= line <= _last_line(node) and _called(node) == name]
    if not calls:
        return None
    call = min(calls, key=lambda node: (node.lineno != line, _last_line(node) - node.lineno))
    text = " ".join(ast.unparse(call).split())
    return text if len(text) <= CALL_CHARS else text[:CALL_CHARS - 1] + "…"


def _called(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def unguarded(path: str) -> int | None:
    """The first line of a script's top level that runs work when the file is imported
    (a call, a loop, a ``with``) outside an ``if __name__ == "__main__":`` block; None
    when all of it is definitions and assignments, or the source cannot be read."""
    tree = _tree(path)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            continue
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            return node.lineno
        if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
            return node.lineno
    return None


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")
