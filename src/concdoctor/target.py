"""What to run: the target function and its inputs, described without importing them.

concdoctor's own process never imports the user's code. A :class:`Job` is plain data
that the child runner resolves; only the shape of the request is checked here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concdoctor.errors import UsageError

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class TargetSpec:
    """``pkg.module:func`` or ``path/to/file.py:func`` (``func`` may be ``Class.method``)."""

    text: str
    module: str | None = None
    path: str | None = None
    attribute: str = ""

    @classmethod
    def parse(cls, text: str, *, what: str = "target") -> TargetSpec:
        where, sep, attribute = text.rpartition(":")
        if not sep or not where or not attribute:
            raise UsageError(
                f"{what} {text!r} is not of the form 'package.module:function' or "
                f"'path/to/file.py:function'"
            )
        if not _DOTTED.match(attribute):
            raise UsageError(f"{what} {text!r}: {attribute!r} is not a Python name after the ':'")
        if where.endswith(".py") or "/" in where or "\\" in where:
            path = Path(where)
            if not path.is_file():
                raise UsageError(f"{what} {text!r}: file {where!r} not found; check the path")
            if path.suffix != ".py":
                raise UsageError(f"{what} {text!r}: {where!r} is not a .py file")
            return cls(text=text, path=str(path.resolve()), attribute=attribute)
        if not _DOTTED.match(where):
            raise UsageError(f"{what} {text!r}: {where!r} is not a dotted module name")
        return cls(text=text, module=where, attribute=attribute)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "module": self.module, "path": self.path,
                "attribute": self.attribute}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetSpec:
        return cls(text=data["text"], module=data["module"], path=data["path"],
                   attribute=data["attribute"])


@dataclass(frozen=True)
class InputSpec:
    """Exactly one source of tasks: a JSON list, an attribute producing them, N calls, or
    the calls ``concdoctor run`` captured from a program."""

    items: tuple[Any, ...] | None = None
    source: TargetSpec | None = None
    repeat: int | None = None
    calls: bool = False
    """Each input is a whole call, ``(args, kwargs)``: ``func(*args, **kwargs)``."""
    captured: str | None = None
    """A file of calls captured from a program (see :mod:`concdoctor.program.capture`);
    its inputs are calls."""

    @classmethod
    def from_options(
        cls, *, inputs: str | None, inputs_from: str | None, repeat: int | None,
        calls: bool = False,
    ) -> InputSpec:
        given = [name for name, value in (("--inputs", inputs), ("--inputs-from", inputs_from),
                                          ("--repeat", repeat)) if value is not None]
        if not given:
            raise UsageError(
                "no inputs: pass --inputs '[...]' (a JSON list, one item per task), "
                "--inputs-from module:ATTR, or --repeat N for a function without arguments"
            )
        if len(given) > 1:
            raise UsageError(f"use only one of {', '.join(given)}")
        if calls and repeat is not None:
            raise UsageError("--calls gives each input's arguments; --repeat calls the "
                             "function without any: use --inputs or --inputs-from")
        if inputs is not None:
            return cls(items=tuple(parse_inputs_json(inputs)), calls=calls)
        if inputs_from is not None:
            return cls(source=TargetSpec.parse(inputs_from, what="--inputs-from"), calls=calls)
        assert repeat is not None
        if repeat < 1:
            raise UsageError(f"--repeat must be at least 1, got {repeat}")
        return cls(repeat=repeat)

    @property
    def unpack(self) -> bool:
        """Whether each input is a call's ``(args, kwargs)``."""
        return self.calls or self.captured is not None

    def to_dict(self) -> dict[str, Any]:
        return {"items": list(self.items) if self.items is not None else None,
                "source": self.source.to_dict() if self.source else None,
                "repeat": self.repeat, "calls": self.calls, "captured": self.captured}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        items, source = data["items"], data["source"]
        return cls(items=tuple(items) if items is not None else None,
                   source=TargetSpec.from_dict(source) if source is not None else None,
                   repeat=data["repeat"], calls=bool(data.get("calls")),
                   captured=data.get("captured"))


def parse_inputs_json(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--inputs is not valid JSON ({exc.msg} at column {exc.colno}); "
            "pass a JSON list such as '[1, 2, 3]'"
        ) from None
    if not isinstance(value, list):
        raise UsageError(
            f"--inputs must be a JSON list (one item per task), got {type(value).__name__}; "
            "wrap it in [...]"
        )
    if not value:
        raise UsageError("--inputs is an empty list: give at least one item")
    return value


@dataclass(frozen=True)
class Job:
    """Everything the child needs to resolve and run the batch; serialised as JSON."""

    target: TargetSpec
    inputs: InputSpec
    extra_sys_path: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0
    """Seeds the reservoir that samples an iterator of inputs too long to hold."""

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.to_dict(), "inputs": self.inputs.to_dict(),
                "extra_sys_path": list(self.extra_sys_path), "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(TargetSpec.from_dict(data["target"]), InputSpec.from_dict(data["inputs"]),
                   tuple(data.get("extra_sys_path", ())), int(data.get("seed", 0)))
