"""The terminal report at 80 columns, read as a screenshot: rich records what it drew
(exported as SVG, the picture a user sees), and no table cell takes more than two lines;
long outcomes go below the table as numbered notes."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
import render_samples as samples
from rich.console import Console

from concdoctor.diagnosis import Diagnosis, ExecutorResult, ResultsCheck
from concdoctor.render.terminal import TerminalRenderer

WIDTH = 80
LONG = ("the function cannot be pickled for a process pool (PicklingError: Can't pickle "
        "<function <lambda> at 0x7f>: attribute lookup <lambda> on __main__ failed); define "
        "it at module level")


def long_reasons() -> Diagnosis:
    """Skips whose reasons run to several sentences, and a long function and file name."""
    d = samples.complete()
    results = (*d.confirmation.results,
               ExecutorResult("hybrid", 2, skipped=LONG, inner_workers=8),
               ExecutorResult("asyncio", 64, skipped="asyncio needs an async def function"))
    stacks = (*d.evidence.stacks, replace(d.evidence.stacks[0], frames=(
        "Pipeline.stage_with_a_rather_long_name.<locals>.inner_helper_function "
        "(/srv/app/.venv/lib/python3.11/site-packages/vendor/deeply/nested/module.py:1234)",)))
    return replace(d, confirmation=replace(d.confirmation, results=results),
                   evidence=replace(d.evidence, stacks=stacks))


def chunked_with_memory() -> Diagnosis:
    """A long executor label (a chunked pool), with the memory column shown: the label
    wraps, and the outcome keeps a column wide enough to read."""
    d = samples.complete()
    results = (*d.confirmation.results,
               ExecutorResult("process", 1, (0.0257,), 0.0257, 0.12, chunksize=500,
                              worker_bytes=8_260_000, check=ResultsCheck("same")),
               ExecutorResult("hybrid", 16, (0.03,), 0.03, 0.1, chunksize=500,
                              worker_bytes=9_100_000, inner_workers=8,
                              check=ResultsCheck("same")))
    return replace(d, confirmation=replace(d.confirmation, results=results))


def screenshot(d: Diagnosis, tmp_path: Path) -> str:
    """What the report draws at 80 columns; the SVG of it is kept for a reader."""
    console = Console(file=io.StringIO(), width=WIDTH, record=True, highlight=False)
    TerminalRenderer().print(d, console)
    (tmp_path / "report.svg").write_text(console.export_svg(clear=False), encoding="utf-8")
    return console.export_text()


def rows(text: str) -> list[list[str]]:
    """Each table row as its lines: a row begins where its first cell does."""
    found: list[list[str]] = []
    in_body = False
    for line in text.splitlines():
        if line.startswith("┡"):
            in_body = True
        elif line.startswith("└"):
            in_body = False
        elif in_body and line.startswith("│"):
            first = line.split("│")[1]
            if first.strip() or not found:
                found.append([line])
            else:
                found[-1].append(line)
    return found


@pytest.mark.parametrize("make", [samples.complete, samples.hostile, samples.unsafe,
                                  long_reasons, chunked_with_memory],
                         ids=lambda f: f.__name__)
def test_no_cell_wraps_beyond_two_lines_at_80_columns(make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = make()
    text = screenshot(d, tmp_path)
    assert "<svg" in (tmp_path / "report.svg").read_text(encoding="utf-8")
    code = set((d.recommendation.snippet or "").splitlines()) if d.recommendation else set()
    assert all(len(line) <= WIDTH for line in text.splitlines() if line.rstrip() not in code)
    drawn = rows(text)
    assert drawn, text
    assert all(len(row) <= 2 for row in drawn), next(
        "\n".join(row) for row in drawn if len(row) > 2)
    if "Executors measured" in text:  # the outcome column keeps room to be read
        assert "Outcome" in text and "recommended" in text, text


def test_a_long_outcome_becomes_a_numbered_note(tmp_path: Path) -> None:
    text = screenshot(long_reasons(), tmp_path)
    assert "see note 1" in text
    joined = " ".join(text.split())
    assert "1. hybrid × 2 × 8: skipped: the function cannot be pickled" in joined
    assert "define it at module level" in joined  # the whole reason, below the table
    assert "see note 2" not in text  # the short skip reasons stay in their cells


def test_code_wider_than_the_terminal_is_printed_whole(tmp_path: Path) -> None:
    """A panel would crop a snippet's long line, and the pasted code would not run: such
    code goes out without one, each line whole, for the terminal to wrap."""
    d = samples.complete()
    line = ("results = [result for done in pool.map(run_chunk, chunks) for result in done]"
            "  # in order")
    d = replace(d, recommendation=replace(d.recommendation, snippet=f"x = 1\n{line}\n"))
    text = screenshot(d, tmp_path)
    assert line in text.splitlines() and "Apply it:" in text
    short = replace(d, recommendation=replace(d.recommendation, snippet="x = 1\n"))
    assert "╭─ Apply it" in screenshot(short, tmp_path)  # code that fits keeps its panel
