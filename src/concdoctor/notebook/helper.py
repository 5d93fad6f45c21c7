"""The helper that diagnoses a notebook's function: ``python -m concdoctor.notebook.helper``.

Why a helper. A Jupyter kernel is a threaded process (ZeroMQ's I/O threads, the heartbeat,
the history saver, the output relays), and ``fork`` copies only the calling thread: a lock
another thread held at that instant stays held forever in the copy, so a forked kernel can
deadlock in its first ``print`` or ``malloc``. concdoctor therefore never forks the kernel.
The kernel starts this helper as a new program (fork immediately followed by exec, which
is safe from any process, and in a session of its own), hands it the function and its
inputs *by value* (cloudpickle: a notebook's functions live in ``__main__`` and cannot be
imported by name), and the helper, a fresh single-threaded interpreter, runs the usual
pipeline, which forks the child that runs the target from here (:func:`concdoctor.runner.fork`).

The function is put back into this process's ``__main__`` under its name, so every
executor sees it as the kernel's own code would: a process pool that forks its workers
reaches it by name, a ``spawn`` or ``forkserver`` pool cannot (and is skipped with the
fix), and loky sends it by value.

The conversation is one JSON object per line on this process's stdout (progress, then the
diagnosis or the error); anything else printed goes to stderr. SIGINT (the kernel's stop
button, forwarded by :mod:`.launch`) ends the child's tree the way an interrupted
``concdoctor profile`` does, and the helper exits 130; if the kernel dies, the helper gets
SIGINT too (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1
INTERRUPTED = 130


def main(argv: list[str]) -> int:
    """``PAYLOAD``: the cloudpickle file the kernel wrote (see :func:`.launch.payload`)."""
    events = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the events' channel carries nothing else
    _interrupt_when_orphaned()

    def send(**event: Any) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    try:
        send(**_diagnose(argv[0], send))
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception:  # concdoctor's own failure: the kernel shows it as one
        send(error=traceback.format_exc())
    return 0


def _diagnose(path: str, send: Any) -> dict[str, Any]:
    from concdoctor.api import profile
    from concdoctor.errors import UsageError

    with open(path, "rb") as handle:
        import cloudpickle

        payload = cloudpickle.load(handle)
    sys.path[:0] = [entry for entry in payload["sys_path"] if entry not in sys.path]
    func = payload["func"]
    if getattr(func, "__module__", None) == "__main__" and "<" not in func.__qualname__:
        setattr(sys.modules["__main__"], func.__qualname__.split(".")[0], func)

    def progress(message: str, done: int | None = None, total: int | None = None,
                 **_: Any) -> None:
        send(progress=[message, done, total])

    try:
        diagnosis = profile(func, payload["items"], repeat=payload["repeat"],
                            command=payload["command"], progress=progress,
                            **payload["settings"])
    except UsageError as exc:
        return {"usage": str(exc)}
    return {"diagnosis": diagnosis.to_dict()}


def _interrupt_when_orphaned() -> None:
    """SIGINT this process when the kernel that started it dies (Linux; elsewhere the
    kernel's interrupt handling is all there is)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
