"""The progress of a notebook diagnosis: one bar in the cell's output, updated in place.

Like tqdm.notebook or rich in Jupyter, the bar is one display (a display id) that each
update replaces, so a long batch never prints a line per task; updates within a phase
come at most every :data:`EVERY_SECONDS`. HTML for the notebook (a ``<progress>`` element,
no script), one plain line for a terminal IPython. Once the report is shown the bar is
emptied.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

EVERY_SECONDS = 0.5
STYLE = ("font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; "
         "display: flex; gap: 10px; align-items: center")


class CellProgress:
    """``progress(message[, done, total])``, the pipeline's progress callback."""

    def __init__(self) -> None:
        self.handle: Any = None
        self.message = ""
        self.shown = 0.0
        self.started = time.monotonic()

    def __call__(self, message: str, done: int | None = None, total: int | None = None,
                 **_: Any) -> None:
        now = time.monotonic()
        if message == self.message and now - self.shown < EVERY_SECONDS and done != total:
            return
        self.message, self.shown = message, now
        self._show(bundle(message, done, total, now - self.started))

    def close(self) -> None:
        """Empty the bar: the report follows."""
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)

    def _show(self, data: dict[str, str]) -> None:
        if self.handle is None:
            from IPython.display import display

            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)


def bundle(message: str, done: int | None, total: int | None, elapsed: float) -> dict[str, str]:
    """The bar as HTML and as text: the phase, tasks done of the total, seconds so far."""
    count = f"{done or 0}/{total} tasks" if total else ""
    text = " · ".join(part for part in ("concdoctor", message, count, f"{elapsed:.0f} s")
                      if part)
    bar = (f'<progress value="{done or 0}" max="{total}" style="width: 240px"></progress>'
           if total else '<progress style="width: 240px"></progress>')
    html = (f'<div class="concdoctor-progress" style="{STYLE}"><strong>concdoctor</strong>'
            f"{bar}<span>{escape(message)}</span><span>{escape(count)}</span>"
            f'<span style="opacity: .7">{elapsed:.0f} s</span></div>')
    return {"text/html": html, "text/plain": text}
