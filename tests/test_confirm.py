"""Confirmation logic over stub measurements: medians, speedups, revisions."""

from __future__ import annotations

import pytest

from concdoctor.confirm.ledger import Candidate, Skipped
from concdoctor.confirm.policy import confirm
from concdoctor.diagnosis import Recommendation


def stub(times: dict[str, float | str]):
    calls: list[str] = []

    def measure(executor: str, workers: int, chunksize: int, inner: int = 1) -> float:
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


# -- every revision path, with 1, 2 and 3 trials, adaptive or not ---------------------------

from concdoctor.confirm.ledger import Trial
from concdoctor.confirm.policy import MEASURED_FASTEST, MEASURED_SEQUENTIAL
from concdoctor.diagnosis import ResultsCheck

SAME = ResultsCheck("same")
DIFFER = ResultsCheck("differ", tasks=(0, 3), differing=2, first_input="0", expected="0",
                      got="30")
RAISED = ResultsCheck("raised", got="AttributeError: 'NoneType' object has no attribute 'x'")


def checked(times: dict[str, object]):
    """A stub whose values are seconds, a skip reason, or (seconds, check)."""
    calls: list[str] = []

    def measure(executor: str, workers: int, chunksize: int, inner: int = 1) -> Trial:
        calls.append(executor)
        value = times[executor]
        if isinstance(value, str):
            raise Skipped(value)
        if isinstance(value, tuple):
            return Trial(*value)
        return Trial(float(value), SAME)  # type: ignore[arg-type]

    return measure, calls


TRIALS = [pytest.param(n, adaptive, id=f"{n}-trials{'-adaptive' if adaptive else ''}")
          for n in (1, 2, 3) for adaptive in (False, True)]


def run(advised: Recommendation, times: dict[str, object], trials: int, adaptive: bool,
        baseline: float = 2.0, **kwargs):
    measure, calls = checked(times)
    result, final = confirm(advised, baseline_seconds=baseline, measure=measure,
                            alternatives=ALTERNATIVES, trials=trials, adaptive=adaptive,
                            **kwargs)
    return result, final, calls


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_advice_holds(trials: int, adaptive: bool) -> None:
    result, final, calls = run(advice("thread"), {"thread": 0.2}, trials, adaptive)
    assert final.executor == "thread" and final.revised_from is None and result.confirmed
    assert calls == ["thread"] * (1 if adaptive else trials)
    assert result.trials == len(calls) and result.recommended_seconds == 0.2


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_short_advice_revised_to_the_fastest(trials: int, adaptive: bool) -> None:
    result, final, _ = run(advice("asyncio"), {"asyncio": 2.0, "thread": 0.25, "process": 1.1},
                           trials, adaptive)
    assert (final.executor, final.rule, final.revised_from) == ("thread", MEASURED_FASTEST,
                                                                "asyncio")
    assert final.revised_from_rule == "r" and "8.00x" in final.reason
    assert "asyncio measured 1.00x" in (final.revision_reason or "")
    assert final.reason != "why" and final.advice is None  # nothing of the old rule's text
    assert result.confirmed and result.speedup == 8.0


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_nothing_beats_sequential(trials: int, adaptive: bool) -> None:
    result, final, _ = run(advice("process", 1.3),
                           {"process": 2.2, "thread": 2.1, "asyncio": "not a coroutine"},
                           trials, adaptive)
    assert (final.executor, final.rule, final.revised_from) == ("sequential",
                                                                MEASURED_SEQUENTIAL, "process")
    assert "stays sequential" in final.reason and "0.91x" in final.reason
    assert result.recommended_seconds == 2.0 and result.speedup == 1.0  # the baseline's time
    assert result.confirmed


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_skipped_advice(trials: int, adaptive: bool) -> None:
    _, final, calls = run(advice("process", 1.3),
                          {"process": "cannot pickle", "thread": 1.0, "asyncio": "n/a"},
                          trials, adaptive)
    assert final.executor == "thread" and calls.count("process") == 1
    assert "skipped (cannot pickle)" in (final.revision_reason or "")


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_advice_that_changes_the_results(trials: int, adaptive: bool) -> None:
    result, final, calls = run(advice("thread"),
                               {"thread": (0.1, DIFFER), "process": 1.0, "asyncio": "n/a"},
                               trials, adaptive)
    assert calls.count("thread") == 1  # one unsafe trial is enough
    assert (final.executor, final.rule, final.revised_from) == ("process", MEASURED_FASTEST,
                                                                "thread")
    assert "changed the results of 2 tasks" in (final.revision_reason or "")
    thread = next(r for r in result.results if r.executor == "thread")
    assert thread.unsafe and thread.speedup == 20.0  # the fastest, and never the advice
    assert result.executors["thread"] == 0.1


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_advice_that_raises(trials: int, adaptive: bool) -> None:
    _, final, _ = run(advice("thread"),
                      {"thread": (None, RAISED), "process": 1.0, "asyncio": "n/a"},
                      trials, adaptive)
    assert final.executor == "process"
    assert "raised where sequential did not" in (final.revision_reason or "")


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_every_pool_unsafe(trials: int, adaptive: bool) -> None:
    result, final, _ = run(advice("thread"),
                           {"thread": (0.1, DIFFER), "process": (0.9, DIFFER),
                            "asyncio": "n/a"}, trials, adaptive)
    assert (final.executor, final.rule) == ("sequential", MEASURED_SEQUENTIAL)
    assert result.recommended_seconds == 2.0 and result.confirmed


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_short_advice_kept_when_still_the_best(trials: int, adaptive: bool) -> None:
    result, final, _ = run(advice("thread", 2.0), {"thread": 1.5, "process": 1.6,
                                                   "asyncio": "n/a"}, trials, adaptive)
    assert final.executor == "thread" and final.revised_from is None
    assert not result.confirmed  # 1.33x, short of the rule's 2x, but nothing beat it


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_overtaken_by_a_challenger(trials: int, adaptive: bool) -> None:
    measure, calls = checked({"thread": 1.2, "process": 0.95})
    result, final = confirm(advice("thread", 1.3), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES[1:], expected=MODEL, trials=trials,
                            adaptive=adaptive)
    # with one trial asked for, one trial of each is all the evidence there is
    assert calls.count("process") == trials
    assert (final.executor, final.rule, final.revised_from) == ("process", MEASURED_FASTEST,
                                                                "thread")
    assert "held at 1.67x" in (final.revision_reason or "") and result.confirmed


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_sequential_advice_loses(trials: int, adaptive: bool) -> None:
    result, final, calls = run(advice("sequential"), {"sequential": 1.0, "thread": 0.5},
                               trials, adaptive, baseline=1.0)
    assert calls.count("thread") == trials  # a probe, then the rest of the trials
    assert (final.executor, final.rule, final.revised_from) == ("thread", MEASURED_FASTEST,
                                                                "sequential")
    assert "the rules said sequential (r)" in (final.revision_reason or "")
    assert "stays sequential" not in final.reason and final.advice is None
    assert result.speedup == 2.0


@pytest.mark.parametrize(("trials", "adaptive"), TRIALS)
def test_path_sequential_advice_stays(trials: int, adaptive: bool) -> None:
    result, final, calls = run(advice("sequential"), {"sequential": 1.0, "thread": 0.98},
                               trials, adaptive, baseline=1.0)
    assert final.executor == "sequential" and final.rule == "r" and result.confirmed
    assert calls.count("thread") == 1
    assert result.recommended_seconds == 1.0


def in_turn(seconds: list[float]):
    """A stub whose executor takes these seconds, one trial after another."""
    calls: list[str] = []
    times = iter(seconds)

    def measure(executor: str, workers: int, chunksize: int, inner: int = 1) -> Trial:
        calls.append(executor)
        return Trial(next(times), SAME)

    return measure, calls


def test_an_unsettled_advice_gets_more_trials_when_adaptive() -> None:
    """1.4x against a minimum of 1.3: close; the second trial misses the bar (1.2x), so
    the median of three decides."""
    measure, calls = in_turn([2.0 / 1.4, 2.0 / 1.2, 2.0 / 1.4])
    result, _ = confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure,
                        alternatives=[], trials=3, adaptive=True)
    assert calls == ["process"] * 3 and result.confirmed


@pytest.mark.parametrize("second", [1.45, 1.2])
def test_two_trials_on_one_side_of_the_bar_decide_a_median_of_three(second: float) -> None:
    """1.4x then 1.45x against 1.3: the third trial, however it runs, cannot move the
    median of three below the bar, so it is not run. 1.4x then 1.2x: it can, so it is."""
    measure, calls = in_turn([2.0 / 1.4, 2.0 / second, 2.0 / 1.4])
    result, _ = confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure,
                        alternatives=[], trials=3, adaptive=True)
    assert calls == ["process"] * (2 if second > 1.3 else 3) and result.confirmed


def test_two_trials_below_the_bar_decide_too() -> None:
    measure, calls = in_turn([2.0 / 1.2, 2.0 / 1.25, 2.0 / 2.0])
    confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure, alternatives=[],
            trials=3, adaptive=True)
    assert calls == ["process"] * 2  # below 1.3 twice: the advice fails, whatever comes


def test_with_four_trials_two_on_one_side_do_not_decide() -> None:
    measure, calls = in_turn([2.0 / 1.4, 2.0 / 1.45, 2.0 / 1.4, 2.0 / 1.4])
    confirm(advice("process", 1.3), baseline_seconds=2.0, measure=measure, alternatives=[],
            trials=4, adaptive=True)
    assert calls == ["process"] * 3  # a median of four: the third above decides it


def test_an_open_decision_stops_when_the_budget_is_spent() -> None:
    """The advice's speedup sits on its rule's bar, so adaptive trials would go on; once
    the budget has no room for another trial, confirmation ends with what it has."""
    measure, calls = stub({"thread": 1.0, "process": 1.0, "asyncio": 1.0})
    left = iter([0.5])  # the first trial is always run; then no room for another
    result, final = confirm(advice("thread", 2.0), baseline_seconds=2.0, measure=measure,
                            alternatives=ALTERNATIVES, adaptive=True,
                            time_left=lambda: next(left, 0.0))
    assert calls == ["thread"]
    assert result.executors["thread"] == 1.0


def test_a_named_executor_is_measured_against_sequential_advice() -> None:
    alternatives = [*ALTERNATIVES, Candidate("dask", 4)]
    measure, calls = stub({"sequential": 1.0, "thread": 0.98, "dask": 0.9})
    result, _ = confirm(advice("sequential"), baseline_seconds=1.0, measure=measure,
                        alternatives=alternatives, also=("dask",))
    assert "dask" in calls and result.executors["dask"] == 0.9
