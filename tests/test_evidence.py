"""The baseline as it would have run without the samplers (the trials run without them)."""

from __future__ import annotations

import pytest

from concdoctor.baseline.evidence import _without_samplers
from concdoctor.protocol import BaselineDone


def baseline(*, wall: float = 2.0, cpu: float = 1.8, thread_cpu: float = 1.8,
             run_delay: float = 0.2) -> BaselineDone:
    return BaselineDone(wall_seconds=wall, task_seconds=(wall / 4,) * 4, cpu_seconds=cpu,
                        thread_cpu_seconds=thread_cpu, voluntary_switches=0,
                        involuntary_switches=50, run_delay_seconds=run_delay)


@pytest.mark.parametrize("one_core", [True, False])
def test_the_wait_for_the_samplers_core_is_left_out(one_core: bool) -> None:
    done, note = _without_samplers(baseline(), 0.3, one_core=one_core)
    assert done.wall_seconds == pytest.approx(1.8) and done.run_delay_seconds == 0
    assert sum(done.task_seconds) == pytest.approx(1.8)
    assert (note is not None) == one_core  # routine on more cores: no note


def test_no_more_is_left_out_than_the_samplers_used() -> None:
    done, _ = _without_samplers(baseline(run_delay=0.8, cpu=1.2, thread_cpu=1.2), 0.1,
                                one_core=False)
    assert done.wall_seconds == pytest.approx(2.0 - 0.1 * 2.0)


def test_a_wait_beside_the_targets_own_threads_stays() -> None:
    """Native threads of the target kept the cores busy: the wait may well be theirs."""
    before = baseline(cpu=3.4, thread_cpu=1.8)
    done, note = _without_samplers(before, 0.3, one_core=False)
    assert done == before and note is None
    done, note = _without_samplers(before, 0.3, one_core=True)  # one core: samplers' turn
    assert done.wall_seconds < before.wall_seconds and note


def test_no_wait_no_change() -> None:
    before = baseline(run_delay=0.0)
    assert _without_samplers(before, 0.3, one_core=False) == (before, None)
