"""The report inside a notebook: ``Diagnosis._repr_html_`` and ``_repr_markdown_``.

The HTML is the page's own body (``report_body.html.j2``, shared with the HTML report so
the two cannot drift) without the flame graph, the function table and the environment:
the verdict, the shares, the executors with the scaling chart, the snippet, the notes.
A notebook output is a fragment of the notebook's page, so the report's CSS is scoped:
every rule is rewritten under :data:`ROOT` (the page's ``:root``, ``html`` and ``body``
become that element), and nothing outside the output is restyled. No script, no URL.
"""

from __future__ import annotations

import functools
import re

from concdoctor.diagnosis import Diagnosis
from concdoctor.render import html_report, paths

ROOT = ".concdoctor-report"
_PAGE = re.compile(r"^(?::root|html|body)(?![\w-])")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_NESTING = ("@media", "@supports")
INLINE_CSS = """
body { max-width: 1100px; border-radius: 12px; }
.page { max-width: none; margin: 0; padding: 16px 18px 8px; }
.verdict, .card { padding: 16px 20px; }
.headline { font-size: 26px; }
"""
"""The page's width and spacing, tighter in a notebook's cell (``body`` is the output)."""


def html(diagnosis: Diagnosis) -> str:
    """The report as one notebook output (``text/html``)."""
    from markupsafe import Markup

    template = html_report.environment().get_template("inline.html.j2")
    context = html_report.context(paths.for_readers(diagnosis))
    return template.render({**context, "inline": True, "css": Markup(_css())})


def markdown(diagnosis: Diagnosis) -> str:
    """The Markdown report: the output where HTML is not shown."""
    from concdoctor.render import get_renderer

    return get_renderer("md").render(diagnosis)


def text(diagnosis: Diagnosis, width: int = 100) -> str:
    """The terminal report, for terminal IPython (``_repr_pretty_``), where neither HTML
    nor Markdown is shown."""
    from concdoctor.render import get_renderer

    return get_renderer("terminal").render(diagnosis, width=width)  # type: ignore[call-arg]


@functools.lru_cache(maxsize=1)
def _css() -> str:
    from importlib.resources import files

    page = files("concdoctor.render").joinpath("templates/report.css").read_text("utf-8")
    return scoped(page + INLINE_CSS, ROOT)


def scoped(css: str, root: str) -> str:
    """``css`` with every rule applying only inside ``root`` (nested ``@media`` too)."""
    css = _COMMENT.sub("", css)
    rules, position = [], 0
    while (opening := css.find("{", position)) >= 0:
        prelude, closing = css[position:opening].strip(), _closing(css, opening)
        body = css[opening + 1:closing]
        if prelude.startswith(_NESTING):
            rules.append(f"{prelude} {{\n{scoped(body, root)}}}")
        elif prelude.startswith("@"):  # @keyframes, @font-face: not selectors
            rules.append(f"{prelude} {{{body}}}")
        else:
            rules.append(f"{_selectors(prelude, root)} {{{body}}}")
        position = closing + 1
    return "\n".join(rules) + "\n"


def _selectors(prelude: str, root: str) -> str:
    scoped_ones = []
    for selector in (each.strip() for each in prelude.split(",")):
        selector = _PAGE.sub(root, selector)
        scoped_ones.append(selector if selector.startswith(root) else f"{root} {selector}")
    return ", ".join(scoped_ones)


def _closing(css: str, opening: int) -> int:
    """The index of the brace that closes the one at ``opening``."""
    depth = 0
    for index in range(opening, len(css)):
        depth += {"{": 1, "}": -1}.get(css[index], 0)
        if depth == 0:
            return index
    raise ValueError("unbalanced braces in the report's CSS")
