"""Confirmation logic over stub measurements: medians, speedups, revisions."""

from __future__ import annotations

from concdoctor.confirm import Candidate, Skipped, confirm
from concdoctor.diagnosis import Recommendation


def stub(times: dict[str, float | str]):
    calls: list[str] = []

    def measure(executor: str, workers: int, chunksize: int) -> float:
        calls.append(executor)
        value = times[executor]
        if isinstance(value, str):
            raise Skipped(value)
        return value

    return measure, calls


ALTERNATIVES = [Candidate("thread", 8), Candidate("process", 2), Candidate("asyncio", 8)]


def advice(executor: str, min_speedup: float = 2.0) -> Recommendation:
    return Recommendation(executor, 8 if executor != "sequential" else 1, "r", "why",
                          min_speedup=min_speedup)


def test_confirmed_advice_measures_only_itself() -> None:
    measure, calls = stub({"thread": 0.2})
    result, final = confirm(advice("thread"), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES)
    assert calls == ["thread"] * 3
    assert result.confirmed and result.speedup == 10.0 and final.revised_from is None
    assert result.executors == {"sequential": 2.0, "thread": 0.2}


def test_failed_advice_is_revised_to_the_fastest() -> None:
    measure, _ = stub({"asyncio": 2.0, "thread": 0.25, "process": 1.1})
    result, final = confirm(advice("asyncio"), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES)
    assert final.executor == "thread" and final.revised_from == "asyncio"
    assert "1.00x" in (final.revision_reason or "")
    assert result.speedup == 8.0 and result.confirmed


def test_nothing_beats_sequential() -> None:
    measure, _ = stub({"process": 2.2, "thread": 2.1, "asyncio": "not a coroutine"})
    result, final = confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES)
    assert final.executor == "sequential" and final.revised_from == "process"
    skipped = {r.executor: r.skipped for r in result.results}
    assert skipped["asyncio"] == "not a coroutine"


def test_skipped_advice_is_revised() -> None:
    measure, _ = stub({"process": "cannot pickle", "thread": 1.0, "asyncio": "n/a"})
    _, final = confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure,
                       alternatives=ALTERNATIVES)
    assert final.executor == "thread"
    assert "skipped (cannot pickle)" in (final.revision_reason or "")


def test_compare_all_measures_everything_but_keeps_confirmed_advice() -> None:
    measure, calls = stub({"thread": 0.2, "process": 0.9, "asyncio": 0.19})
    result, final = confirm(advice("thread"), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES, compare_all=True)
    assert set(calls) == {"thread", "process", "asyncio"}
    assert final.executor == "thread"
    assert set(result.executors) == {"sequential", "thread", "process", "asyncio"}


def test_sequential_advice_is_challenged_once() -> None:
    measure, calls = stub({"sequential": 1.0, "thread": 0.98})
    result, final = confirm(advice("sequential"), baseline_seconds=1.0, measure=measure,
                            alternatives=ALTERNATIVES)
    assert final.executor == "sequential" and result.confirmed
    assert calls.count("thread") == 1


def test_sequential_advice_loses_to_a_clearly_faster_pool() -> None:
    measure, calls = stub({"sequential": 1.0, "thread": 0.5})
    result, final = confirm(advice("sequential"), baseline_seconds=1.0, measure=measure,
                            alternatives=ALTERNATIVES)
    assert final.executor == "thread" and final.revised_from == "sequential"
    assert calls.count("thread") == 3  # one probe, then the rest of the trials


MODEL = {"thread": 2.0, "process": 2.0}


def test_advice_short_of_its_model_is_challenged_and_can_lose() -> None:
    measure, calls = stub({"thread": 1.2, "process": 0.95})
    result, final = confirm(advice("thread", 1.3), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES[1:], expected=MODEL)
    assert calls.count("process") == 3  # one probe, then the rest of the trials
    assert final.executor == "process" and final.revised_from == "thread"
    assert result.confirmed


def test_advice_near_its_model_is_not_challenged() -> None:
    measure, calls = stub({"thread": 1.05, "process": 0.5})
    _, final = confirm(advice("thread", 1.3), baseline_seconds=2.0, measure=measure,
                       alternatives=ALTERNATIVES[1:], expected=MODEL)
    assert calls == ["thread"] * 3 and final.executor == "thread"


def test_a_challenger_that_is_not_faster_costs_one_trial() -> None:
    measure, calls = stub({"thread": 1.2, "process": 1.25})
    _, final = confirm(advice("thread", 1.3), baseline_seconds=2.0, measure=measure,
                       alternatives=ALTERNATIVES[1:], expected=MODEL)
    assert calls.count("process") == 1 and final.executor == "thread"


def test_asyncio_advice_is_not_challenged_by_threads() -> None:
    """A coroutine's own limits (a semaphore per loop) hold only on one loop."""
    measure, calls = stub({"asyncio": 0.3, "thread": 0.1})
    _, final = confirm(advice("asyncio"), baseline_seconds=3.0, measure=measure,
                       alternatives=ALTERNATIVES, expected={"asyncio": 60.0, "thread": 32.0})
    assert calls == ["asyncio"] * 3 and final.executor == "asyncio"


def test_no_challenge_from_a_pool_the_model_cannot_help() -> None:
    """Pure Python on processes at 1.6x: threads (model: 1.0x) are not worth a trial."""
    measure, calls = stub({"process": 1.25, "thread": 2.0})
    _, final = confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure,
                       alternatives=[Candidate("thread", 8)],
                       expected={"process": 2.0, "thread": 1.0})
    assert calls == ["process"] * 3 and final.executor == "process"
