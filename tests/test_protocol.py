"""The parent-child protocol: every message survives the wire, anything else is refused,
and the frame names the parent looks for are the ones the child runs."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os

import pytest

from concdoctor import protocol
from concdoctor.baseline import stacks as sampling
from concdoctor.child import batch, tracing
from concdoctor.child import runners as executors
from concdoctor.child import serve as child
from concdoctor.diagnosis import FunctionStat

MESSAGES = [
    protocol.RunBaseline(),
    protocol.RunBaseline(keep_results=False, deadline=10.5, check_after=1.0, sample=120,
                         seed=7),
    protocol.TooBig((0.5, 0.6), 1.1, 1.05),
    protocol.Progress(10, 300),
    protocol.RunTrial("process", 2, chunksize=4),
    protocol.RunYappi(0.5),
    protocol.Exit(),
    protocol.Ready(protocol=protocol.PROTOCOL_VERSION, location="/x/concdoctor", pid=1,
                   thread_id=2, thread_ident=3, tasks=8, is_coroutine=True,
                   input_source="inputs_from", start_method="fork"),
    protocol.BaselineDone(1.5, (0.5, 1.0), 1.4, 1.3, 7, 2, 0.01, "cannot pickle"),
    protocol.TrialDone("thread", seconds=0.4, task_seconds_mean=0.02, concurrency=15.5),
    protocol.TrialDone("process", skipped="cannot pickle a lambda"),
    protocol.TrialDone("thread", raised="KeyError: 'x'"),
    protocol.YappiDone(True, functions=(FunctionStat("f", "a.py", 3, 10, 0.1, 0.2),), tasks=3),
    protocol.YappiDone(False, "yappi is not installed"),
    protocol.Failed("raised", "baseline", "ValueError: 13", "Traceback...", 3, "13"),
    protocol.Swept(ended=("sleep 60",), kept=("daemon -d",), kept_ids=("41:9001",), final=True),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_survives_the_wire(message: protocol.Message) -> None:
    line = protocol.encode(message)
    assert "\n" not in line
    assert protocol.decode(line) == message
    assert protocol.decode(line.encode()) == message


def test_every_message_type_is_covered_here() -> None:
    covered = {type(message) for message in MESSAGES}
    declared = {cls for cls in vars(protocol).values()
                if inspect.isclass(cls) and dataclasses.is_dataclass(cls)
                and cls.__module__ == protocol.__name__}
    assert declared == covered


@pytest.mark.parametrize(("line", "problem"), [
    ("not json", "not a protocol message"),
    ("[1, 2]", "not a protocol message"),
    ('{"type": "launch_rockets"}', "unknown message type"),
    ('{"type": "run_trial", "executor": "thread", "workers": 2, "colour": "red"}',
     "no field 'colour'"),
    ('{"type": "run_trial", "executor": "thread"}', "run_trial"),
])
def test_anything_else_is_refused(line: str, problem: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=problem):
        protocol.decode(line)


def test_a_child_of_another_version_is_named() -> None:
    ready = json.loads(protocol.encode(next(m for m in MESSAGES
                                             if isinstance(m, protocol.Ready))))
    ready.update(protocol=protocol.PROTOCOL_VERSION + 1, location="/elsewhere/concdoctor",
                 something_new=True)
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode(json.dumps(ready))
    message = str(caught.value)
    assert "/elsewhere/concdoctor" in message and "protocol" in message
    assert "sys.path" in message and "\n" not in message


def test_failures_become_the_partial_report_failure() -> None:
    failure = next(m for m in MESSAGES if isinstance(m, protocol.Failed)).failure()
    assert failure.phase == "baseline" and failure.detail == "Traceback..."
    assert failure.message == "the target raised on input #3 (13): ValueError: 13"


def test_trial_phases_name_the_executor() -> None:
    assert protocol.RunTrial("thread", 4).phase == "confirm:thread"
    assert protocol.RunBaseline().phase == "baseline" and protocol.RunYappi(1).phase == "yappi"


def test_the_frames_the_parent_looks_for_are_the_ones_the_child_runs() -> None:
    """batch.py runs tasks and child.py waits under these names; sampling and tracing read
    them."""
    assert batch._concdoctor_task.__name__ == protocol.TASK_FRAME
    assert child._concdoctor_wait.__name__ == protocol.WAIT_FRAME
    wrapper = inspect.getsourcefile(executors.Task.__call__)
    assert wrapper is not None
    assert wrapper.replace(os.sep, "/").endswith(protocol.WRAPPER_FILE)
    assert protocol.TASK_FRAME in tracing._SKIP_NAMES


def test_a_sampled_stack_is_cut_at_the_childs_frames(tmp_path) -> None:
    """A stack as py-spy writes it from the real frame names keeps only the user's part."""
    labels = sampling.thread_labels(11, 0xB)
    frames = ["MainThread", "serve (concdoctor/child.py:1)",
              f"{protocol.TASK_FRAME} (concdoctor/child.py:2)",
              f"Task.__call__ ({protocol.WRAPPER_FILE}:3)", "work (app.py:4)"]
    waiting = ["MainThread", f"{protocol.WAIT_FRAME} (concdoctor/child.py:5)"]
    raw = tmp_path / "raw.txt"
    raw.write_text(f"thread (11): {';'.join(frames)} 7\nthread (11): {';'.join(waiting)} 9\n")
    assert dict(sampling.read_raw(raw, labels)) == {("work (app.py:4)",): 7}
