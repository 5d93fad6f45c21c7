from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, where ``examples`` is importable."""
    monkeypatch.chdir(ROOT)
    return ROOT


def concdoctor_command() -> list[str]:
    return [sys.executable, "-m", "concdoctor"]


def own_processes() -> set[int]:
    """Live descendants of this test process (the check for orphans)."""
    from concdoctor.runner import descendants

    return {pid for pid in descendants(os.getpid()) if alive(pid)}


def alive(pid: int) -> bool:
    """Running (not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


def marked_processes(variable: str, prefix: str) -> dict[int, str]:
    """Live processes whose environment has ``variable`` starting with ``prefix``: a run
    marks its environment, and the child, py-spy and pool workers inherit the mark, so
    a leftover is found even after it was re-parented."""
    needle = f"{variable}={prefix}".encode()
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")) and alive(int(entry)):
            found[int(entry)] = cmdline(int(entry))
    return found
