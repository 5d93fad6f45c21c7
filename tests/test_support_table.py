"""The README's support table says what this Python really does."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from concdoctor import executors as registry

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- support-table: kept true by tests/test_support_table.py -->"


def table() -> dict[str, dict[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split(MARK, 1)[1]
    lines = [line for line in text.strip().splitlines()]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return {row[0]: dict(zip(header, row)) for row in body}


def test_the_table_covers_every_version_ci_runs_and_3_14() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    pythons = re.search(r"PYTHONS = \[(.*?)\]", noxfile)
    assert pythons is not None
    versions = [v.strip(' "') for v in pythons.group(1).split(",")]
    assert list(table()) == [*versions, "3.14"]
    requires = re.search(r'requires-python = ">=(\d+\.\d+)"',
                         (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert requires is not None and requires.group(1) == versions[0]


def test_this_pythons_row_is_what_it_does() -> None:
    version = ".".join(map(str, sys.version_info[:2]))
    row = table()[version]
    interpreter = row["interpreter"]
    reason = registry.get("interpreter").unavailable()
    if reason is None:
        assert interpreter.startswith("measured")
    else:
        assert "skipped" in interpreter
        assert "3.14" in reason and ("backport" in interpreter or "3.14" in interpreter)
    if registry.get("dask").unavailable() is None:
        assert row["dask"].startswith("measured")
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        assert row["the GIL"].startswith(("on", "as the child reports"))
    else:  # a free-threaded build: the table must not promise a GIL
        assert "as the child reports" in row["the GIL"]


def test_the_extras_the_table_names_exist() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"interpreters = \[\s*\"interpreters-pep-734[^\"]*python_version == '3.13'",
                     pyproject)
    assert re.search(r"dask = \[\s*\"distributed", pyproject)
