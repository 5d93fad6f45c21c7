"""Paths in the human-readable reports: relative to the project, tails elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from concdoctor.render.paths import shorten

ROOT = "/home/alice/work/project"


@pytest.mark.parametrize(("text", "shown"), [
    (f"{ROOT}/examples/cpu_bound.py:12", "examples/cpu_bound.py:12"),
    (f"work ({ROOT}/examples/cpu_bound.py:12)", "work (examples/cpu_bound.py:12)"),
    ("/usr/lib/python3.11/json/encoder.py", "…/lib/python3.11/json/encoder.py"),
    ("/venv/lib/python3.11/site-packages/numpy/core.py:3", "…/site-packages/numpy/core.py:3"),
    (f'File "{ROOT}/app.py", line 4', 'File "app.py", line 4'),
    ("/opt/other/tool.py", "/opt/other/tool.py"),  # nothing to shorten it to
    ("a ratio 3/4 and http://x/y stay", "a ratio 3/4 and http://x/y stay"),
    (f"{ROOT}-old/file.py", f"{ROOT}-old/file.py"),  # a sibling, not inside
])
def test_shorten(text: str, shown: str) -> None:
    assert shorten(text, ROOT) == shown


@pytest.mark.e2e
def test_no_absolute_path_of_the_project_in_the_human_reports(in_repo: Path) -> None:
    from concdoctor import api
    from concdoctor.render import get_renderer

    d = api.profile("examples.cpu_bound:sum_of_squares", inputs=[200_000] * 4, trials=1)
    assert d.failure is None and d.environment.project == str(in_repo)
    assert any(str(in_repo) in (f.file or "") for f in d.evidence.top_functions)  # JSON keeps
    for name in ("terminal", "markdown", "html"):
        text = get_renderer(name).render(d)
        assert str(in_repo) not in text, name
