"""Where the ``dask`` executor's cluster is, and whether it can be reached (the parent's side).

With an address (``--cluster``, or dask's own ``DASK_SCHEDULER_ADDRESS``) the batch runs on
that cluster; without one, on a local cluster the child starts (see
:mod:`concdoctor.child.cluster`, which runs the batch there). An unreachable scheduler is
refused before anything is measured (:func:`check`, run in a subprocess with its own
deadline, since a client can hang on a port that is not a scheduler's).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from concdoctor.errors import UsageError

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
EXTRA = "pip install 'concdoctor[dask]'"
CONNECT_SECONDS = 10.0


def address(given: str | None) -> str | None:
    """The scheduler's address: ``--cluster``, else dask's own environment variable."""
    return given or os.environ.get(ADDRESS_VARIABLE) or None


def installed() -> bool:
    return importlib.util.find_spec("distributed") is not None


def missing() -> str | None:
    """Why the dask executor cannot run here, or None."""
    return None if installed() else f"the dask executor needs dask.distributed: {EXTRA}"


def check(where: str, timeout: float = CONNECT_SECONDS) -> int:
    """The number of worker threads of the scheduler at ``where``; a one-line
    :class:`UsageError` when it cannot be reached (checked before anything is timed)."""
    if not installed():
        raise UsageError(f"--cluster needs dask.distributed: {EXTRA}")
    code = ("import sys, logging; logging.disable(logging.CRITICAL)\n"
            "from distributed import Client\n"
            f"client = Client({where!r}, timeout={timeout!r})\n"
            "print(sum(client.nthreads().values())); client.close()")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout + 10, check=False)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0 or not done.stdout.strip().isdigit():
        problem = (done.stderr.strip().splitlines() or ["no answer"])[-1] if done else (
            f"no answer within {timeout + 10:g} s")
        raise UsageError(f"the dask scheduler at {where} cannot be reached ({problem}); check "
                         f"--cluster or {ADDRESS_VARIABLE}, and that the scheduler runs")
    if int(done.stdout) == 0:
        raise UsageError(f"the dask scheduler at {where} has no workers; start some with "
                         f"'dask worker {where}'")
    return int(done.stdout)
