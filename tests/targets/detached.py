"""Targets that leave processes running, for tests/test_detached.py.

Each helper they start sleeps for two minutes with :data:`HELPER` first in its command
line (a report keeps its first 80 characters), which the tests look for in the report
and in the process table. Run them as path targets, e.g.
``tests/targets/detached.py:new_session``. Not a package; holds no tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HELPER = "concdoctor-detached-helper"
SLEEP = f'"{HELPER}"; import time; time.sleep(120)'
STUBBORN = (f'"{HELPER}"; import signal, time; '
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)")


def _helper(code: str) -> None:
    """Start ``code`` in a session of its own, and never wait for it."""
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def new_session(x):
    """The issue's escapee: a helper in a session of its own, never waited for."""
    _helper(SLEEP)
    time.sleep(0.05)
    return x


def double_fork(x):
    """A daemon's double fork: the helper's parent exits at once, so it is orphaned."""
    middle = os.fork()
    if middle == 0:  # pragma: no cover - runs in the forked copy
        try:
            if os.fork() == 0:
                os.setsid()
                os.execv(sys.executable, [sys.executable, "-c", SLEEP])
        finally:
            os._exit(0)
    os.waitpid(middle, 0)
    time.sleep(0.05)
    return x


def ignores_term(x):
    """A helper, in a session of its own, that ignores SIGTERM."""
    _helper(STUBBORN)
    time.sleep(0.05)
    return x


def new_session_then_hang(x):
    """Starts a helper per call, then hangs on the third input."""
    _helper(SLEEP)
    time.sleep(3600 if x == 3 else 0.05)
    return x


def _inputs():
    yield 1
    yield 2
    raise LookupError("the third input is missing")


broken_inputs = _inputs()
"""``--inputs-from``: a generator that raises while it is read."""


def ok(x):
    time.sleep(0.02)
    return x
