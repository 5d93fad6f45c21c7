"""Findings beyond the verdict, on hand-built evidence: a blocked event loop, shared state."""

from __future__ import annotations

from concdoctor.conclude import findings
from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Evidence,
    ExecutorResult,
    Recommendation,
    ResultsCheck,
    StackSamples,
    Workload,
)

LOOP = ("run_until_complete (/usr/lib/python3.11/asyncio/base_events.py:640)",
        "run_forever (/usr/lib/python3.11/asyncio/base_events.py:607)",
        "_run_once (/usr/lib/python3.11/asyncio/base_events.py:1884)")
AWAITING = StackSamples((*LOOP, "select (/usr/lib/python3.11/selectors.py:468)"), idle=90)
BLOCKING = StackSamples((*LOOP, "_run (/usr/lib/python3.11/asyncio/events.py:80)",
                         "fetch (app.py:14)"), idle=90)
IO = Classification("io_bound", 0.9)


def evidence(**fields: object) -> Evidence:
    return Evidence(wall_seconds=1.0, cpu_seconds=0.01, thread_cpu_seconds=0.01,
                    task_seconds_median=0.1, **fields)  # type: ignore[arg-type]


def test_idle_in_the_loops_wait_is_awaiting() -> None:
    assert findings.loop_blocking([AWAITING]) == 0.0
    assert findings.loop_blocking([BLOCKING]) == 1.0
    assert findings.loop_blocking([AWAITING, BLOCKING]) == 0.5
    assert findings.loop_blocking([StackSamples(BLOCKING.frames, idle=3)]) is None


def test_a_blocked_loop_is_named_from_the_samples_alone() -> None:
    ev = evidence(loop_blocking=0.95, blocking_calls=("time.sleep",))
    note = findings.blocked_event_loop(Workload(10, True), IO, ev, None)
    assert note and "95% of its idle samples" in note and "time.sleep" in note
    assert findings.blocked_event_loop(Workload(10, True), IO, evidence(loop_blocking=0.1),
                                       None) is None


def test_without_samples_or_confirmation_the_report_says_what_it_needs() -> None:
    note = findings.blocked_event_loop(Workload(10, True), IO, evidence(degraded=True), None)
    assert note and "needs the samples (py-spy) or the confirmation" in note


def test_the_measurement_outranks_the_samples() -> None:
    gathered = Confirmation(1.0, 0.1, 10.0, True, 1,
                            results=(ExecutorResult("asyncio", 10, (0.1,), 0.1, 10.0),))
    assert findings.blocked_event_loop(Workload(10, True), IO, evidence(loop_blocking=0.9),
                                       gathered) is None


def test_shared_state_is_named_on_thread_advice_only() -> None:
    ev = evidence(shared_state=("app._CACHE (item assignment in fetch)",))
    same = Confirmation(1.0, 0.1, 10.0, True, 1, results=(
        ExecutorResult("thread", 8, (0.1,), 0.1, 10.0, check=ResultsCheck("same")),))
    note = findings.shared_state(Recommendation("thread", 8, "r", "why"), ev, same)
    assert note and "app._CACHE" in note and "same results on thread" in note
    assert findings.shared_state(Recommendation("process", 2, "r", "why"), ev, same) is None
    unchecked = findings.shared_state(Recommendation("thread", 8, "r", "why"), ev, None)
    assert unchecked and "needs the confirmation" in unchecked


def test_without_yappi_the_samples_name_where_the_loop_blocks() -> None:
    ev = evidence(loop_blocking=1.0, stacks=(AWAITING, BLOCKING))
    note = findings.blocked_event_loop(Workload(10, True), IO, ev, None)
    assert note and "a synchronous call in fetch (app.py:14)" in note
