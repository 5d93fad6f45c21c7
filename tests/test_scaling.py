"""The scaling model on hand-built work: the bounds it is made of, the knee, the measured
point on the curve, and the report's block."""

from __future__ import annotations

import json

import pytest

from concdoctor.decide import capacity as scaling
from concdoctor.decide.capacity import Work
from concdoctor.diagnosis import (
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    ExecutorResult,
    Workload,
)

PURE_PYTHON = Work(tasks=300, task_seconds=0.1, idle=0.0, gil=1.0, released=0.0)
RELEASED = Work(tasks=300, task_seconds=0.1, idle=0.0, gil=0.02, released=0.98)
WAITING = Work(tasks=3000, task_seconds=0.02, idle=0.99, gil=0.01, released=0.0)


@pytest.mark.parametrize(("work", "executor", "workers", "cores", "near"), [
    (PURE_PYTHON, "process", 2, 2, 2.0),     # one GIL per process, two cores
    (PURE_PYTHON, "process", 8, 8, 8.0),     # a machine with more cores
    (PURE_PYTHON, "process", 8, 2, 2.0),     # more workers than cores gain nothing
    (PURE_PYTHON, "thread", 8, 8, 1.0),      # threads take turns on the GIL
    (RELEASED, "thread", 8, 8, 8.0),         # C that lets go of the GIL runs in parallel
    (WAITING, "thread", 32, 2, 32.0),        # waits overlap whatever the cores
    (WAITING, "asyncio", 64, 2, 64.0),
])
def test_the_bounds(work: Work, executor: str, workers: int, cores: int, near: float) -> None:
    assert scaling.speedup(executor, work, workers, cores) == pytest.approx(near, rel=0.12)


def test_a_free_threaded_build_runs_python_on_threads() -> None:
    free = Work(**{**PURE_PYTHON.__dict__, "gil_enabled": False})
    assert scaling.speedup("thread", free, 8, 8) == pytest.approx(8.0, rel=0.05)


def test_shipping_big_data_costs_processes() -> None:
    small = Work(tasks=10_000, task_seconds=0.001, idle=0, gil=1, released=0)
    big = Work(**{**small.__dict__, "bytes_per_task": 1_000_000})
    assert scaling.speedup("process", big, 8, 8) < scaling.speedup("process", small, 8, 8) / 2


def test_the_knee_is_where_more_workers_stop_paying() -> None:
    assert scaling.knee("process", PURE_PYTHON, cores=2) == 2
    assert scaling.knee("process", PURE_PYTHON, cores=8) == 8
    assert scaling.knee("thread", RELEASED, cores=4) == 4
    assert scaling.knee("thread", WAITING, cores=2) == 64
    assert scaling.knee("thread", WAITING, cores=2, ceiling=16) == 16
    mixed = Work(tasks=12, task_seconds=0.1, idle=0.3, gil=0.44, released=0.26)
    assert scaling.knee("thread", mixed, cores=2) == 4  # the GIL caps it near 2.3x


def diagnosis(measured: ExecutorResult | None) -> Diagnosis:
    return Diagnosis(
        target="m:f", workload=Workload(300), environment=Environment("3.11.7", cpu_count=2),
        evidence=Evidence(30.0, 30.0, 30.0, 0.1, task_seconds_mean=0.1, idle_fraction=0.0,
                          gil_fraction=1.0, released_fraction=0.0),
        confirmation=Confirmation(30.0, 16.0, 1.875, True, 1, results=(measured,))
        if measured else None)


def test_the_measured_point_sits_on_the_curve() -> None:
    measured = ExecutorResult("process", 2, (16.0,), 16.0, 1.875)
    curves = scaling.curves(diagnosis(measured))
    here = {p.workers: p for p in curves["process"] if p.cores == 2}
    assert here[2].predicted_speedup == pytest.approx(1.875, abs=0.002)
    assert here[2].measured_speedup == 1.875 and here[4].measured_speedup is None
    more = {p.workers: p for p in curves["process"] if p.cores == 8}
    assert more[8].predicted_speedup > 6  # a bigger machine, the same efficiency
    assert "asyncio" not in curves and "dask" not in curves  # not applicable, not measured


def test_the_block_survives_the_json_report() -> None:
    d = diagnosis(ExecutorResult("process", 2, (16.0,), 16.0, 1.875))
    d = Diagnosis(**{**d.__dict__, "scaling": scaling.curves(d)})
    data = json.loads(d.to_json())
    entry = data["scaling"]["process"][0]
    assert set(entry) == {"workers", "cores", "predicted_speedup", "measured_speedup"}
    assert Diagnosis.from_json(d.to_json()).scaling == d.scaling


@pytest.mark.parametrize(("idle", "gil", "tasks"), [
    (0.95, 0.05, 200),   # waits: a thread count from the knee, beyond the usual sizes
    (0.0, 1.0, 40),      # Python: processes
    (0.5, 0.3, 100),     # mixed
    (0.0, 0.05, 30),     # C that releases the GIL
])
def test_the_advice_predicts_what_its_curve_shows(idle: float, gil: float,
                                                  tasks: int) -> None:
    """One capacity model: the recommendation's predicted speedup is the scaling curve's
    point at the advised worker count on this machine."""
    from dataclasses import replace

    from concdoctor.decide import rules
    from concdoctor.decide.classify import classify
    from concdoctor.decide.recommend import metrics_of, recommend

    released = round(1.0 - idle - gil, 3)
    evidence = Evidence(wall_seconds=tasks * 0.2, cpu_seconds=tasks * 0.2 * (1 - idle),
                        thread_cpu_seconds=tasks * 0.2 * (1 - idle), task_seconds_median=0.2,
                        task_seconds_max=0.2, task_seconds_mean=0.2, idle_fraction=idle,
                        gil_fraction=gil, released_fraction=released, samples=400)
    d = Diagnosis("m:f", Workload(tasks), Environment("3.11.7", cpu_count=2),
                  evidence=evidence)
    d = replace(d, classification=classify(evidence, cpu_count=2))
    loaded = rules.load()
    rec = recommend(loaded, metrics_of(d, loaded))
    assert rec.executor != "sequential" and rec.predicted_speedup is not None
    curve = scaling.curves(replace(d, recommendation=rec))[rec.executor]
    point = next(p for p in curve if p.workers == rec.workers and p.cores == 2)
    assert point.predicted_speedup == rec.predicted_speedup


HALF_WAITING = Work(tasks=100, task_seconds=0.04, idle=0.5, gil=0.5, released=0.0)


def test_the_cores_bound_only_the_running_share() -> None:
    """Tasks that wait half the time: a process per core leaves the cores half idle, so
    twice as many processes run about twice as fast; the knee finds that count."""
    at_cores = scaling.speedup("process", HALF_WAITING, 2, 2)
    doubled = scaling.speedup("process", HALF_WAITING, 4, 2)
    assert doubled > 1.6 * at_cores
    assert scaling.knee("process", HALF_WAITING, 2, ceiling=16) >= 4
    pure = Work(tasks=100, task_seconds=0.04, idle=0.0, gil=1.0, released=0.0)
    assert scaling.knee("process", pure, 2, ceiling=16) == 2  # no waits to overlap


def test_programs_the_task_waits_for_need_cores() -> None:
    """The interpreter idles while gzip runs: without the child program's CPU the model
    would see pure waiting; with it, threads stop gaining at the cores."""
    waiting = Work(tasks=40, task_seconds=0.02, idle=0.98, gil=0.01, released=0.01)
    gzip = Work(**{**waiting.__dict__, "external": 0.97})
    assert scaling.speedup("thread", waiting, 40, 2) > 10
    assert scaling.speedup("thread", gzip, 40, 2) == pytest.approx(2.0, rel=0.2)
    assert scaling.knee("thread", gzip, 2, ceiling=40) <= 4  # the cores, not the tasks


def test_chunks_make_tiny_tasks_worth_a_pool() -> None:
    tiny = Work(tasks=20_000, task_seconds=35e-6, idle=0.0, gil=1.0, released=0.0,
                bytes_per_task=40)
    assert scaling.speedup("process", tiny, 2, 2) < 1.0  # one hand-off per call
    assert scaling.speedup("process", tiny, 2, 2, chunksize=2500) > 1.3


def test_the_knee_goes_past_64_for_thousands_of_waits() -> None:
    waits = Work(tasks=600, task_seconds=0.03, idle=0.999, gil=0.001, released=0.0)
    assert scaling.knee("thread", waits, 2, ceiling=600) > 256
