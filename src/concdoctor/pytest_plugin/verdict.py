"""Checks over a :class:`Diagnosis` whose failure messages explain the verdict.

Pure functions over plain data (no pytest, no profiling), shared by the fixture's
``assert_*`` helpers and the marker's expectations: each check returns ``None`` when it
holds, or a :class:`Problem` whose message is a headline followed by :func:`explain`,
the numbers behind the verdict (kind and confidence, the py-spy shares, the rule and its
reason, every executor measured, the revision, the failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from concdoctor import executors as registry
from concdoctor.diagnosis import KINDS, Diagnosis, ExecutorResult
from concdoctor.executors import SEQUENTIAL
from concdoctor.render import wording

_INDENT = " " * 13


@dataclass(frozen=True)
class Problem:
    """Why a check failed. ``unmeasured``: no confirmation ran, so there was no speedup
    to compare (the fixture skips rather than fails when the command line turned
    confirmation off)."""

    headline: str
    unmeasured: bool = False

    def message(self, diagnosis: Diagnosis) -> str:
        return f"{self.headline}\n{explain(diagnosis)}"


def explain(d: Diagnosis) -> str:
    """The verdict in a few lines: what was measured and why the advice is what it is."""
    env = d.environment
    head = (f"concdoctor verdict for {d.target} ({d.workload.tasks} tasks, Python "
            f"{env.python}, {env.cpu_count} CPUs)")
    lines = [head]

    def row(label: str, *texts: str) -> None:
        for index, text in enumerate(texts):
            lines.append(f"  {label:<10} {text}" if index == 0 else f"{_INDENT}{text}")

    if d.classification is not None:
        c = d.classification
        row("kind", f"{c.kind} (confidence {c.confidence:.2f})")
    if d.evidence is not None:
        row("shares", _shares(d))
        if d.classification is not None and d.classification.signals:
            row("signals", *d.classification.signals)
    if d.recommendation is not None:
        r = d.recommendation
        row("advice", f"{_pool(r.executor, r.workers)} (rule {r.rule}): {r.reason}")
        if r.revised_from:
            row("revised", f"from {r.revised_from}: {r.revision_reason or 'no reason given'}")
    if d.confirmation is not None:
        row("measured", *_measured(d))
    if d.prediction is not None:
        row("predicted", wording.prediction_text(d, plain=True) or "")
    if d.failure is None or d.confirmation is not None:
        row("confirmed", _confirmed(d))
    if d.failure is not None:
        row("failure", f"{d.failure.phase} phase: {d.failure.message}")
    if d.notes:
        row("notes", *d.notes)
    return "\n".join(lines)


def _shares(d: Diagnosis) -> str:
    e = d.evidence
    assert e is not None
    cpu = f"CPU {e.cpu_ratio:.2f} s per wall s (worker thread {e.thread_cpu_ratio:.2f})"
    if e.idle_fraction is None and e.gil_fraction is None:
        why = e.degraded_reason or "no py-spy samples"
        return f"py-spy shares unavailable ({why}); {cpu}"
    error = f" (GIL split +/-{e.shares_error:.0%})" if e.shares_error is not None else ""
    return (f"idle {_pct(e.idle_fraction)}, GIL {_pct(e.gil_fraction)}, released "
            f"{_pct(e.released_fraction)} of {e.samples} py-spy samples{error}; {cpu}")


def _measured(d: Diagnosis) -> list[str]:
    conf = d.confirmation
    assert conf is not None
    rows = [f"{SEQUENTIAL:<16} {conf.baseline_seconds:.3f} s  baseline"]
    for result in conf.results:
        name = _pool(result.executor, result.workers)
        if result.unsafe:
            rows.append(f"{name:<16} unsafe: {wording.results_text(result.check, name)}")
        elif result.skipped:
            rows.append(f"{name:<16} skipped: {result.skipped}")
        elif result.executor == SEQUENTIAL:
            rows[0] = (f"{SEQUENTIAL:<16} {conf.baseline_seconds:.3f} s  baseline "
                       f"(median of {len(result.seconds)} runs)")
        elif result.median_seconds is not None:
            rows.append(f"{name:<16} {result.median_seconds:.3f} s  {_x(result.speedup)}")
    if conf.note:
        rows.append(conf.note)
    return rows


def _pool(executor: str, workers: int | None) -> str:
    return wording.pool(executor, workers, plain=True)


def _pct(value: float | None) -> str:
    return wording.percent(value, plain=True)


def _x(speedup: float | None) -> str:
    return wording.times(speedup, plain=True)


def _confirmed(d: Diagnosis) -> str:
    conf, rec = d.confirmation, d.recommendation
    if conf is None:
        return "not run (no confirmation: nothing was measured beyond the baseline)"
    target = f"the rule asks for {rec.min_speedup:.2f}x" if rec else "no advice"
    if conf.confirmed:
        return f"yes: {_pool(rec.executor, rec.workers) if rec else '?'} measured " \
               f"{_x(conf.speedup)}, {target}"
    return f"no: the advice measured {_x(conf.speedup)}, {target}"


def failure_message(d: Diagnosis) -> str:
    """The failure, the target's traceback (if any), then the partial verdict."""
    assert d.failure is not None
    text = f"concdoctor could not diagnose {d.target}: {d.failure.message}"
    if d.failure.detail:
        text += "\n\n" + d.failure.detail.rstrip()
    return f"{text}\n\n{explain(d)}"


def check_names(what: str, names: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """Name typos are mistakes in the test, not verdicts: raise, do not report."""
    if not names:
        raise TypeError(f"give at least one {what} (from: {', '.join(known)})")
    for name in names:
        if name not in known:
            raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}")
    return tuple(names)


def _either(names: Sequence[str]) -> str:
    return " or ".join(names)


def check_kind(d: Diagnosis, kinds: Sequence[str]) -> Problem | None:
    check_names("kind", kinds, KINDS)
    if d.kind in kinds:
        return None
    if d.classification is None:
        return Problem(f"expected kind {_either(kinds)}, but {d.target} was not classified")
    return Problem(f"expected kind {_either(kinds)}, but {d.target} was diagnosed "
                   f"{d.kind} (confidence {d.classification.confidence:.2f})")


def check_executor(d: Diagnosis, executors: Sequence[str]) -> Problem | None:
    check_names("executor", executors, registry.names())
    rec = d.recommendation
    if rec is not None and rec.executor in executors:
        return None
    if rec is None:
        return Problem(f"expected executor {_either(executors)}, but {d.target} got no advice")
    revised = f", revised from {rec.revised_from}" if rec.revised_from else ""
    return Problem(f"expected executor {_either(executors)}, but the advice for {d.target} "
                   f"is {_pool(rec.executor, rec.workers)} (rule {rec.rule}{revised})")


def check_speedup(d: Diagnosis, at_least: float,
                  executor: str | None = None) -> tuple[float | None, Problem | None]:
    """The measured speedup of the advice (or of ``executor``) against ``at_least``."""
    if executor is not None:
        check_names("executor", [executor], registry.names())
    conf = d.confirmation
    if conf is None:
        return None, Problem(f"expected a speedup of at least {at_least:.2f}x, but no speedup "
                             "was measured: confirmation did not run", unmeasured=True)
    if executor is None:
        name = _pool(d.executor or "?", d.workers)
        speedup = conf.speedup
        if speedup is None:
            return None, Problem(f"expected a speedup of at least {at_least:.2f}x, but the "
                                 f"advice ({name}) has no measured speedup")
    else:
        result = _result(conf.results, executor)
        if result is None:
            measured = ", ".join(r.executor for r in conf.results) or "none"
            return None, Problem(
                f"expected {executor} to measure at least {at_least:.2f}x, but {executor} was "
                f"not measured (measured: {measured}); pass compare_all=True to measure "
                "every executor")
        if result.skipped:
            return None, Problem(f"expected {executor} to measure at least {at_least:.2f}x, "
                                 f"but {executor} was skipped: {result.skipped}")
        name, speedup = _pool(result.executor, result.workers), result.speedup
    if speedup is not None and speedup >= at_least:
        return speedup, None
    return speedup, Problem(f"expected a speedup of at least {at_least:.2f}x, but {name} "
                            f"measured {_x(speedup)} over sequential")


def _result(results: Sequence[ExecutorResult], executor: str) -> ExecutorResult | None:
    found = next((r for r in results if r.executor == executor), None)
    if found is None and executor == SEQUENTIAL:
        return ExecutorResult(SEQUENTIAL, 1, speedup=1.0, median_seconds=0.0)
    return found


def check_confirmed(d: Diagnosis, expected: bool = True) -> Problem | None:
    if d.confirmation is None:
        return Problem(f"expected the advice to be {'' if expected else 'not '}confirmed, "
                       "but confirmation did not run", unmeasured=True)
    if d.confirmed == expected:
        return None
    if expected:
        return Problem(f"expected the advice for {d.target} to be confirmed, but it was not: "
                       f"{_confirmed(d)}")
    return Problem(f"expected the advice for {d.target} not to be confirmed, but it was: "
                   f"{_confirmed(d)}")
