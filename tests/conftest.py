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

    return {pid for pid in descendants(os.getpid()) if _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False
