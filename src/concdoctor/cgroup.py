"""A cgroup v2 of the child's own, where this process may make one.

Whatever the target starts stays in its cgroup, however it detaches (a new session, a
double fork, a reparented orphan), and ``cgroup.kill`` ends all of it at once, with no
race against a process that forks while it is being killed. One can be made where
cgroup2 is mounted and this process's own cgroup there is writable: as root, or in a
cgroup delegated to the user. Elsewhere :meth:`Cgroup.create` returns None, quietly, and
the child's subreaper and a scan of its descendants do the work instead.

The cgroup is made inside this process's own (so that moving a kept process back is a
move within a subtree this process owns), named ``concdoctor-PID-XXXXXXXX``, and
removed when the child is done; folders of earlier runs whose concdoctor died without
removing them are removed when empty.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
MEMBERSHIP = Path("/proc/self/cgroup")
PREFIX = "concdoctor-"
REMOVE_SECONDS = 5.0
"""How long removal waits for the killed processes to leave the cgroup."""


def home(mountinfo: Path | None = None, membership: Path | None = None) -> Path | None:
    """The folder of this process's cgroup v2, if this process may make cgroups in it."""
    try:
        lines = (membership or MEMBERSHIP).read_text().splitlines()
        mounts = (mountinfo or MOUNTINFO).read_text().splitlines()
    except OSError:
        return None
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None
    for mount in mounts:
        fields = mount.split()
        if "-" not in fields:
            continue
        separator = fields.index("-")
        if fields[separator + 1:separator + 2] != ["cgroup2"]:
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if own != root and not own.startswith(root.rstrip("/") + "/"):
            continue  # this mount shows another part of the hierarchy
        folder = Path(point, own[len(root):].lstrip("/"))
        if os.access(folder, os.W_OK) and os.access(folder / "cgroup.procs", os.W_OK):
            return folder
    return None


def _unescape(text: str) -> str:
    """mountinfo writes spaces and the like as octal escapes (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), text)


def join(path: str | Path, pid: int | None = None) -> bool:
    """Move ``pid`` (this process by default) into the cgroup at ``path``."""
    try:
        Path(path, "cgroup.procs").write_text(f"{pid or os.getpid()}\n")
    except OSError:
        return False
    return True


class Cgroup:
    """One child's cgroup: who is in it, end them all, remove it."""

    def __init__(self, path: Path, parent: Path) -> None:
        self.path = path
        self.parent = parent

    @classmethod
    def create(cls) -> Cgroup | None:
        """A new, empty cgroup, or None where none can be made (see the module's doc)."""
        parent = home()
        if parent is None:
            return None
        _remove_stale(parent)
        path = parent / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
        except OSError:
            return None
        made = cls(path, parent)
        if not (path / "cgroup.kill").exists():  # before Linux 5.14: no atomic kill
            made.remove()
            return None
        return made

    def procs(self) -> list[int]:
        """The pids in the cgroup now."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def release(self, pid: int) -> None:
        """Move ``pid`` back to this process's own cgroup: it is not to be killed."""
        join(self.parent, pid)

    def kill(self) -> None:
        """SIGKILL everything in the cgroup, including what it forks meanwhile."""
        try:
            (self.path / "cgroup.kill").write_text("1\n")
        except OSError:
            pass

    def remove(self, timeout: float = REMOVE_SECONDS) -> bool:
        """Remove the folder once the last process has left it (killed ones take a
        moment); False if it is still there after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups of concdoctor runs whose process is gone."""
    try:
        entries = list(parent.glob(PREFIX + "*"))
    except OSError:
        return
    for entry in entries:
        owner = entry.name[len(PREFIX):].split("-")[0]
        if owner.isdigit() and not Path("/proc", owner).exists():
            try:
                entry.rmdir()
            except OSError:
                pass  # still has processes, or not ours to remove
