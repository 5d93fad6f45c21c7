"""``concdoctor run``'s report once its top candidate is diagnosed: the answer in the
program's terms, its JSON, Markdown and HTML, and ``concdoctor report`` of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    Prediction,
    Recommendation,
    Workload,
)
from concdoctor.program.candidates import Candidate
from concdoctor.program.report import CaptureFacts, LoopRewrite, ProgramReport
from concdoctor.render.numbers import duration
from concdoctor.render.program import answer, capture_notes, files, html, markdown

CALL = "parse(url, timeout=5)"
FETCH = Candidate(
    function="etl.py:parse", call_site="etl.py:41 in main", loop="etl.py:40", calls=4000,
    seconds=430.0, share=0.72, kind="python_cpu_bound", idle=0.02, gil=0.97, released=0.01,
    picklable=True, reason=None, saving_seconds=215.0, file="/project/etl.py", line=12,
    site_file="/project/etl.py", site_line=41, call=CALL)
REWRITE = LoopRewrite(
    file="etl.py", first_line=40, last_line=41,
    imports=("from concurrent.futures import ProcessPoolExecutor",),
    before="    for url in urls:\n        pages.append(parse(url, timeout=5))\n",
    after="    with ProcessPoolExecutor(max_workers=2) as pool:\n        ...\n",
    note="the program must run this under its main guard")


def diagnosis(executor: str = "process", *, confirmed: bool = True,
              predicted: bool = True) -> Diagnosis:
    return Diagnosis(
        target="etl.py:parse", environment=Environment(python="3.11.7", cpu_count=2),
        workload=Workload(4000, input_source="captured", calls=True),
        evidence=Evidence(24.0, 24.0, 24.0, 0.2, sampled_tasks=120),
        classification=Classification("python_cpu_bound", 0.97),
        recommendation=Recommendation(executor, 2, "cpu-python", "why"),
        confirmation=Confirmation(24.0, 12.5 if confirmed else 23.5,
                                  1.92 if confirmed else 1.02, confirmed, 3),
        prediction=Prediction(4000, 120, 7, 430.0, 41.0, 38.0, 44.0) if predicted else None)


def report(**changes: object) -> ProgramReport:
    base = ProgramReport(
        argv=("etl.py", "config.yaml"), module=False, exit_code=0, wall_seconds=597.0,
        timed_out=False, recorder=None, candidates=(FETCH,), python="3.11.7", cpu_count=2,
        chosen=FETCH.function, diagnosed=FETCH, diagnosis=diagnosis(),
        capture=CaptureFacts(captured=120, wanted=120, seen=4000, total=4000, too_big=0,
                             problem=None, seed=7, per_call_bytes=2_236_962),
        rewrite=REWRITE)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_answer_names_the_calls_the_loop_and_its_time_on_the_advice() -> None:
    assert answer(report()) == (
        "72% of this run was 4,000 calls of parse(url, timeout=5) from main() at etl.py:41. "
        "The loop would take 41.00 s instead of 7 min 10 s on a process pool of 2 workers "
        "(predicted), confirmed on 120 captured calls.")


def test_the_answer_says_measured_when_every_call_was_captured_and_unconfirmed_when_so(
        ) -> None:
    said = answer(report(diagnosis=diagnosis(predicted=False, confirmed=False)))
    assert said is not None
    assert "would take 23.50 s instead of 24.00 s" in said and "(measured)" in said
    assert "not confirmed on 120 captured calls (1.02× measured)" in said


def test_calls_that_depend_on_each_other_are_never_promised_a_pool() -> None:
    said = answer(report(depends="each call's arguments use `state`", rewrite=None))
    assert said is not None
    assert "They depend on each other: each call's arguments use `state`" in said
    assert "cannot run them concurrently without changing the program" in said
    assert "would take" not in said


def test_staying_sequential_says_keep_the_loop() -> None:
    said = answer(report(diagnosis=diagnosis("sequential"), rewrite=None))
    assert said is not None and said.endswith("Keep the loop as it is: why")


@pytest.mark.parametrize(("value", "text"), [(42.0, "42.00 s"), (430.0, "7 min 10 s"),
                                             (7200.0, "2 h 0 min"), (180.0, "3 min")])
def test_long_durations_read_in_minutes(value: float, text: str) -> None:
    assert duration(value) == text


def test_the_report_with_its_diagnosis_round_trips_through_json() -> None:
    made = report(depends=None, not_diagnosed=None)
    data = json.loads(made.to_json())
    program = data["program"]
    assert data["target"] == "etl.py:parse" == program["chosen"]
    assert program["diagnosis"]["workload"]["input_source"] == "captured"
    assert program["capture"]["captured"] == 120
    assert program["rewrite"]["first_line"] == 40
    assert ProgramReport.from_json(made.to_json()) == made


def test_markdown_and_html_hold_the_answer_the_candidates_and_the_rewritten_loop() -> None:
    text = markdown(report())
    assert text.startswith("# concdoctor run: etl.py config.yaml")
    assert "7 min 10 s" in text and "| 1 | parse | etl.py:41 in main |" in text
    assert "### concdoctor: etl.py:parse" in text  # the diagnosis, one level down
    assert "# in place of lines 40-41:" in text and "ProcessPoolExecutor" in text
    page = html(report())
    assert page is not None and page.startswith("<!DOCTYPE html>")
    assert 'id="program"' in page and 'id="rewrite"' in page and "7 min 10 s" in page
    assert html(report(diagnosis=None, not_diagnosed="no candidate")) is None


def test_a_report_folder_has_every_format_it_can() -> None:
    assert set(files(report())) >= {"report.json", "report.md", "report.html"}
    assert set(files(report(diagnosis=None))) == {"report.json", "report.md"}


def test_report_renders_a_saved_program_report(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    saved.write_text(report().to_json(), encoding="utf-8")

    def rendered(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "concdoctor", "report", str(saved), *args],
                              capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "COLUMNS": "100"})

    shown = rendered()
    assert shown.returncode == 0, shown.stderr
    assert "7 min 10 s" in shown.stdout and "The loop, rewritten" in shown.stdout
    for format, mark in (("md", "# concdoctor run:"), ("html", "<!DOCTYPE html>"),
                         ("json", '"report": "program"')):
        done = rendered("--format", format)
        assert done.returncode == 0 and mark in done.stdout, done.stderr
    without = tmp_path / "ranked.json"
    without.write_text(report(diagnosis=None, not_diagnosed="no candidate").to_json(),
                       encoding="utf-8")
    saved = without
    refused = rendered("--format", "html")
    assert refused.returncode == 2 and "diagnosed no calls" in refused.stderr


def test_what_the_capture_left_out_or_found_different_is_said() -> None:
    facts = CaptureFacts(captured=80, wanted=120, seen=3900, total=4000, too_big=10,
                         problem="TypeError: cannot pickle '_thread.lock' object", seed=7,
                         per_call_bytes=2_236_962, run_failure="the program exited with code 3")
    notes = capture_notes(report(capture=facts))
    assert any("did not pickle (TypeError" in note and "the 80 that did" in note
               for note in notes)
    assert any(note.startswith("10 picked calls' arguments took more than 2,236,962")
               for note in notes)
    assert any("made 3,900 of these calls, the first run 4,000" in note for note in notes)
    assert any("exited with code 3" in note for note in notes)
    assert capture_notes(report()) == []
    assert "Note:" in markdown(report(capture=facts))


def test_calls_the_recorder_stopped_counting_are_told_by_the_captures_count() -> None:
    stopped = replace(FETCH, calls=500, counted_all=False)
    said = answer(report(diagnosed=stopped, candidates=(stopped,)))
    assert said is not None and said.startswith("at least 72% of this run was 4,000 calls")


@pytest.mark.parametrize("while_running", [True, False])
def test_calls_that_fail_when_replayed_after_the_program_say_what_may_have_gone(
        while_running: bool) -> None:
    from concdoctor.diagnosis import Failure

    failed = replace(diagnosis(), recommendation=None,
                     failure=Failure("baseline", "FileNotFoundError: part0.bin"))
    facts = replace(report().capture, while_running=while_running)  # type: ignore[type-var]
    said = answer(report(diagnosis=failed, capture=facts))
    assert said is not None and "could not be diagnosed: FileNotFoundError: part0.bin" in said
    assert ("replayed after the program ended" in said) is not while_running


def test_a_run_that_failed_after_its_calls_were_diagnosed_says_so() -> None:
    facts = replace(report().capture, run_failure="the program exited with code 3",  # type: ignore[type-var]
                    while_running=True)
    notes = capture_notes(report(capture=facts))
    assert any("its calls were diagnosed before that" in note for note in notes), notes
