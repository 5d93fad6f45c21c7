"""The budget's pure parts: which inputs a sample holds, how big it is, and the prediction
for the whole batch made from it."""

from __future__ import annotations

import itertools
import math

import pytest

from concdoctor.baseline import budget
from concdoctor.confirm.prediction import (
    TrialSummary,
    extrapolate,
    overhead_scale,
    pool_seconds,
    started_on_submit,
)


def test_a_sequence_is_held_as_it_is() -> None:
    items = list(range(10))
    held = budget.hold(items, seed=1)
    assert held.items is items and held.total == 10


def test_an_iterator_is_read_once_into_a_seeded_reservoir() -> None:
    held = budget.hold((i for i in range(100_000)), seed=3, limit=1000)
    assert held.total == 100_000 and len(held.items) == 1000
    assert list(held.items) == sorted(held.items)  # kept in input order
    assert max(held.items) > 90_000 and min(held.items) < 10_000  # spread over the input
    again = budget.hold((i for i in range(100_000)), seed=3, limit=1000)
    assert list(again.items) == list(held.items)  # the seed reproduces it
    assert budget.hold(iter(range(5)), seed=3).items == [0, 1, 2, 3, 4]


def test_a_sample_takes_one_input_from_each_stratum() -> None:
    positions = budget.stratified(1000, 10, seed=5)
    assert len(set(positions)) == 10
    assert sorted(p // 100 for p in positions) == list(range(10))
    assert positions == budget.stratified(1000, 10, seed=5)
    assert positions != budget.stratified(1000, 10, seed=6)
    assert sorted(budget.stratified(7, 50, seed=1)) == list(range(7))


def test_every_prefix_of_a_sample_is_spread() -> None:
    order = budget.spread(list(range(16)))
    assert sorted(order) == list(range(16))
    for size in (2, 4, 8):
        prefix = sorted(order[:size])
        assert max(b - a for a, b in itertools.pairwise([0, *prefix, 16])) <= 16 // size + 1


@pytest.mark.parametrize(("pace", "workers", "want"), [
    (0.02, 64, 450),    # waits of 20 ms: 9 s of the 30 s budget
    (0.1, 2, 90),       # 0.1 s of work: 9 s
    (0.001, 64, 9000),  # a millisecond each
    (1.0, 64, 13),      # a second each: keeping 64 threads busy would cost 192 s
    (60.0, 2, 4),       # longer than the budget: still two tasks per core
])
def test_the_sample_fits_the_budget(pace: float, workers: int, want: int) -> None:
    size = budget.sample_size([pace * 3, *[pace] * 9], 100_000, budget=30, workers=workers,
                              cpu_count=2)
    assert size == pytest.approx(want, rel=0.02, abs=1)


def test_a_sample_keeps_every_worker_busy_when_the_budget_allows() -> None:
    assert budget.sample_size([0.05] * 5, 10_000, budget=30, workers=64, cpu_count=2) == 192
    assert budget.sample_size([0.05] * 5, 100, budget=30, workers=64, cpu_count=2) == 100


def test_the_baseline_stops_only_once_its_pace_says_so() -> None:
    assert not budget.too_big(0.5, 5, 1000, deadline=10, check_after=1)  # too early to say
    assert budget.too_big(1.5, 10, 1000, deadline=10, check_after=1)  # 150 s at this pace
    assert not budget.too_big(1.5, 100, 500, deadline=10, check_after=1)  # 7.5 s: fits


# -- the prediction ----------------------------------------------------------------------------

def test_waits_overlap_on_a_thread_pool() -> None:
    """3,000 waits of 20 ms on 64 threads: 47 waves of 20 ms, and the start-up."""
    sample = TrialSummary(seconds=[0.19], task_seconds=0.0202, concurrency=58.0)
    seconds = pool_seconds(3000, 444, 64, alone=0.0201, trial=sample)
    assert seconds == pytest.approx(47 * 0.0202 + (0.19 - 7 * 0.0202), rel=0.02)


def test_a_pool_of_more_workers_than_the_sample_started_costs_more_to_start() -> None:
    """400 waits on 400 threads, sampled as 120 on 120: the start-up the trial measured
    beyond its one wave grows with the threads started, by the capacity model's costs."""
    sample = TrialSummary(seconds=[0.05], task_seconds=0.03, concurrency=120.0)
    p = extrapolate(tasks=400, seed=1, task_seconds_mean=0.03, task_seconds_stdev=0.0,
                    sampled=120, executor="thread", workers=400, trial=sample)
    scale = overhead_scale("thread", 120, 400)
    assert scale > 3
    assert p.recommended_seconds == pytest.approx(0.03 + (0.05 - 0.03) * scale, rel=0.02)


def test_work_that_takes_turns_gains_nothing() -> None:
    """GIL-held work on 8 threads: each task takes 8 times as long; the batch, as long."""
    sample = TrialSummary(seconds=[8 * 0.1 * 8], task_seconds=0.8, concurrency=8.0)
    assert pool_seconds(800, 64, 8, alone=0.1, trial=sample) == pytest.approx(80, rel=0.01)


def test_more_at_once_than_the_sample_ran_adds_contention() -> None:
    """An event loop ran 400 coroutines at once in the sample; the batch runs 1,000."""
    sample = TrialSummary(seconds=[0.05], task_seconds=0.04, concurrency=400.0)
    per_neighbour = (0.04 - 0.02) / 399
    want = 3 * (0.02 + 999 * per_neighbour) + (0.05 - 0.04)
    assert pool_seconds(3000, 400, 1000, alone=0.02, trial=sample) == pytest.approx(want)


def test_cpu_work_on_processes_scales_with_the_cores() -> None:
    sample = TrialSummary(seconds=[6.2, 6.1, 6.3], task_seconds=0.1, concurrency=2.0)
    p = extrapolate(tasks=300, seed=9, task_seconds_mean=0.1, task_seconds_stdev=0.01, sampled=120,
                executor="process", workers=2, trial=sample)
    assert p.sequential_seconds == pytest.approx(30)
    assert p.recommended_seconds == pytest.approx(150 * 0.1 + 0.2, rel=0.01)
    assert p.low < p.recommended_seconds < p.high
    assert (p.tasks, p.sampled_tasks, p.seed) == (300, 120, 9)


def test_the_interval_narrows_as_the_sample_grows() -> None:
    def width(sampled: int) -> float:
        p = extrapolate(tasks=10_000, seed=1, task_seconds_mean=0.01, task_seconds_stdev=0.02,
                    sampled=sampled, executor="sequential", workers=1, trial=None)
        return (p.high - p.low) / p.sequential_seconds

    assert width(100) > width(1000) > width(9000) > 0
    assert width(10_000) == 0  # all of it: nothing left to guess


def test_a_sequential_advice_predicts_the_sequential_time() -> None:
    p = extrapolate(tasks=4000, seed=2, task_seconds_mean=0.003, task_seconds_stdev=0.001,
                sampled=3000, executor="sequential", workers=1, trial=None)
    assert p.recommended_seconds == p.sequential_seconds == pytest.approx(12)
    assert math.isclose(p.low + p.high, 2 * p.sequential_seconds, rel_tol=1e-3)


def test_threads_started_at_each_submit_run_the_first_tasks_while_the_rest_start() -> None:
    """400 waits of 30 ms on 256 threads that take 0.1 s to start: the first threads'
    waits run meanwhile, and the 144 queued after the last thread started take one more
    wait on threads already free: 0.13 s, not the start and then two waves."""
    seconds = started_on_submit(0.1, 0.03, 256, 400)
    assert seconds == pytest.approx(0.1 + 0.03, rel=0.01)


def test_threads_that_start_faster_than_a_task_leave_the_waves_as_they_were() -> None:
    assert started_on_submit(0.01, 0.03, 64, 640) == pytest.approx(0.01 + 10 * 0.03, rel=0.02)
    assert started_on_submit(0.0, 0.03, 64, 640) == pytest.approx(10 * 0.03)


def test_a_thread_pools_start_up_is_read_from_its_sample_under_the_same_model() -> None:
    """A sample of 120 waits on 120 threads took 80 ms, waits of 30 ms: 50 ms of start.
    The batch's 400 on 256 threads start in about twice that (the capacity model), and
    the batch takes that and one wait; with as many threads as the sample, the old
    waves-plus-start-up sum stands (the two models agree there)."""
    sample = TrialSummary(seconds=[0.08], task_seconds=0.03, concurrency=120.0)
    p = extrapolate(tasks=400, seed=1, task_seconds_mean=0.03, task_seconds_stdev=0.0,
                    sampled=120, executor="thread", workers=256, trial=sample)
    start = 0.05 * overhead_scale("thread", 120, 256)
    assert p.recommended_seconds == pytest.approx(start + 0.03, rel=0.03)
    again = TrialSummary(seconds=[0.19], task_seconds=0.0202, concurrency=58.0)
    assert pool_seconds(3000, 444, 64, alone=0.0201, trial=again, on_submit=True) == (
        pytest.approx(pool_seconds(3000, 444, 64, alone=0.0201, trial=again), rel=0.01))
