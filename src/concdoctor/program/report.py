"""What ``concdoctor run`` found: plain frozen data, and its JSON report.

The JSON shape (``schema_version`` 1, additive to the profile report's contract)::

    {"schema_version": 1, "report": "program", "target": null,
     "environment": {"python": "3.11.7", "cpu_count": 2},
     "program": {"argv": ["etl.py", "config.yaml"], "module": false,
                 "exit_code": 0, "wall_seconds": 12.3, "timed_out": false,
                 "failure": null, "sampling": "py-spy", "left_running": [],
                 "recorder_overhead": {"backend": "sys.setprofile",
                     "per_call_seconds": 1.5e-06, "per_skipped_seconds": 2e-07,
                     "bytecode_slowdown": 1.5,
                     "events": 90000, "calls": 40000, "seconds": 0.5,
                     "fraction": 0.04},
                 "candidates": [{"function": "etl.py:parse", "call_site":
                     "etl.py:41 in main", "loop": "etl.py:40", "calls": 4000,
                     "seconds": 8.8, "share": 0.72, "kind": "io_bound", "idle": 0.97,
                     "gil": 0.02, "released": 0.01, "picklable": true, "reason": null,
                     "saving_seconds": 8.5}],
                 "chosen": null,
                 "functions": [{"function": "etl.py:parse", "calls": 4000,
                     "seconds": 8.8, "share": 0.72, "counted_all": true, "idle": 0.97,
                     "gil": 0.02, "released": 0.01,
                     "call_sites": ["etl.py:41 in main (4000 calls)"]}]}}

``target`` names the chosen function, and ``chosen`` the candidate diagnosed, once
calls are captured and diagnosed (not yet: both stay null).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from concdoctor.program.candidates import Candidate, FunctionTime

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RecorderCost:
    """What the recorder added to the run, estimated from its costs measured in the
    program's process before the program started (``recorder.Cost``): the recorded
    calls and the other events at their cost, plus the slower bytecode under a hook
    times the run's GIL-held (Python-running) seconds; at most 95 % of the run."""

    backend: str
    per_call_seconds: float
    per_skipped_seconds: float
    bytecode_slowdown: float
    events: int
    calls: int
    seconds: float
    fraction: float
    """``seconds`` over the run's wall time without them."""


@dataclass(frozen=True)
class ProgramReport:
    argv: tuple[str, ...]
    module: bool
    exit_code: int | None
    wall_seconds: float
    timed_out: bool
    recorder: RecorderCost | None
    candidates: tuple[Candidate, ...]
    python: str
    cpu_count: int
    sampling: str = "py-spy"
    """``py-spy``, or why there were no samples (then kinds are ``unmeasured``)."""
    left_running: tuple[str, ...] = ()
    failure: str | None = None
    """One line when the program did not end with exit code 0 (or ran past the timeout)."""
    chosen: str | None = field(default=None)
    functions: tuple[FunctionTime, ...] = ()
    """The functions that took the most time, candidates or not."""

    def to_dict(self) -> dict[str, Any]:
        program = {
            "argv": list(self.argv), "module": self.module, "exit_code": self.exit_code,
            "wall_seconds": round(self.wall_seconds, 4), "timed_out": self.timed_out,
            "failure": self.failure, "sampling": self.sampling,
            "left_running": list(self.left_running),
            "recorder_overhead": asdict(self.recorder) if self.recorder else None,
            "candidates": [each.to_dict() for each in self.candidates],
            "chosen": self.chosen,
            "functions": [each.to_dict() for each in self.functions]}
        return {"schema_version": SCHEMA_VERSION, "report": "program", "target": self.chosen,
                "environment": {"python": self.python, "cpu_count": self.cpu_count},
                "program": program}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramReport:
        program = data["program"]
        cost = program.get("recorder_overhead")
        return cls(
            argv=tuple(program["argv"]), module=program["module"],
            exit_code=program["exit_code"], wall_seconds=program["wall_seconds"],
            timed_out=program["timed_out"],
            recorder=RecorderCost(**cost) if cost else None,
            candidates=tuple(Candidate.from_dict(each) for each in program["candidates"]),
            python=data["environment"]["python"], cpu_count=data["environment"]["cpu_count"],
            sampling=program["sampling"], left_running=tuple(program["left_running"]),
            failure=program["failure"], chosen=program["chosen"],
            functions=tuple(FunctionTime.from_dict(each)
                            for each in program.get("functions", ())))

    @classmethod
    def from_json(cls, text: str) -> ProgramReport:
        return cls.from_dict(json.loads(text))
