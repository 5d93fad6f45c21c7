"""The sampled stacks as a speedscope file, to explore them in speedscope's viewer.

The output follows https://www.speedscope.app/file-format-schema.json: one shared frame
table and ``sampled`` profiles whose samples are stacks of frame indices, root first,
weighted by py-spy sample counts (unit ``none``). The first profile holds every sample;
one more profile per thread state (idle, GIL held, GIL released) follows for each state
that has samples, so the viewer can show where the GIL was held.

A diagnosis without stacks (py-spy degraded, or a partial report) has nothing to show:
:func:`to_speedscope` raises :class:`ValueError` then, and :func:`has_stacks` lets a
caller check first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from concdoctor.diagnosis import Diagnosis, StackSamples
from concdoctor.render import wording

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def has_stacks(diagnosis: Diagnosis) -> bool:
    ev = diagnosis.evidence
    return bool(ev and any(s.total > 0 and s.frames for s in ev.stacks))


def parse_frame(frame: str) -> dict[str, Any]:
    """py-spy's ``func (file.py:12)`` as a speedscope frame; other text is just a name."""
    match = _FRAME.match(frame)
    if not match or not match["file"]:
        return {"name": frame}
    out: dict[str, Any] = {"name": match["name"], "file": match["file"]}
    if match["line"]:
        out["line"] = int(match["line"])
    return out


def to_speedscope(diagnosis: Diagnosis) -> str:
    """The speedscope JSON text; :class:`ValueError` when there are no sampled stacks."""
    if not has_stacks(diagnosis):
        raise ValueError(
            "no sampled stacks in this report (py-spy did not sample): nothing for speedscope"
        )
    assert diagnosis.evidence is not None
    stacks = [s for s in diagnosis.evidence.stacks if s.total > 0 and s.frames]
    index: dict[str, int] = {}
    for stack in stacks:
        for frame in stack.frames:
            index.setdefault(frame, len(index))
    profiles = [_profile(f"{diagnosis.target}: all samples", stacks, index, None)]
    for state, label in wording.STATE_LABELS.items():
        if any(getattr(s, state) for s in stacks):
            profiles.append(_profile(f"{diagnosis.target}: {label}", stacks, index, state))
    document = {
        "$schema": SCHEMA,
        "name": f"concdoctor: {diagnosis.target}",
        "exporter": f"concdoctor {diagnosis.environment.concdoctor}".strip(),
        "activeProfileIndex": 0,
        "shared": {"frames": [parse_frame(frame) for frame in index]},
        "profiles": profiles,
    }
    return json.dumps(document, indent=1) + "\n"


def _profile(name: str, stacks: list[StackSamples], index: dict[str, int],
             state: str | None) -> dict[str, Any]:
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack in stacks:
        weight = stack.total if state is None else getattr(stack, state)
        if weight > 0:
            samples.append([index[frame] for frame in stack.frames])
            weights.append(weight)
    return {
        "type": "sampled",
        "name": name,
        "unit": "none",
        "startValue": 0,
        "endValue": sum(weights),
        "samples": samples,
        "weights": weights,
    }
