"""The program's source text, addressed the way its ``ast`` addresses it, for cutting a
call out of a loop and writing the rest back with its own text (comments included).

Columns in the ``ast`` are UTF-8 byte offsets; :class:`Source` turns them into the
text's. A region holding a string that spans lines (which re-indenting would change),
or a call inside an f-string (whose inner positions older Pythons get wrong), is written
with ``ast.unparse`` instead.
"""

from __future__ import annotations

import ast
import copy
import io
import itertools
import re
from collections.abc import Iterable


class Source:
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
        head = self.source[self.starts[node.lineno - 1]:self.offset(*node_start(node))]
        end = node.end_lineno or node.lineno
        tail = self.source[self.offset(*node_end(node)):self.starts[end]].strip()
        return not head.strip() and (not tail or tail.startswith("#"))

    def code(self, node: ast.expr) -> str:
        if self.needs_unparse([node]):
            return ast.unparse(node)
        text = self.source[self.offset(*node_start(node)):self.offset(*node_end(node))]
        return dedent(text, self.indent(node.lineno))

    def cut(self, start: tuple[int, int], end: tuple[int, int], hole: ast.expr,
            indent: str) -> tuple[str, str]:
        """The text from ``start`` to ``end`` without ``hole``: what comes before it and
        after it."""
        head = self.source[self.offset(*start):self.offset(*node_start(hole))]
        tail = self.source[self.offset(*node_end(hole)):self.offset(*end)]
        if start[1] == 0:  # a line start: its first line moves left too
            return dedent("\n" + head, indent)[1:], dedent(tail, indent)
        return dedent(head, indent), dedent(tail, indent)

    def unparse(self, node: ast.AST, hole: ast.AST) -> tuple[str, str]:
        """``node`` written by ``ast.unparse``, cut at ``hole``."""
        if node is hole:
            return "", ""
        twin = copy.deepcopy(node)
        mark = fresh(self.taken, "concdoctor_result")
        for original, copied in zip(ast.walk(node), ast.walk(twin)):
            if original is hole:
                swap(twin, copied, ast.Name(id=mark, ctx=ast.Load()))
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


def dedent(text: str, indent: str) -> str:
    """``text``'s lines after the first moved left by ``indent`` (a line indented less, a
    comment or a continuation inside brackets, to column 0)."""
    first, *rest = re.split(r"\r\n?|\n", text)
    return "\n".join([first, *("" if not line.strip() else line[len(indent):]
                                if line.startswith(indent) else line.lstrip() for line in rest)])


def file_names(tree: ast.AST) -> frozenset[str]:
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


def fresh(taken: frozenset[str], name: str) -> str:
    """``name``, or ``name_``, ``name_2``...: the first the program does not use."""
    candidates = itertools.chain((name, f"{name}_"), (f"{name}_{n}" for n in itertools.count(2)))
    return next(candidate for candidate in candidates if candidate not in taken)


def swap(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for node in ast.walk(root):
        for field, value in ast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
            elif isinstance(value, list):
                value[:] = [new if item is old else item for item in value]


def node_start(node: ast.expr | ast.stmt) -> tuple[int, int]:
    return node.lineno, node.col_offset


def node_end(node: ast.expr | ast.stmt) -> tuple[int, int]:
    return node.end_lineno or node.lineno, node.end_col_offset or node.col_offset
