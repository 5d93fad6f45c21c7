"""The test suite on every supported Python: ``nox`` (all of them), ``nox -p 3.13`` (one).

Each session makes its own virtual environment with concdoctor and its test extra (and,
on 3.13, the sub-interpreter backport, so the interpreter executor runs for real). The
fast layers run on every version; the end-to-end layer (real py-spy, yappi and pools on
the examples) on the oldest and the newest, where version differences show first.

nox rather than tox: the sessions are Python, so "end-to-end only on the oldest and the
newest" is an ``if`` beside the rest, not a matrix of ini-file factors; and it finds
pyenv's interpreters on the PATH as ``python3.X``.
"""

from __future__ import annotations

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
END_TO_END = {PYTHONS[0], PYTHONS[-1]}

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = False


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    extras = "test,interpreters" if session.python == "3.13" else "test"
    session.install("-e", f".[{extras}]")
    layers = [] if session.python in END_TO_END else ["-m", "not e2e"]
    session.run("python", "-m", "pytest", *layers, *session.posargs)
