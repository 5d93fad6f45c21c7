"""``concdoctor run``'s answer in the terminal: the run, then its ranked candidates.

rich is imported only when drawn; every name from the program is a :class:`rich.text.Text`
(never parsed for markup). The first line answers in the program's terms: what share of
the run the top candidate's calls were, where they come from, and what they did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from concdoctor.program.candidates import Candidate
from concdoctor.program.report import ProgramReport
from concdoctor.render.numbers import percent, seconds

if TYPE_CHECKING:
    from rich.console import Console

KIND_WORDS = {
    "io_bound": "mostly waiting", "python_cpu_bound": "running Python, holding the GIL",
    "gil_released_c": "in C code that released the GIL", "mixed": "a mix of waiting and work",
    "overhead_bound": "each too short for a pool", "unmeasured": "not sampled",
}


def headline(report: ProgramReport) -> str:
    """One sentence about the top candidate, or why there is none."""
    if not report.candidates:
        return ("No candidate: no function was called at least 5 times from a loop for "
                "20 % or more of this run.")
    top = report.candidates[0]
    caller = top.call_site.partition(" in ")[2]
    name = top.function.rpartition(":")[2]
    sentence = (f"{percent(top.share)} of this run was {top.calls:,} calls of {name}() "
                f"from {caller}() at {top.call_site.partition(' in ')[0]} "
                f"(the loop at {top.loop}), {KIND_WORDS.get(top.kind, top.kind)}")
    if not top.picklable:
        return f"{sentence}; its arguments do not pickle ({top.reason})."
    return f"{sentence}: concurrency could save up to {seconds(top.saving_seconds)}."


def summary(report: ProgramReport) -> str:
    """The run in one line: the program, how it ended, what the recorder cost."""
    ended = "exit code 0" if report.failure is None else report.failure
    line = f"{' '.join(report.argv)}: {seconds(report.wall_seconds)}, {ended}"
    if report.recorder is not None:
        line += (f"; recorder ({report.recorder.backend}) overhead about "
                 f"{percent(report.recorder.fraction)}")
    if report.sampling != "py-spy":
        line += f"; sampling {report.sampling}"
    return line


def show(report: ProgramReport, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(Text(summary(report), style="dim"))
    console.print(Text(headline(report), style="bold"))
    for each in report.left_running:
        console.print(Text(f"ended what the program left running: {each}", style="yellow"))
    if not report.candidates:
        return
    table = Table(title="Candidates, by what concurrency could save", title_justify="left")
    notes = any(not each.picklable for each in report.candidates)
    for column in ("#", "function", "call site", "calls", "share", "kind", "could save",
                   *(("note",) if notes else ())):
        numeric = column in ("#", "calls", "share", "could save")
        table.add_column(column, justify="right" if numeric else "left",
                         overflow="fold", no_wrap=numeric)
    for index, each in enumerate(report.candidates, 1):
        table.add_row(*(Text(cell) for cell in _row(index, each)[:None if notes else -1]))
    console.print(table)


def _row(index: int, each: Candidate) -> tuple[str, ...]:
    note = "" if each.picklable else f"arguments do not pickle: {each.reason}"
    return (str(index), each.function, each.call_site, f"{each.calls:,}",
            percent(each.share), each.kind, seconds(each.saving_seconds), note)
