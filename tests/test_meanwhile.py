"""The caller's work done while the child starts: the CLI loads its renderer then, and
shows no progress (nor loads rich for it) when asked to be quiet."""

from __future__ import annotations

import pytest

from concdoctor import api
from concdoctor.progress import PhaseProgress


def test_meanwhile_runs_once_after_the_child_starts_and_before_anything_is_measured() -> None:
    events: list[str] = []

    def progress(message: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:
            events.append(message)

    api.profile("examples.tiny:lookup", inputs_from="examples.tiny:INPUTS", sampling=False,
                confirm=False, progress=progress, meanwhile=lambda: events.append("meanwhile"))
    assert events.count("meanwhile") == 1, events
    measuring = next(i for i, event in enumerate(events) if event.startswith("running"))
    assert events.index("meanwhile") < measuring, events


def test_quiet_progress_needs_no_console() -> None:
    with PhaseProgress(None, quiet=True) as say:
        say("attaching py-spy")
        say("running 3 tasks sequentially", 1, 3)


def test_shown_progress_without_a_console_is_refused() -> None:
    with pytest.raises(ValueError, match="console"):
        PhaseProgress(None, quiet=False)
