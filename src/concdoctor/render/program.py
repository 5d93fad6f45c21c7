"""``concdoctor run``'s answer in the terminal: the run, then its ranked candidates.

rich is imported only when drawn; every name from the program is a :class:`rich.text.Text`
(never parsed for markup). The first line answers in the program's terms: what share of
the run the top candidate's calls were, where they come from, and what they did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from concdoctor.program.report import ProgramReport
from concdoctor.render.numbers import fit_start, percent, seconds

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
    for column in ("#", "Function and call site", "Calls", "Share", "Kind", "Could save"):
        table.add_column(column, justify="left" if "Function" in column or column == "Kind"
                         else "right", no_wrap=True)
    room = max(24, console.width - FIXED_COLUMNS)
    notes = []
    for index, each in enumerate(report.candidates, 1):
        where = Text(fit_start(each.function.rpartition(":")[2], room))
        where.append(f"\n{fit_start(each.call_site, room)}", style="dim")
        saving = seconds(each.saving_seconds)
        if not each.picklable:
            notes.append(f"{len(notes) + 1}. its arguments do not pickle: {each.reason}")
            saving = f"see note {len(notes)}"
        table.add_row(str(index), where, f"{each.calls:,}", percent(each.share),
                      KIND_SHORT.get(each.kind, each.kind), saving)
    if notes:
        table.caption = Text("\n".join(notes), justify="left")
    console.print(table)


FIXED_COLUMNS = 58
"""What the table's other columns and borders take of the terminal's width: the
function and its call site, on two lines, get the rest, cut at their start to fit."""
KIND_SHORT = {"io_bound": "waiting", "python_cpu_bound": "Python (GIL)",
              "gil_released_c": "C, no GIL", "mixed": "mixed", "overhead_bound": "too short",
              "unmeasured": "–"}
