"""The report for a terminal, drawn with rich (imported only when a report is drawn).

Every user-controlled string is wrapped in :class:`rich.text.Text`, which is never parsed
for console markup, so a function named ``[bold]x`` prints as written.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from concdoctor.diagnosis import Diagnosis, Evidence
from concdoctor.render import paths, wording
from concdoctor.render.base import Renderer, register
from concdoctor.render.numbers import fit_start

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

_BAR_WIDTH = 40
_GLYPHS = {"idle": ("░", "grey62"), "gil": ("█", "dark_orange"), "released": ("▒", "green")}
_STATUS_STYLE = {"confirmed": "bold green", "not confirmed": "bold yellow",
                 "not measured": "dim"}
_STATUS_MARK = {"confirmed": "✓ confirmed", "not confirmed": "✗ not confirmed",
                "not measured": "not measured"}


@register
class TerminalRenderer(Renderer):
    """Verdict first, then the evidence and the measurements that back it."""

    name = "terminal"
    extension = ".txt"
    aliases = ("term", "text")

    def render(self, diagnosis: Diagnosis, *, width: int = 100, color: bool = False) -> str:
        """The report as a string; ANSI colours only when ``color`` is true."""
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(
            file=buffer, width=width, force_terminal=color, no_color=not color,
            color_system="truecolor" if color else None, highlight=False, emoji=False,
            legacy_windows=False, record=True,
        )
        self.print(diagnosis, console)
        return buffer.getvalue()

    def print(self, diagnosis: Diagnosis, console: Console | None = None) -> None:
        """Print to a live console (a new default one when none is given)."""
        from rich.console import Console
        from rich.syntax import Syntax

        console = console or Console(highlight=False)
        for renderable in renderables(paths.for_readers(diagnosis), console.width):
            # code too wide for the terminal goes out whole, for the terminal to wrap:
            # cropped or broken lines would not run once pasted
            console.print(renderable, soft_wrap=isinstance(renderable, Syntax))


def prepare() -> None:
    """Load what drawing a report takes (rich, and pygments' lexer and theme for the
    snippet) before there is a report: the CLI does it while the child starts, so the
    report, once measured, is drawn at once."""
    from rich.console import Console

    Console(file=io.StringIO(), width=80).print(*code_block("pass", "", 80))


def renderables(d: Diagnosis, width: int = 100) -> list[RenderableType]:
    """The report's parts, in order (``concdoctor run`` shows them under its own)."""
    from rich.text import Text

    parts: list[RenderableType] = [_verdict(d)]
    if d.evidence is not None:
        parts.append(_evidence(d.evidence))
        if d.evidence.stacks:
            parts.append(_functions(d.evidence, width))
    rows = wording.executor_rows(d)
    if rows:
        parts.append(_executors(d, rows, width))
    if d.scaling:
        parts.append(_scaling(d))
    parts.append(Text(wording.environment_summary(d), style="dim"))
    parts += _tail(d, width)
    return parts


def _grid() -> Any:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _verdict(d: Diagnosis) -> RenderableType:
    from rich.panel import Panel
    from rich.text import Text

    state = wording.status(d)
    grid = _grid()
    grid.add_row("Bottleneck", Text(wording.kind_text(d), style="bold cyan"))
    grid.add_row("Recommended", Text(wording.headline(d), style="bold"))
    speed = Text(wording.speedup_text(d))
    if state != "not measured":
        speed.append("  " + _STATUS_MARK[state], style=_STATUS_STYLE[state])
    grid.add_row("Speedup", speed)
    predicted = wording.prediction_text(d)
    if predicted:
        grid.add_row("Whole batch", Text(predicted, style="cyan"))
    rec = d.recommendation
    if rec is not None:
        grid.add_row("Rule", Text.assemble((rec.rule, "magenta"), "\n", rec.reason))
        revision = wording.revision_text(d)
        if revision:
            grid.add_row("Revised", Text(revision, style="yellow"))
        if rec.advice:
            grid.add_row("Advice", Text(rec.advice))
    grid.add_row("Workload", Text(wording.workload_text(d)))
    if d.failure is not None:
        stopped = f"during {d.failure.phase}: {d.failure.message}"
        grid.add_row("Stopped", Text(stopped, style="bold red"))
    border = "red" if d.failure else {"confirmed": "green", "not confirmed": "yellow"}.get(
        state, "blue")
    title = Text("concdoctor: ") + Text(d.target, style="bold")
    return Panel(grid, title=title, title_align="left", border_style=border)


def share_bar(shares: dict[str, float], width: int = _BAR_WIDTH,
              evidence: Evidence | None = None) -> Any:
    """A one-line stacked bar of the idle / GIL-held / GIL-released shares, with legend."""
    from rich.text import Text

    total = sum(shares.values()) or 1.0
    bar, cumulative, drawn = Text(), 0.0, 0
    for state, value in shares.items():
        cumulative += value / total
        cells = round(cumulative * width) - drawn
        drawn += cells
        glyph, style = _GLYPHS[state]
        bar.append(glyph * cells, style=style)
    bar.append("\n")
    for state, value in shares.items():
        glyph, style = _GLYPHS[state]
        bar.append(f"{glyph} ", style=style)
        bar.append(f"{wording.share_text(state, value, evidence)}   ")
    return bar


def _evidence(ev: Evidence) -> RenderableType:
    from rich.panel import Panel
    from rich.text import Text

    grid = _grid()
    shares = wording.shares(ev)
    if shares is not None:
        grid.add_row("Time shares", share_bar(shares, evidence=ev))
    for label, value in wording.evidence_rows(ev):
        grid.add_row(label, Text(value))
    degraded = wording.degraded_text(ev)
    if degraded:
        grid.add_row("Degraded", Text(degraded, style="yellow"))
    return Panel(grid, title="Evidence", title_align="left", border_style="dim")


def _functions(ev: Evidence, width: int) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=wording.FUNCTIONS_TITLE, title_justify="left", expand=False,
                  caption=wording.functions_note(ev), caption_justify="left")
    rows = wording.function_rows(ev)
    numbers = [(f.total, f.self, f.time, f.calls, f.per_call) for f in rows]
    headers = ("Total", "Self", "Time", "Calls", "Per call")
    # the name over its file and line: two lines, each cut at its start to fit
    room = max(16, width - _widths(headers, numbers) - _OVERHEAD * (len(headers) + 1) - 1)
    table.add_column("Function", no_wrap=True)
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for f, cells in zip(rows, numbers):
        name = Text(fit_start(f.name, room))
        name.append(f"\n{fit_start(f.location, room)}", style="dim")
        table.add_row(name, *cells)
    return table


_OVERHEAD = 3
"""What a column of a rich table costs beside its text: padding either side, a border."""
_PANEL = 4
"""A panel's borders and padding, beside its text."""
_NOTE_AT = 2
"""An outcome longer than this many lines of its column goes below the table."""


def _widths(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> int:
    """The widest of each column's header and cells, summed."""
    return sum(max(len(text) for text in (header, *(row[i] for row in rows)))
               for i, header in enumerate(headers))




_OUTCOME_WIDTH = 16
"""The narrowest the outcome column gets: the labels wrap first."""


def _executors(d: Diagnosis, rows: list[wording.ExecutorRow], width: int) -> RenderableType:
    """The executors measured. An outcome too long for two lines of its column (the
    table is as wide as the terminal) goes below the table as a numbered note."""
    from rich.table import Table
    from rich.text import Text

    headers = ("Executor", "Median", "Speedup", "Results", "Memory/worker")
    cells = [(r.label, wording.seconds(r.median_seconds), wording.times(r.speedup), r.results,
              r.memory) for r in rows]
    shown = [i for i in range(len(headers))  # a column with nothing in it goes
             if i < 3 or any(row[i] != "–" for row in cells)]
    headers = tuple(headers[i] for i in shown)
    cells = [tuple(row[i] for i in shown) for row in cells]
    room = max(12, width - _widths(headers, cells) - _OVERHEAD * (len(headers) + 1) - 1)
    table = Table(title="Executors measured", title_justify="left")
    for index, header in enumerate(headers):  # a long label wraps before the outcome does
        table.add_column(header, justify="right" if index in (1, 2, 4) else "left",
                         no_wrap=index > 0, overflow="fold", min_width=10 if index == 0
                         else None)
    table.add_column("Outcome", overflow="fold", min_width=min(room, _OUTCOME_WIDTH))
    numbered: list[str] = []
    for r, (label, *figures) in zip(rows, cells):
        style = ("bold green" if r.recommended else "red" if r.verdict.startswith("unsafe")
                 else "dim" if r.skipped else "")
        outcome = r.verdict
        if len(outcome) > _NOTE_AT * room - 10:  # a margin for wrapping at words
            numbered.append(f"{len(numbered) + 1}. {label}: {outcome}")
            outcome = f"see note {len(numbered)}"
        table.add_row(Text(label, style=style), *figures, Text(outcome, style=style))
    notes = [d.confirmation.note] if d.confirmation and d.confirmation.note else []
    notes += numbered
    notes += [f"Not on this Python: {line}" for line in wording.unavailable_lines(d)]
    if notes:
        table.caption = Text("\n".join(notes), justify="left")
    return table


def _scaling(d: Diagnosis) -> RenderableType:
    from rich.table import Table

    header, rows = wording.scaling_rows(d)
    table = Table(title=f"Predicted speedup by workers, {d.environment.cpu_count} cores",
                  title_justify="left", caption_justify="left")
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    table.caption = " ".join(filter(None, ("* measured.", wording.more_cores_text(d))))
    return table


def _tail(d: Diagnosis, width: int) -> list[RenderableType]:
    from rich.panel import Panel
    from rich.text import Text

    parts: list[RenderableType] = []
    for note in d.notes:
        parts.append(Text("note: ", style="bold") + Text(note))
    if d.failure is not None:
        body = Text(f"{d.failure.phase}: {d.failure.message}", style="bold")
        if d.failure.detail:
            body.append("\n" + d.failure.detail, style="")
        parts.append(Panel(body, title="Partial report", title_align="left",
                           border_style="red"))
    if d.command:
        parts.append(Text("reproduce: ", style="bold") + Text(d.command, style="cyan"))
    code = d.recommendation.snippet if d.recommendation else None
    if code:
        parts += code_block(code, wording.SNIPPET_TITLE, width)
    return parts


def code_block(code: str, title: str, width: int) -> list[RenderableType]:
    """Python to paste, in a panel titled ``title``; or its title and the code alone,
    for the terminal to wrap, when its lines are too wide for a panel (cropped or broken
    lines would not run once pasted: the caller prints a Syntax with ``soft_wrap``)."""
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text

    longest = max(len(line) for line in code.rstrip().splitlines())
    syntax = Syntax(code.rstrip(), "python", theme="ansi_dark", background_color="default",
                    code_width=longest)
    if longest + _PANEL <= width:
        return [Panel(syntax, title=title, title_align="left", border_style="green")]
    return [Text(f"{title}:", style="bold green"), syntax]
