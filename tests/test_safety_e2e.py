"""End to end: advice you can trust. Functions that share module state are never advised
onto an executor that changes their results; those that vary by themselves are not
blamed; the advice comes with the code to apply it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from concdoctor import api
from concdoctor.diagnosis import Diagnosis

pytestmark = pytest.mark.e2e


def profile(name: str, inputs: str = "INPUTS", **options: object) -> Diagnosis:
    return api.profile(f"examples.shared_state:{name}",
                       inputs_from=f"examples.shared_state:{inputs}", **options)


def result(d: Diagnosis, executor: str):
    assert d.confirmation is not None
    return next(r for r in d.confirmation.results if r.executor == executor)


def explain(d: Diagnosis) -> str:
    return f"{d.executor} ({d.recommendation}); {d.confirmation}; {d.notes}"


@pytest.mark.parametrize(("name", "inputs", "status"), [
    ("remember", "INPUTS", "differ"),
    ("count_calls", "INPUTS", "differ"),
    ("simulate", "STEPS", "raised"),
])
def test_shared_state_is_never_advised_onto_threads(in_repo: Path, name: str, inputs: str,
                                                    status: str) -> None:
    d = profile(name, inputs)
    assert d.kind == "io_bound", explain(d)
    threads = result(d, "thread")
    assert threads.unsafe and threads.check.status == status, explain(d)
    assert d.executor != "thread" and d.recommendation.revised_from == "thread", explain(d)
    assert d.recommendation.rule.startswith("measured-"), explain(d)
    assert "thread" in (d.recommendation.revision_reason or ""), explain(d)
    if name == "remember":  # each process runs its tasks one at a time: the same results
        assert d.executor == "process" and result(d, "process").check.status == "same"
    if name == "count_calls":  # numbered calls: only the sequential order gives them
        assert d.executor == "sequential", explain(d)
    assert any("_CURRENT" in s or "_CALLS" in s or "_SCHEDULER" in s
               for s in d.evidence.shared_state), d.evidence.shared_state


def test_results_that_vary_by_themselves_are_not_blamed(in_repo: Path) -> None:
    d = profile("roll")
    check = result(d, "thread").check
    assert check is not None and check.status == "skipped", explain(d)
    assert "vary by themselves" in (check.reason or "")
    assert d.executor == "thread" and d.recommendation.revised_from is None, explain(d)


def test_safe_controls_keep_their_advice_and_pass_the_check(in_repo: Path) -> None:
    d = api.profile("examples.io_threads:worker", inputs=[0.05] * 12)
    assert d.executor == "thread" and result(d, "thread").check.status == "same"
    assert not d.evidence.shared_state and d.recommendation.snippet
    assert "ThreadPoolExecutor(max_workers=12)" in d.recommendation.snippet


def test_one_trial_works_from_the_command_line(in_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "concdoctor", "profile",
                           "examples.io_threads:worker", "--inputs", "[0.05, 0.05, 0.05, 0.05]",
                           "--trials", "1", "--compare", "all", "--no-save", "--json",
                           str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert all(len(r["seconds"]) <= 1 for r in report["confirmation"]["results"]
               if r["executor"] != "sequential")
    assert "ThreadPoolExecutor" in report["recommendation"]["snippet"]
    assert "Apply it" in done.stdout


def test_a_blocked_event_loop_is_seen_without_the_confirmation(in_repo: Path) -> None:
    d = api.profile("examples.blocking_async:fetch_blocking",
                    inputs_from="examples.blocking_async:URLS", confirm=False)
    assert d.evidence.loop_blocking is not None and d.evidence.loop_blocking > 0.5
    assert any("blocks its event loop" in note and "time.sleep" in note for note in d.notes)
    awaiting = api.profile("examples.async_fetch:fetch_data",
                           inputs_from="examples.async_fetch:URLS", confirm=False)
    assert awaiting.evidence.loop_blocking is not None and awaiting.evidence.loop_blocking < 0.2
    assert not any("blocks its event loop" in note for note in awaiting.notes)
