"""Which calls of a whole program are worth running concurrently: pure functions over
the recorder's counts and py-spy's per-stack samples, testable on hand-built data.

A candidate is one function called from one call site inside a loop (see
:mod:`concdoctor.program.loops`), at least :data:`MIN_CALLS` times, whose calls took at
least :data:`MIN_SHARE` of the run. Candidates are ranked by what concurrency could save
at best: the calls' seconds less those seconds divided by the speedup their kind allows
(as many workers as calls, up to :data:`IO_WORKERS` for waits, up to the cores for work
on a CPU). A candidate whose arguments do not pickle is still listed, with the reason,
after those that do: a process pool cannot take it, though threads might.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from concdoctor.baseline.stacks import blend
from concdoctor.decide.classify import DOMINANT_SHARE, TINY_TASK_SECONDS
from concdoctor.diagnosis import StackSamples
from concdoctor.program.loops import COMPREHENSION_CODES

MIN_CALLS = 5
MIN_SHARE = 0.2
IO_WORKERS = 32
"""The most concurrent waits the saving assumes (a thread pool's usual ceiling)."""


def kind_of(samples: StackSamples, seconds_per_call: float, busy: float | None = None
            ) -> str:
    """The bottleneck py-spy's samples inside the calls show (the kinds of
    ``decide.classify``), or ``unmeasured`` without samples; ``busy`` (the share of the
    calls' time on a CPU) corrects the samples' waiting as in ``profile``."""
    if seconds_per_call < TINY_TASK_SECONDS:
        return "overhead_bound"
    shares = fractions(samples, busy)
    if shares["idle"] is None:
        return "unmeasured"
    for kind, state in (("io_bound", "idle"), ("python_cpu_bound", "gil"),
                        ("gil_released_c", "released")):
        if (shares[state] or 0.0) >= DOMINANT_SHARE:
            return kind
    return "mixed"


@dataclass(frozen=True)
class Candidate:
    function: str
    """``path/to/file.py:qualname``: the form ``concdoctor profile`` takes."""
    call_site: str
    """``file.py:line in caller``."""
    loop: str
    """``file.py:line`` of the loop around the call site."""
    calls: int
    seconds: float
    share: float
    kind: str
    idle: float | None
    gil: float | None
    released: float | None
    picklable: bool
    reason: str | None
    saving_seconds: float
    file: str = ""
    """The function's file, absolute (where the capture finds it)."""
    line: int = 0
    """The line its ``def`` starts on."""
    site_file: str = ""
    """The call site's file, absolute."""
    site_line: int = 0
    call: str = ""
    """The call as the source writes it (``fetch(url, timeout=5)``), when it can be read."""
    counted_all: bool = True
    """False when the recorder stopped counting the function's calls (many, each short):
    ``calls`` is then a lower bound."""
    module: str = ""
    """The module's ``__name__`` as the program ran it (``__main__`` for its script)."""

    @property
    def qualname(self) -> str:
        return self.function.rpartition(":")[2]

    @property
    def importable(self) -> str | None:
        """Why the diagnosis child cannot import the function by name, or None."""
        if "<" in self.qualname:
            return (f"{self.qualname} is defined inside a function: define it at module "
                    "level to diagnose its calls (and to run them on processes)")
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(**data)


def possible_speedup(kind: str, calls: int, cpu_count: int) -> float:
    """The best a pool could do for ``calls`` calls of this kind on ``cpu_count`` cores."""
    if kind == "overhead_bound":
        return 1.0
    workers = IO_WORKERS if kind == "io_bound" else cpu_count
    return float(max(1, min(calls, workers)))


def caller_name(qualname: str) -> str:
    """The function a call site is in, as its source reads: a comprehension's own code
    object (before Python 3.12) stands for the function that holds it."""
    outer, _, last = qualname.rpartition(".")
    if last not in COMPREHENSION_CODES:
        return qualname
    return outer.removesuffix(".<locals>") or "<module>"


def rank(records: Iterable[dict[str, Any]], wall_seconds: float, cpu_count: int,
         looped: Callable[[str, str, int], int | None],
         activity: Callable[[dict[str, Any], dict[str, Any]], StackSamples],
         name: Callable[[str], str] = str) -> list[Candidate]:
    """The candidates among the recorder's ``records``, best first.

    ``looped(file, caller, line)`` gives the loop's line around a call site, or None;
    ``activity(record, site)`` the samples inside that site's calls; ``name(path)`` how
    a file is shown (relative to the project)."""
    found = []
    for record in records:
        for site in record["sites"]:
            share = site["seconds"] / wall_seconds if wall_seconds > 0 else 0.0
            if site["calls"] < MIN_CALLS or share < MIN_SHARE:
                continue
            loop = looped(site["file"], site["function"], site["line"])
            if loop is None:
                continue
            found.append(candidate(record, site, wall_seconds, loop, activity(record, site),
                                   cpu_count, name))
    return sorted(found, key=lambda each: (not each.picklable, -each.saving_seconds,
                                           each.function))


def candidate(record: dict[str, Any], site: dict[str, Any], wall_seconds: float,
              loop: int | None, samples: StackSamples, cpu_count: int,
              name: Callable[[str], str]) -> Candidate:
    """One call site of one function as a candidate (``loop`` None: not in a loop, shown
    as the call site's own line)."""
    calls, seconds = site["calls"], site["seconds"]
    share = min(seconds / wall_seconds, 1.0) if wall_seconds > 0 else 0.0
    busy = _busy(site.get("cpu_seconds"), seconds)
    kind = kind_of(samples, seconds / calls, busy)
    pickles = site.get("pickles")
    picklable = pickles is True or pickles is None
    saving = seconds * (1 - 1 / possible_speedup(kind, calls, cpu_count))
    return Candidate(
        function=f"{name(record['file'])}:{record['name']}",
        call_site=f"{name(site['file'])}:{site['line']} in {caller_name(site['function'])}",
        loop=f"{name(site['file'])}:{loop if loop is not None else site['line']}",
        calls=calls, seconds=round(seconds, 6),
        share=round(share, 4), kind=kind, **fractions(samples, busy), picklable=picklable,
        reason=None if picklable else str(pickles),
        saving_seconds=round(saving, 6), file=record["file"], line=record["line"],
        site_file=site["file"], site_line=site["line"],
        counted_all=not record.get("stopped", False), module=record.get("module", ""))


def fractions(samples: StackSamples, busy: float | None = None) -> dict[str, float | None]:
    """``idle``, ``gil`` and ``released`` as shares of ``samples`` (None without any).
    Given ``busy``, the share of the calls' wall time their thread spent on a CPU, the
    waiting follows it and the samples split the rest (``baseline.stacks.blend``, as
    ``profile`` does with the worker's CPU time): py-spy reports a sleeping thread as
    active on Python 3.10."""
    total = samples.total
    if not total:
        return {state: None for state in ("idle", "gil", "released")}
    shares = (samples.idle / total, samples.gil / total, samples.released / total)
    if busy is not None:
        shares = blend(shares, busy)[0]
    return {state: round(value, 3) for state, value in zip(("idle", "gil", "released"),
                                                              shares)}


def _busy(cpu_seconds: float | None, seconds: float) -> float | None:
    return None if cpu_seconds is None or seconds <= 0 else cpu_seconds / seconds


@dataclass(frozen=True)
class FunctionTime:
    """One function of the run, whether or not it is a candidate: where its time went."""

    function: str
    calls: int
    seconds: float
    share: float
    counted_all: bool
    """False when the recorder stopped counting its calls (many, each too short)."""
    idle: float | None
    gil: float | None
    released: float | None
    call_sites: tuple[str, ...]
    """``file.py:line in caller (N calls)``, the busiest first."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionTime:
        return cls(**{**data, "call_sites": tuple(data["call_sites"])})


def busiest(records: Iterable[dict[str, Any]], wall_seconds: float,
            activity: Callable[[dict[str, Any]], StackSamples],
            name: Callable[[str], str] = str, limit: int = 25) -> list[FunctionTime]:
    """The ``limit`` functions whose calls took the most time, with their call sites and
    what py-spy saw inside them (``activity(record)``)."""
    chosen = sorted(records, key=lambda each: -each["seconds"])[:limit]
    return [FunctionTime(
        function=f"{name(record['file'])}:{record['name']}", calls=record["calls"],
        seconds=round(record["seconds"], 6),
        share=round(min(record["seconds"] / wall_seconds, 1.0), 4) if wall_seconds > 0
        else 0.0,
        counted_all=not record["stopped"],
        **fractions(activity(record), _busy(
            sum(site.get("cpu_seconds", 0.0) for site in record["sites"])
            if all("cpu_seconds" in site for site in record["sites"]) else None,
            record["seconds"])),
        call_sites=tuple(
            f"{name(site['file'])}:{site['line']} in {caller_name(site['function'])} "
            f"({site['calls']} calls)"
            for site in sorted(record["sites"], key=lambda each: -each["seconds"])))
        for record in chosen]
