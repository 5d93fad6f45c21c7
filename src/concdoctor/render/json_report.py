"""The versioned JSON report: the contract that scripts and re-rendering rely on."""

from __future__ import annotations

from concdoctor.diagnosis import Diagnosis
from concdoctor.render.base import Renderer, register


@register
class JsonRenderer(Renderer):
    """``Diagnosis.to_json`` as is, so a saved report loads back with ``from_json``."""

    name = "json"
    extension = ".json"

    def render(self, diagnosis: Diagnosis) -> str:
        return diagnosis.to_json() + "\n"
