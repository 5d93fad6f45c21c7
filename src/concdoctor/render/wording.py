"""What concdoctor says, worded once: the renderers and the pytest plugin differ only
in markup.

These pure functions turn a :class:`Diagnosis` into short plain strings and rows. The
terminal, Markdown and HTML renderers and the plugin's assertion messages all read from
here, so the verdict, the numbers and the explanation of why an executor lost are worded
the same everywhere. Reports use typographic signs (``2.00×``, ``–`` for nothing); the
plugin's messages, read in CI logs, ask for ``plain=True`` (``2.00x``, ``n/a``). Every
function copes with a partial report (any of evidence, classification, recommendation
or confirmation missing) and with degraded evidence (fractions ``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from concdoctor import executors as registry
from concdoctor.conclude import functions
from concdoctor.diagnosis import Diagnosis, Environment, Evidence
from concdoctor.executors import SEQUENTIAL
from concdoctor.render.executor_table import (  # noqa: F401 - worded here for every renderer
    ExecutorRow,
    executor_rows,
    results_text,
    results_word,
    unavailable_lines,
)
from concdoctor.render.numbers import percent, pool, seconds, size, times  # noqa: F401

SNIPPET_TITLE = "Apply it"
LIMITED_BY = {"tasks": "one per task", "cores": "one per core",
              "threads_limit": "the thread limit", "files_limit": "the open-files limit",
              "memory": "memory", "user": "your rules' ceiling"}
"""What set a worker count when the scaling curve's knee did not."""
STATES = ("idle", "gil", "released")
STATE_LABELS = {"idle": "idle (waiting)", "gil": "GIL held", "released": "GIL released"}
STATE_MEANINGS = {
    "idle": "waiting on I/O, a sleep or a lock: threads or asyncio overlap the waits",
    "gil": "running Python bytecode (or C that keeps the GIL): only processes, "
           "sub-interpreters or a free-threaded build run it in parallel",
    "released": "in C code that released the GIL (hashlib, zlib, NumPy): "
                "threads run it in parallel",
}


def headline(d: Diagnosis) -> str:
    """The recommendation as one phrase: ``process pool · 2 workers · chunksize 4``."""
    rec = d.recommendation
    if rec is None:
        return "no recommendation (partial report)" if d.failure else "no recommendation"
    label = registry.label(rec.executor)
    if rec.executor == SEQUENTIAL:
        return label
    plural = "worker" if rec.workers == 1 else "workers"
    if rec.inner_workers > 1:
        plural = f"processes × {rec.inner_workers} calls each"
    bound = f" ({LIMITED_BY.get(rec.limited_by, rec.limited_by)})" if rec.limited_by else ""
    chunk = f" · chunksize {rec.chunksize}" if rec.chunksize > 1 else ""
    return f"{label} · {rec.workers} {plural}{bound}{chunk}"


def kind_text(d: Diagnosis) -> str:
    c = d.classification
    if c is None:
        return "not classified"
    return f"{c.kind} ({percent(c.confidence)} confidence)"


def status(d: Diagnosis) -> str:
    """``confirmed``, ``not confirmed`` or ``not measured``: drives colours and badges."""
    conf = d.confirmation
    if conf is None or conf.speedup is None:
        return "not measured"
    return "confirmed" if conf.confirmed else "not confirmed"


def speedup_text(d: Diagnosis) -> str:
    """The measured speedup, with the bar it had to clear when it did not clear it."""
    conf = d.confirmation
    if conf is None:
        return "speedup not measured"
    if conf.speedup is None:
        return conf.note or "speedup not measured"
    trials = "1 trial" if conf.trials == 1 else f"median of {conf.trials} trials"
    sample = d.evidence.sampled_tasks if d.evidence else None
    where = f" on a sample of {sample} tasks" if sample else ""
    text = f"{times(conf.speedup)} vs sequential{where} ({seconds(conf.baseline_seconds)} → "
    text += f"{seconds(conf.recommended_seconds)}, {trials})"
    rec = d.recommendation
    if not conf.confirmed and rec is not None:
        text += f"; needed ≥ {times(rec.min_speedup)}"
    return text


def prediction_text(d: Diagnosis, *, plain: bool = False) -> str | None:
    """What the whole batch would take, predicted (kept apart from what was measured)."""
    p, rec = d.prediction, d.recommendation
    if p is None:
        return None
    dash = "-" if plain else "–"
    text = f"predicted for all {p.tasks} tasks: sequential {seconds(p.sequential_seconds)}"
    span = f"{seconds(p.low)}{dash}{seconds(p.high)}"
    if rec is not None and rec.executor != SEQUENTIAL:
        speedup = p.sequential_seconds / p.recommended_seconds if p.recommended_seconds else None
        text += (f", {pool(rec.executor, rec.workers, plain=plain)} "
                 f"{seconds(p.recommended_seconds)} ({span}, {times(speedup, plain=plain)})")
    else:
        text += f" ({span})"
    return f"{text}; from a sample of {p.sampled_tasks} tasks, seed {p.seed}"


def scaling_rows(d: Diagnosis) -> tuple[list[str], list[list[str]]]:
    """The scaling curves on this machine's cores as a table: a header of worker counts,
    and per executor its predicted speedups (a measured one marked ``*``)."""
    cores = d.environment.cpu_count
    curves = {name: {p.workers: p for p in points if p.cores == cores}
              for name, points in d.scaling.items()}
    sizes = sorted({w for points in curves.values() for w in points})
    rows = []
    for name, points in curves.items():
        cells = []
        for workers in sizes:
            point = points.get(workers)
            if point is None:
                cells.append("–")
            elif point.measured_speedup is not None:
                cells.append(f"{times(point.measured_speedup)}*")
            else:
                cells.append(times(point.predicted_speedup))
        rows.append([name, *cells])
    return ["executor", *(f"× {w}" for w in sizes)], rows


def more_cores_text(d: Diagnosis) -> str | None:
    """The advice's best predicted speedup on machines with more cores than this one."""
    rec = d.recommendation
    points = d.scaling.get(rec.executor, ()) if rec else ()
    here = d.environment.cpu_count
    best: dict[int, tuple[float, int]] = {}
    for p in points:
        if p.cores > here and p.predicted_speedup > best.get(p.cores, (0.0, 0))[0]:
            best[p.cores] = (p.predicted_speedup, p.workers)
    if rec is None or not best:
        return None
    shown, last = [], None
    for cores, (value, workers) in sorted(best.items()):
        if (value, workers) != last:  # more cores than that change nothing
            shown.append(f"{cores} cores {times(value)} ({workers} workers)")
        last = (value, workers)
    return f"{registry.label(rec.executor)} on more cores: " + ", ".join(shown)


def revision_text(d: Diagnosis) -> str | None:
    rec = d.recommendation
    if rec is None or not rec.revised_from:
        return None
    why = f": {rec.revision_reason}" if rec.revision_reason else ""
    return f"revised from {rec.revised_from}{why}"


# -- evidence -----------------------------------------------------------------------------
def shares(ev: Evidence | None) -> dict[str, float] | None:
    """The idle / GIL-held / GIL-released shares, or ``None`` when py-spy gave none."""
    if ev is None:
        return None
    values = (ev.idle_fraction, ev.gil_fraction, ev.released_fraction)
    if any(v is None for v in values):
        return None
    return {state: max(0.0, float(v or 0.0)) for state, v in zip(STATES, values, strict=True)}


def share_text(state: str, value: float, ev: Evidence | None, *, plain: bool = False) -> str:
    """``GIL held 44% ±6%``: a share, with the ± of the samples that split GIL-held from
    GIL-released work (the idle share comes from CPU time, far more precise)."""
    text = f"{STATE_LABELS[state]} {percent(value, plain=plain)}"
    error = ev.shares_error if ev is not None else None
    if state != "idle" and error is not None:
        text += f" {'+/-' if plain else '±'}{error * 100:.0f}%"
    return text


def evidence_rows(ev: Evidence) -> list[tuple[str, str]]:
    rows = [
        ("Baseline wall time", seconds(ev.wall_seconds)),
        ("Process CPU time", f"{seconds(ev.cpu_seconds)} ({ev.cpu_ratio:.2f} cores)"),
        ("Worker thread CPU", f"{seconds(ev.thread_cpu_seconds)} ({ev.thread_cpu_ratio:.2f})"),
        ("Median task", f"{seconds(ev.task_seconds_median)} (max {seconds(ev.task_seconds_max)})"),
        ("Context switches", f"{ev.voluntary_switches} voluntary, "
                             f"{ev.involuntary_switches} involuntary"),
    ]
    if ev.child_programs_cpu_seconds:
        rows.append(("Child programs CPU", f"{seconds(ev.child_programs_cpu_seconds)} "
                                           f"({ev.child_cpu_ratio:.2f} cores)"))
    if ev.task_bytes:
        rows.append(("Memory per call", f"up to {size(ev.task_bytes)}"))
    if ev.samples or ev.sampling_rate:
        rows.append(("py-spy stack samples", f"{ev.samples} at {ev.sampling_rate} Hz"))
    if ev.blocking_calls:
        rows.append(("Blocking calls", ", ".join(ev.blocking_calls)))
    return rows


def degraded_text(ev: Evidence | None) -> str | None:
    if ev is None or not ev.degraded:
        return None
    return f"Evidence is degraded: {ev.degraded_reason or 'py-spy could not sample the target'}"


def environment_rows(d: Diagnosis) -> list[tuple[str, str]]:
    env = d.environment
    tools = ", ".join(
        f"{tool} {version}"
        for tool, version in (("concdoctor", env.concdoctor), ("py-spy", env.py_spy),
                              ("yappi", env.yappi))
        if version
    )
    return [
        ("Python", f"{env.python} ({env.implementation})"),
        ("Free-threaded build", "yes" if env.free_threaded_build else "no"),
        ("GIL enabled", "yes" if env.gil_enabled else "no"),
        ("CPU count", str(env.cpu_count)),
        ("Start method", start_methods(env) or "–"),
        ("Platform", env.platform or "–"),
        ("Processes held by", CONTAINMENT.get(env.containment or "", "–")),
        ("Tools", tools or "–"),
    ]


CONTAINMENT = {
    "cgroup": "a cgroup of their own (nothing escapes)",
    "subreaper": "the child, a subreaper (orphans come back to it)",
    "process group": "the child's process group (detached ones may escape)",
}
"""What held the processes the target started (``environment.containment``), worded."""


def environment_summary(d: Diagnosis) -> str:
    """The environment on one line, for the foot of the terminal report."""
    env = d.environment
    gil = "GIL enabled" if env.gil_enabled else "GIL disabled"
    build = ", free-threaded build" if env.free_threaded_build else ""
    parts = [f"Python {env.python} ({env.implementation}, {gil}{build})",
             f"{env.cpu_count} CPUs", start_methods(env), env.platform]
    tools = dict(environment_rows(d))["Tools"]
    parts.append(tools)
    return " · ".join(p for p in parts if p and p != "–")


def workload_text(d: Diagnosis) -> str:
    w = d.workload
    kind = "async def" if w.is_coroutine else "def"
    if w.input_source == "captured":
        return f"{w.tasks:,} calls of the program's, a sample captured as it ran; {kind} target"
    each = ", each (args, kwargs)" if w.calls else ""
    return f"{w.tasks} tasks from {w.input_source}{each}, {kind} target"


def created_text(d: Diagnosis) -> str:
    """``2026-11-25 19:12:00 UTC`` from the ISO timestamp; as stored if it does not parse."""
    try:
        moment = datetime.fromisoformat(d.created_at.replace("Z", "+00:00"))
    except ValueError:
        return d.created_at
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else moment.strftime(" UTC%z")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def failure_text(d: Diagnosis) -> str | None:
    f = d.failure
    return None if f is None else f"Stopped during {f.phase}: {f.message}"


# -- executors ----------------------------------------------------------------------------


# -- the function table ---------------------------------------------------------------------

FUNCTIONS_TITLE = "Where the task's time went"
FUNCTIONS_SOURCE = "Shares and times: every py-spy sample of the baseline."


@dataclass(frozen=True)
class FunctionCells:
    """One function of the table, worded: shares and time from the samples, calls and
    time per call from yappi."""

    name: str
    location: str
    total: str
    self: str
    time: str
    calls: str
    per_call: str
    states: tuple[float, float, float]


def function_rows(ev: Evidence) -> list[FunctionCells]:
    rows = []
    for row in functions.table(ev):
        per_call = (seconds(row.per_call) if row.per_call is not None
                    else "unfinished" if row.unfinished else "–")
        rows.append(FunctionCells(
            row.name.replace(".<locals>", ""),  # outer.inner: the qualified name, shorter
            f"{row.file}:{row.line}" if row.file else "–", percent(row.total),
            percent(row.self), seconds(row.seconds),
            f"{row.calls:,}" if row.calls is not None else "–", per_call, row.states))
    return rows


def functions_note(ev: Evidence) -> str:
    """Where the table's figures come from, for under it: what yappi's pass covered."""
    return " ".join(filter(None, (FUNCTIONS_SOURCE, functions.coverage(ev))))


def start_methods(env: Environment) -> str:
    """The start method the process pools used, and each pool that starts its workers
    its own way (``fork; loky: loky``)."""
    own = [f"{pool}: {method}" for pool, method in env.start_methods.items()
           if method != env.start_method]
    return "; ".join([env.start_method, *own]) if env.start_method else ""
