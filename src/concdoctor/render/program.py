"""``concdoctor run``'s answer in the terminal: the run, then its ranked candidates.

rich is imported only when drawn; every name from the program is a :class:`rich.text.Text`
(never parsed for markup). The first line answers in the program's terms: what share of
the run the top candidate's calls were, where they come from, and what they did.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from concdoctor import executors as registry
from concdoctor.diagnosis import Diagnosis
from concdoctor.program.candidates import Candidate
from concdoctor.program.report import ProgramReport
from concdoctor.render.numbers import duration, fit_start, percent, seconds, times

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


def answer(report: ProgramReport) -> str | None:
    """The diagnosis in the program's terms: which calls, from where, and what the loop
    would take on the advice, predicted for all the program's calls and confirmed (or
    not) on those captured."""
    top, d, facts = report.diagnosed, report.diagnosis, report.capture
    if top is None or d is None or facts is None:
        return None
    # a function the recorder stopped counting: the capture's run counted every call
    calls, least = (top.calls, "") if top.counted_all else (facts.total, "at least ")
    first = (f"{least}{percent(top.share)} of this run was {calls:,} calls of {_call(top)} "
             f"from {caller_name(top)}() at {top.call_site.partition(' in ')[0]}.")
    rec = d.recommendation
    if rec is None:
        why = d.failure.message if d.failure else "no advice"
        after = "" if facts.while_running else (
            " They were replayed after the program ended: what they needed of it (a "
            "temporary file, a connection) may have gone with it.")
        return (f"{first} Its {facts.captured} captured calls could not be diagnosed: "
                f"{why}.{after}")
    captured = f"{facts.captured:,} captured call{'' if facts.captured == 1 else 's'}"
    if report.depends:
        alone = ""
        if rec.executor != registry.SEQUENTIAL and d.confirmation and d.confirmation.speedup:
            alone = (f" (each alone, the {captured} ran {times(d.confirmation.speedup)} as "
                     f"fast on a {registry.label(rec.executor)})")
        return (f"{first} They depend on each other: {report.depends}. The loop cannot run "
                f"them concurrently without changing the program{alone}.")
    if rec.executor == registry.SEQUENTIAL:
        return f"{first} Keep the loop as it is: {rec.reason}"
    before, after, how = _loop_times(report)
    pool = f"{registry.label(rec.executor)} of {rec.workers} worker{'s' * (rec.workers != 1)}"
    confirmation = d.confirmation
    if confirmation is None:
        checked = f"not measured on the {captured}"
    elif confirmation.confirmed:
        checked = f"confirmed on {captured}"
    else:
        checked = f"not confirmed on {captured} ({times(confirmation.speedup)} measured)"
    if before is None or after is None:
        return f"{first} On a {pool}: {checked}."
    return (f"{first} The loop would take {duration(after)} instead of {duration(before)} "
            f"on a {pool} ({how}), {checked}.")


def capture_notes(report: ProgramReport) -> list[str]:
    """What the capture left out or found different, when the diagnosis ran anyway."""
    facts, top = report.capture, report.diagnosed
    if facts is None or not facts.captured or top is None:
        return []
    notes = []
    if facts.problem:
        notes.append(f"some picked calls' arguments did not pickle ({facts.problem}): the "
                     f"diagnosis ran on the {facts.captured} that did, and a process pool "
                     "could not take the others")
    if facts.too_big:
        notes.append(f"{facts.too_big} picked calls' arguments took more than "
                     f"{facts.per_call_bytes:,} bytes each and were left out")
    if top.counted_all and facts.seen != facts.total:
        notes.append(f"the capture's run made {facts.seen:,} of these calls, the first run "
                     f"{facts.total:,}: the program does not repeat itself exactly")
    if facts.run_failure:
        notes.append(f"the capture's run did not end well ({facts.run_failure}): " + (
            "its calls were diagnosed before that, while it waited"
            if facts.while_running else "the calls captured until then were diagnosed"))
    return notes


def _call(top: Candidate) -> str:
    return top.call or f"{top.qualname.rpartition('.')[2]}()"


def caller_name(top: Candidate) -> str:
    return top.call_site.partition(" in ")[2] or "?"


def _loop_times(report: ProgramReport) -> tuple[float | None, float | None, str]:
    """The calls' time sequentially and on the advice: predicted for all the program's
    calls from the captured ones, or measured when all of them were captured."""
    d = report.diagnosis
    assert d is not None
    if d.prediction is not None:
        return d.prediction.sequential_seconds, d.prediction.recommended_seconds, "predicted"
    confirmation = d.confirmation
    if confirmation is None or confirmation.recommended_seconds is None:
        return None, None, ""
    return confirmation.baseline_seconds, confirmation.recommended_seconds, "measured"


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
    from rich.text import Text

    console.print(Text(summary(report), style="dim"))
    console.print(Text(answer(report) or headline(report), style="bold"))
    for each in report.left_running:
        console.print(Text(f"ended what the program left running: {each}", style="yellow"))
    if report.candidates:
        console.print(_candidates(report, console.width))
    if report.not_diagnosed:
        console.print(Text("not diagnosed: ", style="bold yellow") + Text(report.not_diagnosed))
    for note in capture_notes(report):
        console.print(Text("note: ", style="bold yellow") + Text(note))
    if report.diagnosis is not None:
        _diagnosis(report, console)


def _diagnosis(report: ProgramReport, console: Console) -> None:
    from rich.syntax import Syntax
    from rich.text import Text

    from concdoctor.render import paths, terminal

    d = shown_diagnosis(report)
    assert d is not None
    parts = terminal.renderables(paths.for_readers(d), console.width)
    rewrite = report.rewrite
    if rewrite is not None:
        if rewrite.note:
            parts.append(Text("note: ", style="bold") + Text(rewrite.note))
        parts += terminal.code_block(rewrite.code(), "The loop, rewritten", console.width)
    elif report.depends:
        parts.append(Text("the loop is not rewritten: ", style="bold")
                     + Text(f"its calls depend on each other ({report.depends})"))
    elif report.rewrite_refused:
        parts.append(Text("the loop is not rewritten: ", style="bold")
                     + Text(f"{report.rewrite_refused}; the snippet runs the same calls"))
    for part in parts:
        console.print(part, soft_wrap=isinstance(part, Syntax))


def shown_diagnosis(report: ProgramReport) -> Diagnosis | None:
    """The diagnosis as the program report shows it: without its snippet for the calls
    where the loop is rewritten instead, or where its calls depend on each other (no
    pool runs them as the loop stands)."""
    d = report.diagnosis
    if d is None or d.recommendation is None or not (report.rewrite or report.depends):
        return d
    return replace(d, recommendation=replace(d.recommendation, snippet=None))


def _candidates(report: ProgramReport, width: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Candidates, by what concurrency could save", title_justify="left")
    for column in ("#", "Function and call site", "Calls", "Share", "Kind", "Could save"):
        table.add_column(column, justify="left" if "Function" in column or column == "Kind"
                         else "right", no_wrap=True)
    room = max(24, width - FIXED_COLUMNS)
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
    return table


FIXED_COLUMNS = 58
"""What the table's other columns and borders take of the terminal's width: the
function and its call site, on two lines, get the rest, cut at their start to fit."""
KIND_SHORT = {"io_bound": "waiting", "python_cpu_bound": "Python (GIL)",
              "gil_released_c": "C, no GIL", "mixed": "mixed", "overhead_bound": "too short",
              "unmeasured": "–"}


def markdown(report: ProgramReport) -> str:
    """The program report in GitHub-flavoured Markdown: the run, the answer, the
    candidates, then the diagnosis's own Markdown and the rewritten loop."""
    from concdoctor.render.markdown_report import MarkdownRenderer, md, table

    lines = [f"# concdoctor run: {md(' '.join(report.argv))}", "", md(summary(report)), "",
             f"**{md(answer(report) or headline(report))}**", ""]
    if report.candidates:
        lines += ["### Candidates, by what concurrency could save", ""]
        lines += table(
            ["#", "Function", "Call site", "Calls", "Share", "Kind", "Could save"],
            [(index, each.qualname, each.call_site, f"{each.calls:,}", percent(each.share),
              KIND_SHORT.get(each.kind, each.kind),
              seconds(each.saving_seconds) if each.picklable
              else f"arguments do not pickle: {each.reason}")
             for index, each in enumerate(report.candidates, 1)],
            ["r", "l", "l", "r", "r", "l", "r"])
        lines.append("")
    if report.not_diagnosed:
        lines += [f"> **Not diagnosed:** {md(report.not_diagnosed)}", ""]
    for note in capture_notes(report):
        lines += [f"> **Note:** {md(note)}", ""]
    shown = shown_diagnosis(report)
    if shown is not None:
        lines += ["#" + line if line.startswith("##") else line  # one level down
                  for line in MarkdownRenderer().render(shown).splitlines()]
        lines.append("")
    if report.rewrite is not None:
        if report.rewrite.note:
            lines += [f"Note: {md(report.rewrite.note)}", ""]
        lines += ["### The loop, rewritten", "", "```python", report.rewrite.code().rstrip(),
                  "```", ""]
    elif report.depends:
        lines += [f"The loop is not rewritten: its calls depend on each other "
                  f"({md(report.depends)}).", ""]
    elif report.rewrite_refused:
        lines += [f"The loop is not rewritten: {md(report.rewrite_refused)}; the snippet "
                  "runs the same calls.", ""]
    return "\n".join(lines).rstrip() + "\n"


def html(report: ProgramReport) -> str | None:
    """The program report as one HTML page: the run, its answer, its candidates and the
    loop rewritten, above the page of its diagnosis; None without a diagnosis."""
    from concdoctor.render import paths
    from concdoctor.render.html_report import context, environment

    shown = shown_diagnosis(report)
    if shown is None:
        return None
    not_rewritten = (f"its calls depend on each other ({report.depends})" if report.depends
                     else report.rewrite_refused)
    program = {
        "argv": " ".join(report.argv), "summary": summary(report),
        "answer": answer(report) or headline(report), "not_diagnosed": report.not_diagnosed,
        "notes": capture_notes(report),
        "candidates": [{
            "index": index, "function": each.qualname, "call_site": each.call_site,
            "calls": f"{each.calls:,}", "share": percent(each.share),
            "kind": KIND_SHORT.get(each.kind, each.kind), "chosen": each.function == report.chosen,
            "saving": seconds(each.saving_seconds) if each.picklable else "does not pickle"}
            for index, each in enumerate(report.candidates, 1)],
        "rewrite": report.rewrite.code() if report.rewrite else None,
        "rewrite_note": report.rewrite.note if report.rewrite else None,
        "not_rewritten": not_rewritten}
    template = environment().get_template("report.html.j2")
    return template.render(**context(paths.for_readers(shown)), program=program)


def files(report: ProgramReport) -> dict[str, str]:
    """File name → text of a ``concdoctor run`` report folder."""
    from concdoctor.render.speedscope import has_stacks, to_speedscope

    made = {"report.json": report.to_json(), "report.md": markdown(report)}
    page = html(report)
    if page is not None:
        made["report.html"] = page
    if report.diagnosis is not None and has_stacks(report.diagnosis):
        from concdoctor.render.files import SPEEDSCOPE_FILE

        made[SPEEDSCOPE_FILE] = to_speedscope(report.diagnosis)
    return made
