"""Classification is a pure function of the evidence: hand-built evidence, no profiling."""

from __future__ import annotations

import pytest

from concdoctor.decide.capacity import Work
from concdoctor.decide.classify import classify
from concdoctor.decide.metrics import predicted_speedups
from concdoctor.diagnosis import Evidence


def evidence(idle: float | None, gil: float | None, released: float | None, *,
             cpu: float = 1.0, thread_cpu: float | None = None, wall: float = 2.0,
             task: float = 0.25, samples: int = 400) -> Evidence:
    thread = cpu if thread_cpu is None else thread_cpu
    return Evidence(wall_seconds=wall, cpu_seconds=cpu * wall, thread_cpu_seconds=thread * wall,
                    task_seconds_median=task, task_seconds_max=task, idle_fraction=idle,
                    gil_fraction=gil, released_fraction=released,
                    samples=samples if idle is not None else 0, degraded=idle is None)


@pytest.mark.parametrize(
    ("shares", "cpu", "kind"),
    [
        ((0.98, 0.0, 0.02), 0.01, "io_bound"),        # sleep, socket recv
        ((0.0, 1.0, 0.0), 1.0, "python_cpu_bound"),   # pure Python, json, re
        ((0.0, 0.0, 1.0), 1.0, "gil_released_c"),     # hashlib, zlib
        ((0.30, 0.44, 0.26), 0.7, "mixed"),           # a loop mixing the three
    ],
)
def test_kinds_from_shares(shares: tuple[float, float, float], cpu: float, kind: str) -> None:
    result = classify(evidence(*shares, cpu=cpu), cpu_count=2)
    assert result.kind == kind
    assert 0.5 <= result.confidence <= 1.0


def test_gil_ownership_not_language_decides() -> None:
    """json.dumps is C, but it keeps the GIL: threads cannot help, so it is CPU-bound."""
    assert classify(evidence(0.0, 0.97, 0.03), cpu_count=2).kind == "python_cpu_bound"


def test_already_parallel_from_process_cpu() -> None:
    result = classify(evidence(0.0, 0.0, 1.0, cpu=1.9, thread_cpu=1.0), cpu_count=2)
    assert result.kind == "already_parallel"
    assert "1.90 CPU seconds per wall second" in result.signals[0]


def test_one_core_cannot_be_already_parallel() -> None:
    assert classify(evidence(0.0, 0.0, 1.0, cpu=1.5), cpu_count=1).kind == "gil_released_c"


@pytest.mark.parametrize(("wall", "task"), [(0.01, 0.001), (1.0, 0.00002)])
def test_tiny_work_is_overhead_bound(wall: float, task: float) -> None:
    result = classify(evidence(0.9, 0.05, 0.05, cpu=0.1, wall=wall, task=task), cpu_count=2)
    assert result.kind == "overhead_bound"


def test_many_tiny_python_tasks_can_still_be_chunked() -> None:
    """Short pure-Python tasks in a long batch are CPU-bound: process chunks amortise."""
    result = classify(evidence(0.0, 1.0, 0.0, wall=2.0, task=0.00002), cpu_count=2)
    assert result.kind == "python_cpu_bound"


def test_disagreeing_cpu_time_lowers_confidence() -> None:
    agree = classify(evidence(0.0, 0.9, 0.1, cpu=1.0), cpu_count=2)
    disagree = classify(evidence(0.0, 0.9, 0.1, cpu=0.1), cpu_count=2)
    assert disagree.kind == agree.kind
    assert disagree.confidence < agree.confidence


@pytest.mark.parametrize(("thread_cpu", "kind"), [(0.02, "io_bound"), (0.98, "python_cpu_bound"),
                                                  (0.5, "mixed")])
def test_without_samples_cpu_time_decides(thread_cpu: float, kind: str) -> None:
    result = classify(evidence(None, None, None, cpu=thread_cpu), cpu_count=2)
    assert result.kind == kind
    assert result.confidence <= 0.8
    assert any("no py-spy samples" in signal for signal in result.signals)


def test_starved_worker_is_flagged() -> None:
    result = classify(evidence(0.0, 1.0, 0.0), cpu_count=2, run_delay_seconds=1.5)
    assert any("waited" in signal for signal in result.signals)


POOLS = {"thread": (8, 1, 1), "process": (2, 1, 1), "asyncio": (8, 1, 1),
         "interpreter": (2, 1, 1), "dask": (2, 1, 1)}


def _predicted(idle: float, gil: float, released: float, gil_enabled: bool = True) -> (
        dict[str, float]):
    work = Work(8, 0.5, idle, gil, released, gil_enabled=gil_enabled)
    return predicted_speedups(work, 2, POOLS)


def test_capacity_model() -> None:
    """The rules' predicted speedups are the scaling model's, less its small costs."""
    pure = _predicted(0.0, 1.0, 0.0)
    assert pure["thread"] == pytest.approx(1.0, rel=0.05)
    assert pure["process"] == pytest.approx(2.0, rel=0.05)
    waiting = _predicted(1.0, 0.0, 0.0)
    assert waiting["thread"] == pytest.approx(8.0, rel=0.05)
    assert waiting["asyncio"] == pytest.approx(8.0, rel=0.05)
    free = _predicted(0.0, 1.0, 0.0, gil_enabled=False)
    assert free["thread"] == pytest.approx(2.0, rel=0.05)


def test_a_tiny_batch_is_not_mistaken_for_parallel_native_code() -> None:
    """Over a millisecond, rusage can show more CPU than wall time: noise, not threads."""
    result = classify(evidence(None, None, None, cpu=1.8, wall=0.0008, task=0.000002),
                      cpu_count=2)
    assert result.kind == "overhead_bound"
