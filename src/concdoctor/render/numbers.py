"""Numbers as a reader takes them in: durations with a unit, sizes, shares, factors, a
pool and its size. Reports use typographic signs (``2.00×``); ``plain=True`` gives what a
CI log shows (``2.00x``)."""

from __future__ import annotations

from concdoctor.executors import SEQUENTIAL


def pool(executor: str, workers: int | None, *, plain: bool = False, inner: int = 1) -> str:
    """An executor and its size: ``thread × 8`` (``thread x8`` plain), ``hybrid × 2 × 8``
    for processes that each run calls at once; sequential alone."""
    if executor == SEQUENTIAL or not workers or workers <= 0:
        return executor
    sign = "x" if plain else "× "
    nested = f" {sign}{inner}" if inner > 1 else ""
    return f"{executor} {sign}{workers}{nested}"


def seconds(value: float | None) -> str:
    """Durations with a unit a human reads at a glance: 2.40 s, 300 ms, 120 µs."""
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    if value > 0:
        return f"{value * 1e6:.3g} µs"
    return "0 s"


def size(count: int | None) -> str:
    """Bytes as a person reads them: 11.4 MB, 820 kB."""
    if count is None:
        return "–"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} B"


def duration(value: float) -> str:
    """A duration as :func:`seconds` gives it, in minutes and seconds from two minutes."""
    if value < 120:
        return seconds(value)
    minutes, rest = divmod(round(value), 60)
    if minutes >= 120:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def percent(fraction: float | None, *, plain: bool = False) -> str:
    if fraction is None:
        return "n/a" if plain else "–"
    return f"{fraction * 100:.0f}%"


def times(factor: float | None, *, plain: bool = False) -> str:
    if factor is None:
        return "n/a" if plain else "–"
    return f"{factor:.2f}x" if plain else f"{factor:.2f}×"


# -- verdict ------------------------------------------------------------------------------


def fit_start(text: str, room: int) -> str:
    """``text`` cut at its start to ``room`` characters: a path's tail says most."""
    return text if len(text) <= room else "…" + text[len(text) - room + 1:]
