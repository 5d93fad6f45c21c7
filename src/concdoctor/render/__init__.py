"""Report renderers: one :class:`~concdoctor.diagnosis.Diagnosis`, several formats.

``get_renderer("html")`` (or ``"report.md"``, ``".json"``, ``"terminal"``) returns a
renderer whose ``render(diagnosis)`` gives the text; :func:`write_report_folder` writes
a run's folder of reports atomically. Importing this package loads neither rich nor
jinja2: each renderer imports its library when it renders.
"""

from __future__ import annotations

# Importing the renderer modules registers them in RENDERERS.
from concdoctor.render import html_report, json_report, markdown_report, terminal  # noqa: F401
from concdoctor.render.base import RENDERERS, Renderer, get_renderer
from concdoctor.render.files import atomic_write_text, write_report_folder
from concdoctor.render.speedscope import to_speedscope

__all__ = [
    "RENDERERS",
    "Renderer",
    "atomic_write_text",
    "get_renderer",
    "to_speedscope",
    "write_report_folder",
]
