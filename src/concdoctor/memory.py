"""How much memory a worker takes and how much there is: the facts that bound a worker
count by memory, as ``cores`` bounds it by CPUs.

A worker's size is its PSS (proportional set size), not its RSS: RSS counts every page a
forked worker still shares with its parent once per worker, and so overstates a process
pool many times over; PSS splits each shared page among the processes sharing it. USS
(the pages only this process holds) is what ending it would give back.

What there is: the headroom under this process's cgroup memory limit (v2 ``memory.max``,
the tightest along the path to the root, or v1 ``memory.limit_in_bytes``), and never more
than the host's ``MemAvailable``, since a limit is no promise that the memory is free.

Linux only, standard library only; every reader returns None where the fact cannot be read
(another platform, a permission, a file system not mounted). Kept free of heavy imports,
like ``cores``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 1 << 60  # v1 writes "no limit" as a huge page-rounded number (2**63 - 4096)

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*", re.IGNORECASE)


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """Field name -> bytes from ``smaps_rollup`` text ("Pss:  2345 kB"); the header line
    (the address range) is skipped. ``/proc/meminfo`` has the same form."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].endswith(":") and words[1].isdigit():
            scale = 1024 if words[2:3] == ["kB"] else 1
            fields[words[0][:-1]] = int(words[1]) * scale
    return fields


def _rollup(pid: int | None, proc: Path) -> dict[str, int] | None:
    try:
        where = proc / ("self" if pid is None else str(pid)) / "smaps_rollup"
        return parse_smaps_rollup(where.read_text())
    except OSError:  # not Linux, a kernel before 4.14, another user's process, gone
        return None


def pss_bytes(pid: int | None = None, *, proc: Path = PROC) -> int | None:
    """The process's proportional set size: its private pages plus its share of the pages
    it shares (with a pool's parent, say). The figure that adds up across a pool."""
    fields = _rollup(pid, proc)
    return None if fields is None else fields.get("Pss")


def uss_bytes(pid: int | None = None, *, proc: Path = PROC) -> int | None:
    """The process's unique set size: the pages no other process maps, which is what
    ending it frees."""
    fields = _rollup(pid, proc)
    if fields is None or not {"Private_Clean", "Private_Dirty"} & fields.keys():
        return None
    return fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def limit_bytes(*, proc: Path = PROC, cgroup: Path = CGROUP_ROOT) -> tuple[int, str] | None:
    """The memory this process may still take, in bytes, and where that figure comes from
    (a short phrase for the report); None where nothing can be read.

    The tightest of: the cgroup v2 headroom (``memory.max`` less ``memory.current``, at
    this cgroup and each parent), else the cgroup v1 headroom (``memory.limit_in_bytes``
    less ``memory.usage_in_bytes``), and the host's ``MemAvailable``.
    """
    found: list[tuple[int, str]] = []
    cgroup_room = _cgroup_headroom(proc, cgroup)
    if cgroup_room is not None:
        found.append(cgroup_room)
    try:
        available = parse_smaps_rollup((proc / "meminfo").read_text()).get("MemAvailable")
    except OSError:
        available = None
    if available is not None:
        found.append((available, "MemAvailable"))
    return min(found, key=lambda pair: pair[0]) if found else None


def _cgroup_headroom(proc: Path, cgroup: Path) -> tuple[int, str] | None:
    """The v2 headroom where the v2 hierarchy sets a limit, else the v1 one (a hybrid
    host lists a v2 line but keeps its memory controller on v1)."""
    members = _memberships(proc)
    for controllers, path in members:
        if controllers == "":
            room = _headroom(cgroup, path, "memory.max", "memory.current")
            if room is not None:
                return room, "the cgroup's memory.max"
    for controllers, path in members:
        if "memory" in controllers.split(","):
            room = _headroom(cgroup / controllers, path, "memory.limit_in_bytes",
                             "memory.usage_in_bytes")
            if room is not None:
                return room, "cgroup v1 memory.limit_in_bytes"
    return None


def _memberships(proc: Path) -> list[tuple[str, str]]:
    """(controllers, path) per line of ``/proc/self/cgroup``: "" for the v2 hierarchy."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return []
    members: list[tuple[str, str]] = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        members.append((controllers, path))
    return members


def _headroom(root: Path, path: str, limit_name: str, usage_name: str) -> int | None:
    """The least ``limit - usage`` from this cgroup up to the root (a parent's limit binds
    its children, and their use counts against it); None where no level has a limit.
    In a container the listed path may not exist: its parents, the root, are read."""
    found = None
    folder = root / path.strip("/")
    while True:
        limit = _number(folder / limit_name)
        if limit is not None and limit < UNLIMITED:
            room = max(0, limit - (_number(folder / usage_name) or 0))
            found = room if found is None else min(found, room)
        if folder == root or root not in folder.parents:
            return found
        folder = folder.parent


def _number(file: Path) -> int | None:
    """The integer in a cgroup file; None for "max", a missing file or anything else."""
    try:
        return int(file.read_text().strip())
    except (OSError, ValueError):
        return None


def parse_size(text: str) -> int:
    """Bytes from a ``--memory-limit`` value: "2147483648", "512M", "1.5G", "2GiB", "4gb".
    Units are binary (K = 1024) whichever spelling is used."""
    match = _SIZE.fullmatch(text)
    size = int(Decimal(match[1]) * _UNITS[(match[2] or "").lower()]) if match else 0
    if size < 1:
        raise ValueError(f"not a memory size: {text!r} (give bytes, or a number with K, M,"
                         " G or T, also KB/KiB etc., e.g. 512M or 1.5G)")
    return size


def workers_within(limit: int, per_worker: int, base: int = 0) -> int:
    """How many workers of ``per_worker`` bytes fit in ``limit`` after ``base`` bytes
    (the parent's own). At least 1: a pool of one needs what the sequential run does."""
    if per_worker <= 0:
        raise ValueError(f"a worker's size must be positive, not {per_worker}")
    return max(1, (limit - base) // per_worker)
