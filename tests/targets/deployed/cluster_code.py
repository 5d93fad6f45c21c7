"""A target for the deployed-cluster tests: it calls a helper module of its own folder, so
a process that cannot import ``cluster_helper`` cannot load the target either (by value or
by name)."""

from __future__ import annotations

import cluster_helper


def scaled(x: int) -> int:
    return cluster_helper.triple(x)


def raise_on_dask(x: int) -> int:
    """``scaled(x)`` here; a ValueError of its own on a dask worker."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):  # not on a dask worker
        return scaled(x)
    raise ValueError(f"no {x} on a worker")
