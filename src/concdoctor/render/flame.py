"""An icicle flame graph laid out from the sampled stacks, ready for inline SVG.

Layout is pure arithmetic here, so the HTML template only places rectangles and the
layout is tested without a browser. Stacks are merged by common prefix (root at the
top); a frame's width is its inclusive sample count, and its colour is the thread state
that dominates its samples: that is the picture that tells GIL-bound code from code
that waits or runs without the GIL.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from concdoctor.diagnosis import StackSamples
from concdoctor.render import wording

WIDTH = 1064.0  # the card's content width on a desktop page: labels drawn at 1:1
ROW = 20.0
MAX_DEPTH = 48
MIN_WIDTH = 0.8  # narrower frames are too thin to see or hover; they are dropped
CHAR_WIDTH = 7.0  # of the 11.5px monospace label font, in SVG units, to fit labels without clipping
PALETTE = {
    "idle": ("#b8c4d6", "#a9b7cc", "#c7d1e0"),
    "gil": ("#f3a66b", "#f0955a", "#f6b784"),
    "released": ("#6cc4a1", "#5bb792", "#80cfaf"),
}


@dataclass
class _Node:
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(wording.STATES, 0))
    children: dict[str, _Node] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FlameRect:
    """One frame of the graph, in SVG user units of a ``WIDTH``-wide view box."""

    x: float
    y: float
    width: float
    name: str
    label: str
    state: str
    fill: str
    title: str


@dataclass(frozen=True)
class FlameGraph:
    rects: tuple[FlameRect, ...]
    width: float
    height: float
    total: int
    dropped: int


def build_tree(stacks: tuple[StackSamples, ...]) -> _Node:
    root = _Node("all samples")
    for stack in stacks:
        node = root
        for state in wording.STATES:
            root.counts[state] += getattr(stack, state)
        for frame in stack.frames[:MAX_DEPTH]:
            node = node.children.setdefault(frame, _Node(frame))
            for state in wording.STATES:
                node.counts[state] += getattr(stack, state)
    return root


def layout(stacks: tuple[StackSamples, ...]) -> FlameGraph | None:
    """Rectangles for every frame wide enough to see; ``None`` when nothing was sampled."""
    root = build_tree(tuple(s for s in stacks if s.total > 0))
    if root.total == 0:
        return None
    rects: list[FlameRect] = []
    dropped = _place(root, 0.0, 0, WIDTH / root.total, root.total, rects)
    depth = max(int(r.y // ROW) for r in rects) + 1
    return FlameGraph(tuple(rects), WIDTH, depth * ROW, root.total, dropped)


def _place(node: _Node, x: float, depth: int, scale: float, grand_total: int,
           out: list[FlameRect]) -> int:
    """Append ``node`` and its children (widest first); return how many were dropped."""
    width = node.total * scale
    if width < MIN_WIDTH:
        return 1
    out.append(_rect(node, x, depth * ROW, width, grand_total))
    dropped = 0
    for child in sorted(node.children.values(), key=lambda n: (-n.total, n.name)):
        dropped += _place(child, x, depth + 1, scale, grand_total, out)
        x += child.total * scale
    return dropped


def dominant(counts: dict[str, int]) -> str:
    return max(wording.STATES, key=lambda state: counts[state])


def _rect(node: _Node, x: float, y: float, width: float, grand_total: int) -> FlameRect:
    state = dominant(node.counts)
    shades = PALETTE[state]
    fill = shades[zlib.crc32(node.name.encode()) % len(shades)]
    return FlameRect(x=round(x, 2), y=y, width=round(width, 2), name=node.name,
                     label=fit_label(node.name, width), state=state, fill=fill,
                     title=_title(node, grand_total))


def fit_label(name: str, width: float) -> str:
    """The frame name cut to the box, with an ellipsis; empty when not even 3 chars fit."""
    room = int((width - 6) // CHAR_WIDTH)
    if room < 3:
        return ""
    return name if len(name) <= room else name[: room - 1] + "…"


def _title(node: _Node, grand_total: int) -> str:
    total = node.total
    shares = " · ".join(f"{wording.STATE_LABELS[s]} {wording.percent(node.counts[s] / total)}"
                        for s in wording.STATES)
    plural = "sample" if total == 1 else "samples"
    share = wording.percent(total / grand_total)
    return f"{node.name}\n{total} {plural} ({share} of all)\n{shares}"
