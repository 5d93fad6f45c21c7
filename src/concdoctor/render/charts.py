"""Geometry for the HTML report's inline SVG charts, kept out of the template.

Two pictures: the stacked bar of where the worker thread's samples went (idle, GIL held,
GIL released), and one bar per measured executor, length = median batch time, labelled
with its speedup over the sequential baseline. Coordinates are SVG user units (percent
for the stacked bar); the template scales the view box to the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdoctor import wording

CHART_WIDTH = 1064.0  # the card's content width on a desktop page: drawn at 1:1 there
LABEL_COLUMN = 200.0
PLOT_WIDTH = 640.0
BAR_ROW = 36.0
BAR_HEIGHT = 22.0


@dataclass(frozen=True)
class Segment:
    state: str
    label: str
    fraction: float
    x: float
    width: float
    text: str


@dataclass(frozen=True)
class Bar:
    row: wording.ExecutorRow
    y: float
    width: float
    value_text: str
    css: str


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: float
    height: float
    label_x: float
    plot_x: float


def share_segments(shares: dict[str, float]) -> list[Segment]:
    """Stacked segments in percent of the bar's width, normalised (shares need not sum to 1).

    Percent coordinates let the bar stretch to any width without scaling its labels.
    """
    total = sum(shares.values())
    if total <= 0:
        return []
    out, x = [], 0.0
    for state, value in shares.items():
        width = 100.0 * value / total
        text = wording.percent(value) if width >= 7 else ""
        out.append(Segment(state, wording.STATE_LABELS[state], value, round(x, 2),
                           round(width, 2), text))
        x += width
    return out


def executor_chart(rows: list[wording.ExecutorRow]) -> BarChart | None:
    """One bar per executor; skipped or unmeasured ones keep a row that says why."""
    if not rows:
        return None
    longest = max((r.median_seconds or 0.0) for r in rows)
    bars = []
    for i, r in enumerate(rows):
        if r.median_seconds is None or longest <= 0:
            width, value = 0.0, r.verdict
        else:
            width = max(2.0, PLOT_WIDTH * r.median_seconds / longest)
            value = f"{wording.seconds(r.median_seconds)} · {wording.times(r.speedup)}"
        css = ("recommended" if r.recommended else "baseline" if r.baseline
               else "skipped" if r.median_seconds is None else "other")
        bars.append(Bar(r, i * BAR_ROW, round(width, 2), value, css))
    return BarChart(tuple(bars), CHART_WIDTH, len(bars) * BAR_ROW, LABEL_COLUMN - 12,
                    LABEL_COLUMN)
