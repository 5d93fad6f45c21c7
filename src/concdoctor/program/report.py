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

``target`` and ``program.chosen`` name the candidate diagnosed (its ``function``), and
``program.diagnosis`` is that diagnosis: the profile report's own JSON, of the captured
calls. ``program.capture`` says what the capture's run took::

    "capture": {"captured": 120, "wanted": 120, "seen": 4000, "total": 4000,
                "too_big": 0, "problem": null, "seed": 0, "per_call_bytes": 2236962}

Without a diagnosis, ``program.not_diagnosed`` says why (one line). A candidate's
``file`` and ``site_file`` are absolute paths, as in the profile report's JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from concdoctor.diagnosis import Diagnosis
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
class CaptureFacts:
    """What the program's second run captured of the chosen call site's calls."""

    captured: int
    wanted: int
    """The calls picked (spread over the first run's count)."""
    seen: int
    """The calls the second run made from the call site."""
    total: int
    """The calls the first run made from it: what the prediction scales to."""
    too_big: int
    """Picked calls left out: their arguments took more than their share of memory."""
    problem: str | None
    """Why a picked call's arguments did not pickle, for the first that did not."""
    seed: int
    per_call_bytes: int
    run_failure: str | None = None
    """How the capture's run of the program failed (one line), when it did."""
    while_running: bool = False
    """The calls were diagnosed while the capture's run waited after its last picked
    call (what they need, such as files it removes at its end, still existed); else
    after it ended."""


@dataclass(frozen=True)
class LoopRewrite:
    """The program's loop rewritten to run the diagnosed calls on the advised executor."""

    file: str
    """The file, as the report shows it (relative to the project)."""
    first_line: int
    last_line: int
    imports: tuple[str, ...]
    before: str
    """The lines it replaces, as they are."""
    after: str
    note: str | None = None

    def code(self) -> str:
        """The imports and the replacement, as one block to read and paste."""
        lines = []
        if self.imports:
            lines += [f"# at the top of {self.file}:", *self.imports, ""]
        span = (f"line {self.first_line}" if self.first_line == self.last_line
                else f"lines {self.first_line}-{self.last_line}")
        lines += [f"# in place of {span}:", self.after.rstrip("\n")]
        return "\n".join(lines) + "\n"


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
    diagnosed: Candidate | None = None
    """The call site whose calls were captured: the top candidate, or the one named
    (which may not be a candidate)."""
    diagnosis: Diagnosis | None = None
    """The diagnosis of its captured calls."""
    capture: CaptureFacts | None = None
    not_diagnosed: str | None = None
    """Why no candidate was diagnosed (one line), when none was."""
    depends: str | None = None
    """Why the diagnosed calls depend on each other in the program's loop (one line):
    their arguments carry over from the passes before. No pool can run them as the loop
    stands, whatever the captured calls measured alone."""
    rewrite: LoopRewrite | None = None
    rewrite_refused: str | None = None
    """Why the loop is not rewritten (one line): the diagnosis's snippet stands instead."""

    def to_dict(self) -> dict[str, Any]:
        program = {
            "argv": list(self.argv), "module": self.module, "exit_code": self.exit_code,
            "wall_seconds": round(self.wall_seconds, 4), "timed_out": self.timed_out,
            "failure": self.failure, "sampling": self.sampling,
            "left_running": list(self.left_running),
            "recorder_overhead": asdict(self.recorder) if self.recorder else None,
            "candidates": [each.to_dict() for each in self.candidates],
            "chosen": self.chosen,
            "diagnosed": self.diagnosed.to_dict() if self.diagnosed else None,
            "functions": [each.to_dict() for each in self.functions],
            "capture": asdict(self.capture) if self.capture else None,
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None,
            "not_diagnosed": self.not_diagnosed,
            "depends": self.depends,
            "rewrite": asdict(self.rewrite) if self.rewrite else None,
            "rewrite_refused": self.rewrite_refused}
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
                            for each in program.get("functions", ())),
            capture=CaptureFacts(**program["capture"]) if program.get("capture") else None,
            diagnosed=(Candidate.from_dict(program["diagnosed"])
                       if program.get("diagnosed") else None),
            diagnosis=(Diagnosis.from_dict(program["diagnosis"])
                       if program.get("diagnosis") else None),
            not_diagnosed=program.get("not_diagnosed"),
            rewrite=(LoopRewrite(**{**program["rewrite"],
                                    "imports": tuple(program["rewrite"]["imports"])})
                     if program.get("rewrite") else None),
            rewrite_refused=program.get("rewrite_refused"), depends=program.get("depends"))

    @classmethod
    def from_json(cls, text: str) -> ProgramReport:
        return cls.from_dict(json.loads(text))
