"""One self-contained HTML file: inline CSS and SVG, no script, no network fetch.

Rendered by Jinja2 with autoescaping on, so every user-controlled string (function
names, paths, exception text, the target) is escaped by the engine rather than by hand.
The JSON report is embedded verbatim (the JSON renderer's output, not a second walk of
the data) in a ``<script type="application/json">`` block, with ``<``, ``>`` and ``&``
written as JSON ``\\u`` escapes so that no string in it can close the block. A
Content-Security-Policy meta tag forbids every fetch and every script, as a second
line of defence and as a promise that the file works offline.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from concdoctor.diagnosis import Diagnosis
from concdoctor.render import charts, flame, paths, wording
from concdoctor.render.base import Renderer, register
from concdoctor.render.json_report import JsonRenderer

if TYPE_CHECKING:
    from jinja2 import Environment
    from markupsafe import Markup

_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def embed_json(text: str) -> Markup:
    """JSON text that is safe inside ``<script>``: no ``</script>``, no ``<!--``.

    The replacements are valid JSON string escapes, and the JSON syntax itself never
    uses these characters, so the embedded data parses back to the same values.
    """
    from markupsafe import Markup

    return Markup("".join(_JSON_ESCAPES.get(ch, ch) for ch in text))


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("concdoctor.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = wording.seconds
    env.filters["percent"] = wording.percent
    env.filters["times"] = wording.times
    return env


@register
class HtmlRenderer(Renderer):
    """The report a person reads: verdict card first, then the pictures behind it."""

    name = "html"
    extension = ".html"
    aliases = ("htm",)

    def render(self, diagnosis: Diagnosis) -> str:
        template = environment().get_template("report.html.j2")
        return template.render(**context(paths.for_readers(diagnosis)))


def context(d: Diagnosis) -> dict[str, Any]:
    """Everything the template shows, precomputed: the template holds no logic but loops."""
    ev = d.evidence
    shares = wording.shares(ev)
    rows = wording.executor_rows(d)
    return {
        "d": d,
        "ev": ev,
        "rec": d.recommendation,
        "headline": wording.headline(d),
        "kind_text": wording.kind_text(d),
        "status": wording.status(d),
        "status_css": wording.status(d).replace(" ", "-"),
        "speedup_text": wording.speedup_text(d),
        "prediction": wording.prediction_text(d),
        "revision": wording.revision_text(d),
        "failure_text": wording.failure_text(d),
        "degraded": wording.degraded_text(ev),
        "shares": shares,
        "segments": charts.share_segments(shares) if shares else [],
        "evidence_rows": wording.evidence_rows(ev) if ev else [],
        "rows": rows,
        "unavailable": wording.unavailable_lines(d),
        "chart": charts.executor_chart(rows),
        "scaling": charts.scaling_chart(d),
        "more_cores": wording.more_cores_text(d),
        "flame": flame.layout(ev.stacks) if ev else None,
        "functions": wording.function_rows(ev) if ev else [],
        "functions_title": wording.FUNCTIONS_TITLE,
        "functions_note": wording.functions_note(ev) if ev else None,
        "flame_row": flame.ROW,
        "environment_rows": wording.environment_rows(d),
        "workload": wording.workload_text(d),
        "state_labels": wording.STATE_LABELS,
        "state_meanings": wording.STATE_MEANINGS,
        "created": wording.created_text(d) if d.created_at else "",
        "data_json": embed_json(JsonRenderer().render(d).strip()),
        "snippet_title": wording.SNIPPET_TITLE,
        "inline": False,  # the page; render/inline.py shows the body in a notebook
    }
