"""Paths a reader can share: relative to the project in every human-readable report.

Reports are pasted into pull requests and issues, where ``/home/alice/work/project/`` says
nothing and leaks a little. :func:`for_readers` gives the terminal, Markdown and HTML
renderers a copy of the diagnosis whose file paths are relative to the project's folder
(``environment.project``: the folder of the ``pyproject.toml`` that gave the settings,
else the working folder), and whose paths elsewhere keep only their recognisable tail
(``…/site-packages/pkg/file.py``, ``…/lib/python3.11/json/encoder.py``). The JSON report
and the speedscope profile keep the absolute paths, which tools need.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

from concdoctor.diagnosis import Diagnosis

_ABSOLUTE = re.compile(r"(?<![\w.~/-])(/[^\s:;,'\"()\[\]<>]+)")
"""A POSIX absolute path in free text, up to a separator ('file.py:12' keeps ':12')."""
_TAILS = ("/site-packages/", "/dist-packages/", "/lib/python")


def shorten(text: str, root: str | None) -> str:
    """Every absolute path in ``text``: relative below ``root``, else its tail."""
    base = root.rstrip("/") if root else None

    def one(match: re.Match[str]) -> str:
        path = match.group(1)
        if base and (path == base or path.startswith(base + "/")):
            return os.path.relpath(path, base)
        for tail in _TAILS:
            where = path.find(tail)
            if where >= 0:
                return "…" + path[where:]
        return path

    return _ABSOLUTE.sub(one, text)


def for_readers(d: Diagnosis) -> Diagnosis:
    """``d`` with the paths a reader sees made relative (see the module's doc)."""
    root = d.environment.project

    def short(text: str | None) -> str | None:
        return shorten(text, root) if text else text

    ev = d.evidence
    if ev is not None:
        ev = replace(
            ev,
            top_functions=tuple(replace(f, file=short(f.file) or f.file)
                                for f in ev.top_functions),
            stacks=tuple(replace(s, frames=tuple(shorten(frame, root) for frame in s.frames))
                         for s in ev.stacks))
    failure = d.failure
    if failure is not None:
        failure = replace(failure, message=short(failure.message) or failure.message,
                          detail=short(failure.detail))
    environment = replace(d.environment, project="." if root else None)
    return replace(d, target=shorten(d.target, root), evidence=ev, failure=failure,
                   notes=tuple(shorten(note, root) for note in d.notes),
                   command=shorten(d.command, root), environment=environment)
