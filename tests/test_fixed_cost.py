"""What a diagnosis spends beyond the batch: yappi skips its CPU clock where the samples
already tell; the samplers are read as soon as they end; the command's exit skips the
interpreter's teardown only when nothing is left.
Behaviour only: the costs themselves are measured by benchmarks/diagnosis_cost.py."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from concdoctor import cli
from concdoctor.baseline import budget
from concdoctor.baseline import stacks as sampling
from concdoctor.child import tracing
from concdoctor.diagnosis import Evidence
from concdoctor.protocol import RunYappi, decode, encode


def _spin(seconds: float) -> int:
    """Pure Python for ``seconds``: a task only the interpreter can stop."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_tasks_that_barely_wait_get_one_pass_and_cpu_from_the_samples() -> None:
    pytest.importorskip("yappi")
    calls: list[float] = []

    def task(seconds: float) -> int:
        calls.append(seconds)
        return _spin(seconds)

    done = tracing.profile_tasks(task, [0.01] * 3, budget=1.0, cpu_share=0.9)
    assert len(calls) == 3  # the wall-clock pass only: a CPU pass would call again
    spin = next(f for f in done.functions if f.name == "_spin")
    assert spin.cpu_seconds == pytest.approx(0.9 * spin.wall_seconds)
    both = tracing.profile_tasks(task, [0.01] * 3, budget=1.0, cpu_budget=1.0)
    assert both.available and len(calls) == 9


def _evidence(idle: float | None, degraded: bool = False) -> Evidence:
    busy = 1.0 - (idle or 0.0)
    return Evidence(wall_seconds=1.0, cpu_seconds=busy, thread_cpu_seconds=busy,
                    task_seconds_median=0.1, idle_fraction=idle, degraded=degraded,
                    gil_fraction=None if idle is None else busy,
                    released_fraction=None if idle is None else 0.0)


@pytest.mark.parametrize(("idle", "degraded", "share"), [
    (0.02, False, 0.98),   # computing: the samples tell CPU from waiting
    (0.09, False, 0.91),
    (0.1, False, None),    # waits enough to hide a blocking call
    (0.6, False, None),
    (0.02, True, None),    # samples too few to trust
    (None, False, None),   # no samples
])
def test_the_cpu_pass_is_skipped_only_where_the_samples_show_no_waiting(
        idle: float | None, degraded: bool, share: float | None) -> None:
    passes = budget.tracing_seconds(_evidence(idle, degraded), None)
    assert passes.cpu_share == share
    assert (passes.cpu == 0) == (share is not None)


def test_a_waiting_task_is_seen_through_unless_it_waits_in_its_loop() -> None:
    waiting = _evidence(0.9)
    passes = budget.tracing_seconds(waiting, None)
    assert passes.whole_task and passes.wall > budget.MIN_TRACING and passes.cpu > 0
    awaiting = budget.tracing_seconds(waiting, None, name_waits=False)
    assert not awaiting.whole_task and awaiting.wall == budget.MIN_TRACING


def test_the_skip_reaches_the_child_intact() -> None:
    message = RunYappi(0.05, 0.0, 0.97)
    assert decode(encode(message)) == message


def test_samplers_are_read_as_soon_as_their_output_closes() -> None:
    quick = subprocess.Popen([sys.executable, "-c", "print('bye')"], stdout=subprocess.PIPE)
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            stdout=subprocess.PIPE)
    try:
        start = time.monotonic()
        sampling._until_closed([quick.stdout], start + 30)
        assert quick.wait(5) == 0
        start = time.monotonic()
        sampling._until_closed([slow.stdout], start + 0.2)  # the deadline still holds
        assert time.monotonic() - start < 10 and slow.poll() is None
    finally:
        for process in (quick, slow):
            process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()


def _console(monkeypatch: pytest.MonkeyPatch, code: object) -> list[int]:
    exits: list[int] = []

    def main() -> None:
        raise SystemExit(code)

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(cli.os, "_exit", exits.append)
    cli.console()
    return exits


def test_the_command_exits_at_once_with_its_code_when_nothing_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_has_children", lambda: False)
    monkeypatch.setattr(cli.threading, "active_count", lambda: 1)
    assert _console(monkeypatch, 3) == [3]
    assert _console(monkeypatch, 0) == [0]


@pytest.mark.parametrize("left", ["thread", "child", "message"])
def test_the_command_exits_the_usual_way_when_something_is_left(
        monkeypatch: pytest.MonkeyPatch, left: str) -> None:
    monkeypatch.setattr(cli, "_has_children", lambda: left == "child")
    monkeypatch.setattr(cli.threading, "active_count", lambda: 2 if left == "thread" else 1)
    code = "concdoctor: error: x" if left == "message" else 4
    with pytest.raises(SystemExit) as raised:
        _console(monkeypatch, code)
    assert raised.value.code == code


def test_the_module_and_the_script_exit_with_the_command_s_code(tmp_path: Path) -> None:
    ran = subprocess.run([sys.executable, "-m", "concdoctor", "profile", "no_such_module:f",
                          "--repeat", "1", "--no-save", "-q"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.startswith("concdoctor: error:") and "Traceback" not in ran.stderr
    version = subprocess.run([sys.executable, "-m", "concdoctor", "--version"],
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("concdoctor ")


def test_a_pass_to_see_one_task_through_ends_when_one_has() -> None:
    pytest.importorskip("yappi")
    calls: list[float] = []

    def task(seconds: float) -> None:
        calls.append(seconds)
        time.sleep(seconds)

    done = tracing.profile_tasks(task, [0.05] * 3, budget=30.0, cpu_budget=0.0,
                                 one_task=True)
    assert done.tasks_done == 1 and done.traced_seconds < 15
    assert any(f.name == "time.sleep" and f.calls == 1 for f in done.functions)  # seen through
    assert calls[:1] == [0.05] and len(calls) <= 2  # the CPU pass may start another
