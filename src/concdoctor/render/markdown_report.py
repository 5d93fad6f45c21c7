"""GitHub-flavoured Markdown, for a pull-request comment or a CI job summary.

Function names, file paths, the target and exception text come from the user's code, so
every dynamic string goes through :func:`md`: HTML-significant characters become
entities (no injected ``<script>``, no stray tags), Markdown punctuation is
backslash-escaped (a ``__init__`` stays ``__init__`` instead of turning bold; a backtick
cannot open a code span), ``|`` is escaped so a cell cannot split a table row, and
newlines are folded so a cell cannot end a row early.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from concdoctor.diagnosis import Diagnosis, Evidence
from concdoctor.render import paths, wording
from concdoctor.render.base import Renderer, register

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# ``_`` between two letters or digits cannot start emphasis in GFM (``sum_of_squares``
# stays readable in the raw text); anywhere else it could (``__init__``), so it is escaped.
_PUNCTUATION = re.compile(r"([\\`*\[\]~|#]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")
_BADGES = {"confirmed": "✅ confirmed", "not confirmed": "⚠️ not confirmed",
           "not measured": "not measured"}


def md(text: object) -> str:
    """Escape any user-controlled text for a Markdown table cell or a paragraph."""
    raw = _NEWLINES.sub(" ", str(text)).strip()
    escaped = "".join(_ENTITIES.get(ch, ch) for ch in raw)
    return _PUNCTUATION.sub(r"\\\1", escaped)


def html_escape(text: object) -> str:
    """Escape text for a raw HTML block (``<pre>``), where Markdown is not parsed."""
    return "".join(_ENTITIES.get(ch, ch) for ch in str(text))


def table(header: Sequence[str], rows: Iterable[Sequence[object]],
          align: Sequence[str] | None = None) -> list[str]:
    """A GFM table; cells are escaped here, so callers pass plain text."""
    align = align or ["l"] * len(header)
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(md(h) for h in header) + " |",
             "| " + " | ".join(rule[a] for a in align) + " |"]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


@register
class MarkdownRenderer(Renderer):
    """Verdict first, then the tables a reviewer checks it against."""

    name = "markdown"
    extension = ".md"
    aliases = ("md",)

    def render(self, diagnosis: Diagnosis) -> str:
        d = paths.for_readers(diagnosis)
        lines = [f"## concdoctor: {md(d.target)}", ""]
        if d.failure is not None:
            lines += [f"> **Partial report.** {md(wording.failure_text(d))}", ""]
        lines += _verdict(d)
        if d.evidence is not None:
            lines += _evidence(d.evidence)
        lines += _executors(d)
        lines += _scaling(d)
        if d.evidence is not None and d.evidence.stacks:
            lines += _functions(d.evidence)
        lines += ["### Environment", ""]
        lines += [*table(["Setting", "Value"], wording.environment_rows(d)), ""]
        lines += _tail(d)
        return "\n".join(lines).rstrip() + "\n"


def _verdict(d: Diagnosis) -> list[str]:
    state = wording.status(d)
    title = f"### Verdict: {md(wording.headline(d))}"
    if d.speedup is not None:
        title += f" — {_BADGES[state]} {md(wording.times(d.speedup))}"
    rows: list[tuple[str, str]] = [
        ("Bottleneck", wording.kind_text(d)),
        ("Recommendation", wording.headline(d)),
        ("Measured speedup", wording.speedup_text(d) if state == "not measured"
         else f"{wording.speedup_text(d)} — {state}"),
        ("Workload", wording.workload_text(d)),
    ]
    predicted = wording.prediction_text(d)
    if predicted:
        rows.insert(3, ("Whole batch", predicted))
    rec = d.recommendation
    if rec is not None:
        rows.append(("Rule", f"{rec.rule}: {rec.reason}"))
        revision = wording.revision_text(d)
        if revision:
            rows.append(("Revised", revision))
        if rec.advice:
            rows.append(("Advice", rec.advice))
    if d.classification is not None and d.classification.signals:
        rows.append(("Signals", "; ".join(d.classification.signals)))
    return [title, "", *table(["", ""], rows), ""]


def _evidence(ev: Evidence) -> list[str]:
    lines = ["### Evidence", ""]
    degraded = wording.degraded_text(ev)
    if degraded:
        lines += [f"> ⚠️ {md(degraded)}", ""]
    rows = []
    shares = wording.shares(ev)
    if shares is not None:
        rows.append(("Time shares", " · ".join(
            wording.share_text(s, v, ev) for s, v in shares.items())))
    rows += wording.evidence_rows(ev)
    return lines + table(["Measure", "Value"], rows) + [""]


def _executors(d: Diagnosis) -> list[str]:
    rows = wording.executor_rows(d)
    if not rows:
        return []
    body = [
        (("**" + md(r.label) + "**") if r.recommended else md(r.label),
         wording.seconds(r.median_seconds), wording.times(r.speedup), r.results, r.memory,
         r.verdict)
        for r in rows
    ]
    lines = ["### Executors measured", ""]
    lines += table(["Executor", "Median", "Speedup", "Results", "Memory/worker", "Outcome"], [],
                   ["l", "r", "r", "l", "r", "l"])
    # The label is pre-escaped (bold for the recommended one); the rest goes through md().
    lines += [f"| {label} | {md(med)} | {md(sp)} | {md(res)} | {md(mem)} | {md(why)} |"
              for label, med, sp, res, mem, why in body]
    note = d.confirmation.note if d.confirmation else None
    lines += ["", md(note)] if note else []
    missing = wording.unavailable_lines(d)
    lines += ["", "Not on this Python:", *(f"- {md(line)}" for line in missing)] if missing else []
    return lines + [""]


def _scaling(d: Diagnosis) -> list[str]:
    if not d.scaling:
        return []
    header, rows = wording.scaling_rows(d)
    lines = [f"### Predicted speedup by workers ({d.environment.cpu_count} cores, * measured)",
             "", *table(header, rows, ["l", *["r"] * (len(header) - 1)]), ""]
    more = wording.more_cores_text(d)
    return lines + ([md(more), ""] if more else [])


def _functions(ev: Evidence) -> list[str]:
    rows = [(f.name, f.location, f.total, f.self, f.time, f.calls, f.per_call)
            for f in wording.function_rows(ev)]
    header = ["Function", "Location", "Total", "Self", "Time", "Calls", "Per call"]
    body = table(header, rows, ["l", "l", "r", "r", "r", "r", "r"])
    note = wording.functions_note(ev)
    return [f"### {wording.FUNCTIONS_TITLE}", "", md(f"From {wording.FUNCTIONS_SOURCE}."),
            "", *body, "", *([md(note), ""] if note else [])]


def _code_block(code: str) -> list[str]:
    """A fenced Python block (highlighted on GitHub), its fence longer than any run of
    backticks in the code; as escaped HTML when the code holds HTML-significant text."""
    if any(ch in code for ch in _ENTITIES):
        return [f"<pre><code>{html_escape(code.rstrip())}</code></pre>"]
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}python", code.rstrip(), fence]


def _tail(d: Diagnosis) -> list[str]:
    lines: list[str] = []
    code = d.recommendation.snippet if d.recommendation else None
    if code:
        lines += [f"### {wording.SNIPPET_TITLE}", "", *_code_block(code), ""]
    if d.notes:
        lines += ["### Notes", ""] + [f"- {md(note)}" for note in d.notes] + [""]
    if d.failure is not None:
        lines += ["### Failure", "", f"**{md(d.failure.phase)}**: {md(d.failure.message)}", ""]
        if d.failure.detail:
            lines += ["<details><summary>Details</summary>", "",
                      f"<pre>{html_escape(d.failure.detail)}</pre>", "", "</details>", ""]
    if d.command:
        lines += ["### Reproduce", "", f"<pre><code>{html_escape(d.command)}</code></pre>", ""]
    if d.created_at:
        lines += [f"<sub>Report created {md(wording.created_text(d))}, schema version "
                  f"{d.schema_version}.</sub>", ""]
    return lines
