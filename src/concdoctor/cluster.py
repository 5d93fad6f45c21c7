"""Where the ``dask`` executor's cluster is, and whether it can be reached (the parent's side).

With an address (``--cluster``, or dask's own ``DASK_SCHEDULER_ADDRESS``) the batch runs on
that cluster; without one, on a local cluster the child starts (see
:mod:`concdoctor.child.cluster`, which runs the batch there). An unreachable scheduler is
refused before anything is measured (:func:`check`, run in a subprocess with its own
deadline, since a client can hang on a port that is not a scheduler's). The same check
reads dask's ``get_versions`` of the client, the scheduler and every worker: a mismatch is
one line of the report, said before anything is measured (:func:`mismatch`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from concdoctor.errors import UsageError

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
EXTRA = "pip install 'concdoctor[dask]'"
CONNECT_SECONDS = 10.0
COMPARED = ("python", "dask", "distributed", "cloudpickle", "msgpack", "toolz", "tornado")
"""The packages whose versions must agree across the cluster for the task graph to load
(numpy and pandas matter only when the target uses them: dask checks them itself)."""


@dataclass(frozen=True)
class Reached:
    """What the check found at the scheduler: its worker threads, and a version mismatch
    between the client, the scheduler and the workers (one line), if any."""

    workers: int
    mismatch: str | None = None


def address(given: str | None) -> str | None:
    """The scheduler's address: ``--cluster``, else dask's own environment variable."""
    return given or os.environ.get(ADDRESS_VARIABLE) or None


def installed() -> bool:
    return importlib.util.find_spec("distributed") is not None


def missing() -> str | None:
    """Why the dask executor cannot run here, or None."""
    return None if installed() else f"the dask executor needs dask.distributed: {EXTRA}"


def check(where: str, timeout: float = CONNECT_SECONDS) -> Reached:
    """The scheduler at ``where``: its worker threads and versions; a one-line
    :class:`UsageError` when it cannot be reached (checked before anything is timed)."""
    if not installed():
        raise UsageError(f"--cluster needs dask.distributed: {EXTRA}")
    code = ("import sys, json, logging; logging.disable(logging.CRITICAL)\n"
            "from distributed import Client\n"
            f"client = Client({where!r}, timeout={timeout!r})\n"
            "print(sum(client.nthreads().values()))\n"
            "print(json.dumps(client.get_versions(check=False), default=str)); client.close()")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout + 10, check=False)
    except subprocess.TimeoutExpired:
        done = None
    lines = done.stdout.strip().splitlines() if done else []
    if done is None or done.returncode != 0 or not lines or not lines[0].isdigit():
        problem = (done.stderr.strip().splitlines() or ["no answer"])[-1] if done else (
            f"no answer within {timeout + 10:g} s")
        raise UsageError(f"the dask scheduler at {where} cannot be reached ({problem}); check "
                         f"--cluster or {ADDRESS_VARIABLE}, and that the scheduler runs")
    if int(lines[0]) == 0:
        raise UsageError(f"the dask scheduler at {where} has no workers; start some with "
                         f"'dask worker {where}'")
    try:
        versions = json.loads(lines[1]) if len(lines) > 1 else {}
    except ValueError:
        versions = {}
    return Reached(int(lines[0]), mismatch(versions))


def mismatch(versions: Mapping[str, Any]) -> str | None:
    """One line naming each package whose version differs between the client, the
    scheduler and the workers (``Client.get_versions(check=False)``), or None."""
    nodes = {"client": versions.get("client"), "scheduler": versions.get("scheduler"),
             **{f"worker {address}": info
                for address, info in (versions.get("workers") or {}).items()}}
    differing = []
    for package in COMPARED:
        seen: dict[str, list[str]] = {}
        for node, info in nodes.items():
            found = ((info or {}).get("packages") or {}).get(package)
            if found is not None:
                seen.setdefault(str(found).removesuffix(".final.0"), []).append(node)
        if len(seen) > 1:
            differing.append(f"{package} " + ", ".join(
                f"{version} on {_nodes(where)}" for version, where in seen.items()))
    if not differing:
        return None
    return ("dask versions differ across the cluster (" + "; ".join(differing) + "): the "
            "task graph may not load; install the same versions on the client, the "
            "scheduler and the workers")


def _nodes(names: list[str]) -> str:
    workers = [name for name in names if name.startswith("worker ")]
    named = [name for name in names if not name.startswith("worker ")]
    if len(workers) > 1:
        named.append(f"{len(workers)} workers")
    return ", ".join(named + workers if len(workers) <= 1 else named)
