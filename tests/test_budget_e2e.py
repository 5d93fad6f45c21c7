"""End to end: a batch longer than the budget is diagnosed on a sample, within the
budget, with a prediction for all of it. Budgets here are small, so the tests stay short;
the margins are wide (the benchmarks measure the real numbers)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from concdoctor import api

pytestmark = pytest.mark.e2e


def test_a_batch_beyond_the_budget_is_sampled_and_predicted(in_repo: Path) -> None:
    start = time.monotonic()
    d = api.profile("examples.big_batches:fetch", inputs_from="examples.big_batches:URLS",
                    budget=4)
    spent = time.monotonic() - start
    assert d.failure is None and d.kind == "io_bound" and d.executor == "thread"
    assert spent < 4 + 8, f"{spent:.1f} s for a budget of 4 s"  # the batch alone: 60 s
    ev, p = d.evidence, d.prediction
    assert ev.sampled_tasks is not None and 20 <= ev.sampled_tasks < 3000
    assert p is not None and p.tasks == 3000 and p.sampled_tasks == ev.sampled_tasks
    assert p.seed == ev.seed and p.seed is not None
    assert p.sequential_seconds == pytest.approx(60, rel=0.3)  # 3,000 waits of 20 ms
    assert p.low <= p.recommended_seconds <= p.high < p.sequential_seconds / 10
    assert any(f"--seed {p.seed}" in note for note in d.notes)


def test_a_batch_that_fits_runs_whole_and_predicts_nothing(in_repo: Path) -> None:
    d = api.profile("examples.io_threads:worker", inputs=[0.02] * 20, budget=30)
    assert d.evidence.sampled_tasks is None and d.prediction is None
    assert d.workload.tasks == 20


def test_the_seed_and_size_the_report_gives_repeat_the_sample(in_repo: Path) -> None:
    first = api.profile("examples.big_batches:fetch", inputs_from="examples.big_batches:URLS",
                        budget=2, confirm=False)
    seed = first.evidence.seed
    said = [m for n in first.notes for m in re.findall(r"--sample (\d+) --seed (\d+)", n)]
    assert seed and said and said[0][1] == str(seed), first.notes
    size = int(said[0][0])
    # The budget may end the sample early (a busy host): then the notes say so.
    measured = first.evidence.sampled_tasks
    assert measured == size or any(f"after {measured} of its {size} tasks" in n
                                   for n in first.notes), first.notes
    again = api.profile("examples.big_batches:fetch", inputs_from="examples.big_batches:URLS",
                        sample=size, seed=seed, confirm=False)
    assert (again.evidence.sampled_tasks, again.evidence.seed) == (size, seed), again.notes
    assert again.evidence.task_seconds_median == pytest.approx(
        first.evidence.task_seconds_median, rel=0.2), (first.notes, again.notes)


def test_a_generator_of_a_million_inputs_is_never_held_whole(in_repo: Path) -> None:
    d = api.profile("examples.big_batches:parse", inputs_from="examples.big_batches:rows",
                    budget=3, confirm=False)
    assert d.failure is None and d.workload.tasks == 1_000_000
    assert d.prediction is not None and d.prediction.tasks == 1_000_000
    assert d.evidence.sampled_tasks is not None and d.evidence.sampled_tasks <= 20_000


def test_every_report_says_what_was_predicted(in_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "concdoctor", "profile",
                           "examples.big_batches:fetch", "--inputs-from",
                           "examples.big_batches:URLS", "--budget", "3", "--no-save", "--json",
                           str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "predicted for all 3000 tasks" in done.stdout
    assert "on a sample of" in done.stdout  # the measured speedup says what it measured
    report = json.loads(out.read_text())
    assert set(report["prediction"]) >= {"tasks", "sampled_tasks", "seed", "sequential_seconds",
                                         "recommended_seconds", "low", "high"}
