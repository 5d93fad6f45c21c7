"""Geometry for the HTML report's inline SVG charts, kept out of the template.

Three pictures: the stacked bar of where the worker thread's samples went (idle, GIL
held, GIL released); one bar per measured executor, length = median batch time,
labelled with its speedup over the sequential baseline; and each executor's predicted
speedup against its worker count, with the measured points on the lines. Coordinates
are SVG user units (percent for the stacked bar); the template scales the view box to
the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from concdoctor.diagnosis import Diagnosis
from concdoctor.render import wording

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


# -- the scaling chart: speedup against workers -------------------------------------------
SCALE_HEIGHT = 300.0
SCALE_LEFT, SCALE_RIGHT, SCALE_TOP, SCALE_BOTTOM = 70.0, 930.0, 20.0, 260.0


@dataclass(frozen=True)
class Series:
    executor: str
    points: str
    """SVG polyline points, ``x,y x,y ...``."""
    label_x: float
    label_y: float
    measured: tuple[tuple[float, float, str], ...]
    """Measured points: x, y and a tooltip."""


@dataclass(frozen=True)
class ScalingChart:
    series: tuple[Series, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    width: float
    height: float
    cores: int


def scaling_chart(d: Diagnosis) -> ScalingChart | None:
    """Predicted speedup against workers on this machine's cores, one line per executor,
    the measured points marked on them."""
    cores = d.environment.cpu_count
    curves = {name: [p for p in points if p.cores == cores] for name, points in d.scaling.items()}
    curves = {name: points for name, points in curves.items() if len(points) > 1}
    if not curves:
        return None
    top = max(max(p.predicted_speedup, p.measured_speedup or 0.0)
              for points in curves.values() for p in points)
    top = max(2.0, _nice(top * 1.1))
    widest = max(p.workers for points in curves.values() for p in points)

    def x(workers: int) -> float:
        span = math.log2(max(widest, 2))
        return round(SCALE_LEFT + (SCALE_RIGHT - SCALE_LEFT) * math.log2(workers) / span, 1)

    def y(speedup: float) -> float:
        return round(SCALE_BOTTOM - (SCALE_BOTTOM - SCALE_TOP) * speedup / top, 1)

    series = []
    for name, points in curves.items():
        line = " ".join(f"{x(p.workers)},{y(p.predicted_speedup)}" for p in points)
        marks = tuple((x(p.workers), y(p.measured_speedup),
                       f"{name} × {p.workers}: measured {wording.times(p.measured_speedup)}")
                      for p in points if p.measured_speedup is not None)
        last = points[-1]
        series.append(Series(name, line, x(last.workers) + 8, y(last.predicted_speedup) + 4,
                             marks))
    sizes = sorted({p.workers for points in curves.values() for p in points})
    step = max(1.0, _nice(top / 5))
    y_ticks = tuple((y(v * step), f"{v * step:g}×") for v in range(int(top / step) + 1))
    return ScalingChart(tuple(series), tuple((x(w), str(w)) for w in sizes), y_ticks,
                        CHART_WIDTH, SCALE_HEIGHT, cores)


def _nice(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value``."""
    power = 10 ** math.floor(math.log10(value)) if value > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)
