"""The kernel's side of a notebook diagnosis: start the helper, follow it, stop it.

See :mod:`.helper` for why the diagnosis runs in a helper process rather than in a fork
of the kernel. Here the kernel only pickles the function and its inputs by value, starts
``python -m concdoctor.notebook.helper`` in a session of its own, relays its progress and
reads back the :class:`~concdoctor.diagnosis.Diagnosis` as JSON.

Interrupting the kernel raises ``KeyboardInterrupt`` while it waits here; the helper then
gets SIGINT, ends the child's whole tree as an interrupted ``concdoctor profile`` does,
and exits. Whatever is still running after :data:`STOP_SECONDS` (the helper, its process
group, and every descendant seen when the interrupt came, the child included: it has a
session of its own) is killed, so the kernel is left usable and nothing behind.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from concdoctor import descendants
from concdoctor.diagnosis import Diagnosis
from concdoctor.errors import UsageError

STOP_SECONDS = 20.0
"""How long an interrupted helper may take to end the child's tree before it is killed."""
Progress = Callable[..., None]


class HelperFailed(RuntimeError):
    """concdoctor itself failed in the helper; the message is its traceback."""


def payload(func: Callable[..., Any], items: Sequence[Any] | None, repeat: int | None,
            settings: dict[str, Any], command: str) -> bytes:
    """What the helper needs, pickled by value where names would not resolve."""
    import cloudpickle

    data = {"func": func, "items": items, "repeat": repeat, "settings": settings,
            "command": command, "sys_path": [entry or os.getcwd() for entry in sys.path]}
    try:
        return cloudpickle.dumps(data)
    except Exception as exc:  # pickling raises many types: all mean "cannot ship it"
        raise UsageError(f"the function or its inputs cannot be sent to concdoctor's helper "
                         f"process ({type(exc).__name__}: {exc})") from None


def diagnose(func: Callable[..., Any], items: Sequence[Any] | None, repeat: int | None,
             settings: dict[str, Any], command: str, progress: Progress) -> Diagnosis:
    """The diagnosis of ``func`` over ``items`` (or ``repeat`` calls), run in the helper."""
    blob = payload(func, items, repeat, settings, command)
    progress("starting the helper process")
    with tempfile.TemporaryDirectory(prefix="concdoctor-notebook-") as tmp:
        path = Path(tmp) / "payload.pickle"
        path.write_bytes(blob)
        with open(Path(tmp) / "helper.stderr", "w+b") as errors:
            helper = subprocess.Popen(
                [sys.executable, "-m", "concdoctor.notebook.helper", str(path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                start_new_session=True)
            try:
                answer = _follow(helper, progress)
            except BaseException:
                stop(helper)
                raise
            helper.wait()
            errors.seek(0)
            return _diagnosis(answer, errors.read().decode("utf-8", "replace"))


def _follow(helper: subprocess.Popen[bytes], progress: Progress) -> dict[str, Any]:
    """Relay the helper's progress until its answer (or its end) arrives."""
    assert helper.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(helper.stdout, selectors.EVENT_READ)
        buffer = b""
        while True:
            if not selector.select(0.2):  # short waits: an interrupt is seen at once
                continue
            data = os.read(helper.stdout.fileno(), 65536)
            if not data:  # the helper ended without an answer
                return {}
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for event in (json.loads(line) for line in lines if line.strip()):
                if "progress" not in event:
                    return event
                progress(*event["progress"])


def _diagnosis(answer: dict[str, Any], errors: str) -> Diagnosis:
    if "usage" in answer:
        raise UsageError(answer["usage"])
    if "diagnosis" in answer:
        return Diagnosis.from_dict(answer["diagnosis"])
    raise HelperFailed(answer.get("error") or "concdoctor's helper process ended without "
                       f"an answer:\n{errors[-4000:]}")


def stop(helper: subprocess.Popen[bytes]) -> None:
    """End the helper and everything under it: SIGINT first (it ends the child's tree
    itself), then SIGKILL to what is left, including descendants that left its group."""
    seen = descendants.tree(helper.pid)
    try:
        helper.send_signal(signal.SIGINT)
        helper.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        seen += descendants.tree(helper.pid)
    try:
        os.killpg(helper.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    descendants.signal_all([proc for proc in seen if not descendants.gone(proc)],
                           signal.SIGKILL)
    helper.wait()
