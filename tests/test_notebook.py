"""The notebook extension's pure parts: the magics' options, the snippet for the next
cell, the progress bar, and that neither ``import concdoctor`` nor the CLI loads IPython.
The magics in a real kernel: test_notebook_e2e.py."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import render_samples as samples

from concdoctor.errors import UsageError
from concdoctor.notebook import arguments
from concdoctor.notebook.progress import CellProgress, bundle

pytest.importorskip("IPython")
from concdoctor.notebook.magics import for_notebook, unguarded  # noqa: E402

GUARDED = ("from concurrent.futures import ProcessPoolExecutor\n\n\n"
           'if __name__ == "__main__":  # spawn workers import this module again\n'
           "    with ProcessPoolExecutor(max_workers=2) as pool:\n"
           "        results = list(pool.map(work, items))\n")


def test_line_splits_into_expressions_and_the_cli_options() -> None:
    expressions, given = arguments.split(
        "work [1, 2, 3] --budget 10 --compare all,loky --no-confirm --exact-trials "
        "--sampling-rate 50 --memory-limit 1G --keep-detached")
    assert expressions == ["work", "[1, 2, 3]"]
    assert given == {"budget": 10.0, "compare_all": True, "compare": ["loky"],
                     "confirm": False, "adaptive": False, "rate": 50,
                     "memory_limit": "1G", "keep_detached": True}


def test_repeat_and_quiet_are_the_magics_own() -> None:
    assert arguments.split("tick --repeat 5 --quiet") == (["tick"], {"repeat": 5,
                                                                     "quiet": True})


def test_an_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--bugdet"):
        arguments.split("work items --bugdet 3")


def test_every_api_setting_of_the_cli_is_an_option() -> None:
    from concdoctor.options import offered

    dests = {action.dest for action in arguments.parser()._actions}
    wanted = {s.name for s in offered("cli") if "api" in s.ways} - {"compare_all"}
    assert wanted <= dests


def test_snippet_loses_its_main_guard_and_names_the_inputs() -> None:
    assert unguarded(GUARDED) == (
        "from concurrent.futures import ProcessPoolExecutor\n\n"
        "with ProcessPoolExecutor(max_workers=2) as pool:\n"
        "    results = list(pool.map(work, items))\n")
    d = samples.complete()
    d = replace(d, target="__main__:sum_of_squares",
                recommendation=replace(d.recommendation, snippet="placeholder"))
    code = for_notebook(d, "my_items").recommendation.snippet  # type: ignore[union-attr]
    assert "pool.map(sum_of_squares, my_items)" in code and "__name__" not in code
    compile(code, "<next cell>", "exec")


def test_progress_is_one_display_updated_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[dict[str, str]] = []

    class Handle:
        def update(self, data: dict[str, str], raw: bool) -> None:
            shown.append(data)

    import IPython.display

    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw, display_id: shown.append(data) or Handle())
    progress = CellProgress()
    progress("baseline", 0, 1000)
    for done in range(1, 1001):
        progress("baseline", done, 1000)
    progress.close()
    assert 2 <= len(shown) <= 10  # the first, the last, the emptied: not one per task
    assert "1000/1000 tasks" in shown[-2]["text/plain"] and shown[-1] == {"text/plain": ""}


def test_progress_html_escapes_the_phase() -> None:
    html = bundle("<b>x</b>", 1, 2, 3.0)["text/html"]
    assert "&lt;b&gt;" in html and 'value="1" max="2"' in html and "<script" not in html


@pytest.mark.parametrize("statement", ["import concdoctor", "import concdoctor.cli",
                                       "import concdoctor.api"])
def test_ipython_is_not_imported(statement: str) -> None:
    code = (f"{statement}; import sys, concdoctor; "
            "assert callable(concdoctor.load_ipython_extension); "
            "print(sorted(m for m in ('IPython', 'ipykernel', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert "IPython" not in out and "ipykernel" not in out
    if statement == "import concdoctor":
        assert out == "[]"
