"""A tiny arithmetic language for worker counts and chunk sizes in the rules files.

Rules are data, never code: this parser knows integers, a fixed vocabulary of names,
``+ - * /`` (``/`` rounds up, so a chunk never drops items), parentheses, and
``min(...)`` / ``max(...)``. Anything else is a load error. Nothing is evaluated by
Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

NAMES = ("tasks", "cpu_count", "workers", "cluster_workers", "knee")
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]+)|(.))")


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Number:
    value: int


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Union[Number, Name, Call, Binary]


def parse(text: str, *, names: tuple[str, ...] = NAMES) -> Node:
    tokens = _tokenize(str(text))
    parser = _Parser(tokens, names)
    node = parser.expression()
    if parser.position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position]!r} in {text!r}")
    return node


def evaluate(node: Node, values: Mapping[str, int]) -> int:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return int(values[node.name])
    if isinstance(node, Call):
        args = [evaluate(arg, values) for arg in node.args]
        return min(args) if node.function == "min" else max(args)
    left, right = evaluate(node.left, values), evaluate(node.right, values)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return -(-left // right) if right else left


def _tokenize(text: str) -> list[str]:
    tokens = []
    for number, word, other in _TOKEN.findall(text):
        token = number or word or other
        if token.strip():
            tokens.append(token)
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], names: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.names = names
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ExpressionError(f"expected {expected or 'a value'}, found {token or 'the end'}")
        self.position += 1
        return token

    def expression(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.atom()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = Binary(op, node, self.atom())
        return node

    def atom(self) -> Node:
        token = self.take()
        if token.isdigit():
            return Number(int(token))
        if token == "(":
            node = self.expression()
            self.take(")")
            return node
        if token in ("min", "max"):
            self.take("(")
            args = [self.expression()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.expression())
            self.take(")")
            return Call(token, tuple(args))
        if token in self.names:
            return Name(token)
        raise ExpressionError(
            f"unknown name {token!r}; use numbers, {', '.join(self.names)}, min(), max(), "
            "+ - * /"
        )
