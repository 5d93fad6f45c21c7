"""py-spy's raw output turned into shares, without running py-spy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from concdoctor.baseline import stacks as sampling
from concdoctor.conclude.findings import blocking_calls
from concdoctor.diagnosis import FunctionStat

LABELS = sampling.thread_labels(4242, 0x7F00AB)


def test_read_raw_keeps_the_worker_inside_tasks(tmp_path: Path) -> None:
    raw = tmp_path / "idle.txt"
    raw.write_text(
        "thread (4242): MainThread;<module> (child.py:1);serve (child.py:2);"
        "_concdoctor_task (child.py:3);Task.__call__ (concdoctor/child/runners.py:42);"
        "work (app.py:7) 30\n"
        "thread (4242): MainThread;serve (child.py:2);_concdoctor_wait (child.py:9) 50\n"
        "thread (4242): MainThread;work (app.py:7) 4\n"  # a truncated stack: still the worker
        "thread (999): Other;loop (app.py:1) 70\n"
        "thread (0x7F00AB): MainThread;_concdoctor_task (child.py:3);work (app.py:8) 5\n"
    )
    counts = sampling.read_raw(raw, LABELS)
    assert counts == Counter({("work (app.py:7)",): 34, ("work (app.py:8)",): 5})


def test_shares_use_the_known_sampling_rate() -> None:
    stack = ("f (a.py:1)",)
    shares = sampling.combine(Counter({stack: 200}), Counter({stack: 104}),
                              Counter({stack: 52}), expected=200)
    idle, gil, released = shares.fractions()
    assert round(idle, 2) == 0.48 and round(gil, 2) == 0.26 and round(released, 2) == 0.26


def test_shares_never_exceed_one_when_a_sampler_runs_fast() -> None:
    stack = ("f (a.py:1)",)
    shares = sampling.combine(Counter({stack: 190}), Counter({stack: 215}),
                              Counter({stack: 220}), expected=200)
    assert shares.fractions() == (0.0, 1.0, 0.0)


def test_the_gil_estimate_is_not_capped_by_the_active_sampler() -> None:
    stack = ("f (a.py:1)",)
    shares = sampling.combine(Counter({stack: 200}), Counter({stack: 180}),
                              Counter({stack: 198}), expected=200)
    assert shares.fractions()[1] == 0.9 and shares.gil_estimate == 0.99
    (_, gil, released), _ = sampling.blend(shares.fractions(), 1.0, shares.gil_estimate)
    assert gil == 0.99 and round(released, 2) == 0.01


def test_a_starved_idle_sampler_becomes_the_denominator() -> None:
    stack = ("f (a.py:1)",)
    shares = sampling.combine(Counter({stack: 100}), Counter({stack: 100}),
                              Counter({stack: 0}), expected=200)
    assert shares.fractions() == (0.0, 0.0, 1.0)


def test_blend_takes_waiting_from_cpu_time_and_the_gil_split_from_samples() -> None:
    (idle, gil, released), note = sampling.blend((0.2, 0.6, 0.2), busy_ratio=0.9)
    assert (round(idle, 2), round(gil, 3), round(released, 3)) == (0.1, 0.6, 0.3)
    (idle, gil, released), _ = sampling.blend((0.0, 0.97, 0.03), busy_ratio=0.9)
    assert (round(idle, 2), round(gil, 2), round(released, 2)) == (0.1, 0.9, 0.0)
    assert note is None


def test_blend_corrects_a_sleeping_thread_reported_active() -> None:
    (idle, gil, released), note = sampling.blend((0.03, 0.0, 0.97), busy_ratio=0.01)
    assert idle == 0.99 and gil == 0.0 and round(released, 2) == 0.01
    assert note and "follow the CPU time" in note


def test_blend_without_active_samples_keeps_the_samples() -> None:
    assert sampling.blend((1.0, 0.0, 0.0), busy_ratio=0.2) == ((1.0, 0.0, 0.0), None)


def test_permission_errors_explain_the_fix() -> None:
    message = sampling.explain_failure("Permission Denied: try running again with sudo")
    assert "ptrace_scope" in message and "SYS_PTRACE" in message


def test_blocking_calls_wait_without_cpu() -> None:
    functions = [FunctionStat("time.sleep", cpu_seconds=0.0001, wall_seconds=0.2),
                 FunctionStat("work", cpu_seconds=0.05, wall_seconds=0.05)]
    assert blocking_calls(functions) == ("time.sleep",)


def test_the_gil_split_comes_from_the_faster_gil_sampler_with_its_error() -> None:
    stack = ("f (a.py:1)",)
    shares = sampling.combine(Counter({stack: 100}), Counter({stack: 100}),
                              Counter({stack: 250}), expected=100, gil_expected=500)
    assert shares.gil_estimate == 0.5
    assert shares.gil_error == pytest.approx(1.96 * 250 ** 0.5 / 500, abs=1e-4)
    assert shares.stacks[0].gil == 50  # scaled to the other samplers' rate


def test_the_gil_sampler_runs_faster_up_to_a_cap() -> None:
    assert sampling.gil_rate(100) == 500 and sampling.gil_rate(50) == 250
    assert sampling.gil_rate(1000) == 1000  # never slower than the others


def test_samples_of_the_child_between_tasks_do_not_count(tmp_path: Path) -> None:
    raw = tmp_path / "gil.txt"
    raw.write_text(
        "thread (4242): MainThread;serve (concdoctor/child/serve.py:9);"
        "run_baseline (concdoctor/child/batch.py:120);"
        "writes (concdoctor/child/statecheck.py:40) 6\n"
        "thread (4242): MainThread;digest (concdoctor/child/results.py:3) 2\n"
        "thread (4242): MainThread;work (app.py:7) 4\n")
    assert sampling.read_raw(raw, LABELS) == Counter({("work (app.py:7)",): 4})
