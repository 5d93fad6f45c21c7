"""The executors table: every executor measured, with the sentence that says how it
compared with the advice (and why an unsafe one never is the advice)."""

from __future__ import annotations

from dataclasses import dataclass

from concdoctor.diagnosis import Diagnosis, ExecutorResult, ResultsCheck
from concdoctor.executors import SEQUENTIAL
from concdoctor.render.numbers import pool, size


@dataclass(frozen=True)
class ExecutorRow:
    """One measured executor, with the sentence that says how it compared."""

    executor: str
    workers: int
    chunksize: int
    median_seconds: float | None
    speedup: float | None
    skipped: str | None
    recommended: bool
    baseline: bool
    verdict: str
    results: str = "–"
    """The results check in a word or two: same, differ, raised, not compared."""
    memory: str = "–"
    """Memory per worker, for process and interpreter pools."""
    inner_workers: int = 1

    @property
    def label(self) -> str:
        chunk = f", chunksize {self.chunksize}" if self.chunksize > 1 else ""
        return (pool(self.executor, self.workers, inner=self.inner_workers)
                + (chunk if self.workers > 0 else ""))


def unavailable_lines(d: Diagnosis) -> list[str]:
    """Executors this Python cannot run, one line each with the reason and its fix:
    below the table, not rows of it."""
    return [f"{name}: {reason}" for name, reason in d.environment.unavailable.items()]


def executor_rows(d: Diagnosis) -> list[ExecutorRow]:
    """Every executor measured, the baseline first, each saying how it compared (those
    this Python cannot run are :func:`unavailable_lines`)."""
    conf = d.confirmation
    if conf is None:
        return []
    results = [r for r in conf.results if r.executor not in d.environment.unavailable] or [
        ExecutorResult(executor=name, workers=0, median_seconds=median)
        for name, median in conf.executors.items()
    ]
    if not any(r.executor == SEQUENTIAL for r in results):
        results.insert(0, ExecutorResult(SEQUENTIAL, 1, median_seconds=conf.baseline_seconds))
    results.sort(key=lambda r: r.executor != SEQUENTIAL)
    rec_index = _recommended_index(d, results)
    rec_median = results[rec_index].median_seconds if rec_index is not None else None
    rows = []
    for i, r in enumerate(results):
        speedup = r.speedup
        if speedup is None and r.median_seconds and conf.baseline_seconds:
            speedup = conf.baseline_seconds / r.median_seconds
        rows.append(ExecutorRow(
            executor=r.executor, workers=r.workers, chunksize=r.chunksize,
            median_seconds=r.median_seconds, speedup=speedup, skipped=r.skipped,
            recommended=i == rec_index, baseline=r.executor == SEQUENTIAL,
            verdict=_why(r, i == rec_index, rec_median, d.executor),
            results=results_word(r.check), memory=size(r.worker_bytes),
            inner_workers=r.inner_workers,
        ))
    return rows


def _recommended_index(d: Diagnosis, results: list[ExecutorResult]) -> int | None:
    rec = d.recommendation
    if rec is None:
        return None
    matches = [i for i, r in enumerate(results) if r.executor == rec.executor]
    exact = [i for i in matches if results[i].workers == rec.workers]
    found = exact or matches
    return found[0] if found else None


def results_word(check: ResultsCheck | None) -> str:
    """The results check for a table cell."""
    if check is None:
        return "–"
    if check.status == "differ":
        return f"differ ({check.differing})"
    return {"same": "same", "raised": "raised", "skipped": "not compared"}.get(
        check.status, check.status)


def results_text(check: ResultsCheck | None, executor: str) -> str | None:
    """What the results check found, in a phrase; None when it did not run."""
    if check is None:
        return None
    if check.status == "same":
        return "same results as sequential"
    if check.status == "skipped":
        return f"results not compared: {check.reason}"
    if check.status == "raised":
        return f"raised where sequential did not: {check.got}"
    plural = "task" if check.differing == 1 else "tasks"
    first = check.tasks[0] if check.tasks else "?"
    return (f"changed the results of {check.differing} {plural} (task #{first}, input "
            f"{check.first_input}: sequential gave {check.expected}, {executor} gave "
            f"{check.got})")


def _why(r: ExecutorResult, recommended: bool, rec_median: float | None,
         rec_name: str | None) -> str:
    """Why this executor was (not) chosen, in words a reviewer can check."""
    if r.unsafe:
        return f"unsafe: {results_text(r.check, r.executor)}"
    if recommended:
        return "recommended"
    if r.skipped:
        return f"skipped: {r.skipped}"
    if r.median_seconds is None:
        return "not measured"
    base = "baseline; " if r.executor == SEQUENTIAL else ""
    if not rec_median or rec_name is None:
        return "baseline" if base else "measured"
    ratio = r.median_seconds / rec_median
    if ratio >= 1.005:
        return f"{base}{ratio:.2f}× slower than {rec_name}"
    if ratio <= 0.995:
        return f"{base}{1 / ratio:.2f}× faster than {rec_name}, not chosen by the rules"
    return f"{base}as fast as {rec_name}"
