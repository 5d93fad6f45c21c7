"""How many CPUs this process may use: the number every worker count is sized by.

Not the machine's count (``os.cpu_count()``): the CPUs this process's affinity allows
(``os.process_cpu_count()`` on 3.13+, ``sched_getaffinity`` before), and no more than its
cgroup's CPU quota, so that a container limited to 2 CPUs on a 64-core host is advised
for 2. Both cgroup v2 (``cpu.max``, the tightest along the path to the root) and v1
(``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``) are read.

Kept free of heavy imports: the pytest plugin reads it in every session.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")


def cpu_count(*, affinity: int | None = None, root: Path = CGROUP_ROOT,
              membership: Path = SELF_CGROUP) -> int:
    """CPUs this process may use; ``affinity`` and the cgroup paths are for tests."""
    count = affinity if affinity is not None else _affinity()
    quota = cgroup_quota(root=root, membership=membership)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def _affinity() -> int:
    counter = getattr(os, "process_cpu_count", None)  # 3.13+: the affinity's count
    if counter is not None:
        return counter() or 1
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cgroup_quota(*, root: Path = CGROUP_ROOT, membership: Path = SELF_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (1.5 = one and a half), or None
    where there is none (or no cgroup file system to read)."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            quotas.append(_v2_quota(root, path))
        elif "cpu" in controllers.split(","):
            quotas.append(_v1_quota(root / controllers, path))
    found = [quota for quota in quotas if quota is not None]
    return min(found) if found else None


def _v2_quota(root: Path, path: str) -> float | None:
    """The tightest ``cpu.max`` from this cgroup up to the root."""
    found = None
    folder = root / path.strip("/")
    while True:
        quota = _ratio(folder / "cpu.max", None)
        if quota is not None:
            found = quota if found is None else min(found, quota)
        if folder == root or root not in folder.parents:
            return found
        folder = folder.parent


def _v1_quota(root: Path, path: str) -> float | None:
    for folder in (root / path.strip("/"), root):
        quota = _ratio(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
        if quota is not None:
            return quota
    return None


def _ratio(quota_file: Path, period_file: Path | None) -> float | None:
    """quota / period from ``cpu.max`` ("200000 100000", "max 100000") or from v1's two
    files ("-1" for no quota)."""
    try:
        words = quota_file.read_text().split()
        if period_file is not None:
            words = [words[0], period_file.read_text().split()[0]]
        quota, period = words[0], float(words[1])
    except (OSError, IndexError, ValueError):
        return None
    if quota in ("max", "-1") or period <= 0:
        return None
    try:
        return float(quota) / period
    except ValueError:
        return None
