"""Sub-interpreters measured for real where this Python has a pool (3.14, or 3.13 with
``concdoctor[interpreters]``), and the exact reason where it has none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from concdoctor import api, environment

pytestmark = pytest.mark.e2e
POOL = environment.interpreter_pool() is not None
TARGETS = Path(__file__).resolve().parent / "targets"


def result(d, executor: str):
    return next(r for r in d.confirmation.results if r.executor == executor)


@pytest.mark.skipif(not POOL, reason="no interpreter pool on this Python")
def test_compare_all_measures_sub_interpreters(in_repo: Path) -> None:
    d = api.profile("examples.factorize:factorize", inputs_from="examples.factorize:INPUTS",
                    compare_all=True)
    interp = result(d, "interpreter")
    assert interp.skipped is None and interp.speedup is not None, interp
    assert interp.check is not None and interp.check.status == "same"
    assert interp.worker_bytes is not None and interp.worker_bytes > 0
    assert result(d, "process").worker_bytes


@pytest.mark.skipif(not POOL or importlib.util.find_spec("_testsinglephase") is None,
                    reason="needs an interpreter pool and CPython's _testsinglephase")
def test_an_extension_without_sub_interpreter_support_is_named_not_waited_on() -> None:
    d = api.profile(f"{TARGETS / 'single_phase.py'}:work", inputs=[300_000] * 4,
                    compare_all=True, timeout=60)
    interp = result(d, "interpreter")
    assert interp.skipped and "_testsinglephase" in interp.skipped
    assert "sub-interpreter" in interp.skipped
    assert result(d, "process").speedup is not None


@pytest.mark.skipif(POOL, reason="this Python has an interpreter pool")
def test_where_there_is_no_pool_the_report_says_why(in_repo: Path) -> None:
    d = api.profile("examples.factorize:factorize", inputs_from="examples.factorize:INPUTS",
                    compare_all=True)
    reason = result(d, "interpreter").skipped or ""
    version = ".".join(map(str, sys.version_info[:2]))
    if sys.version_info[:2] == (3, 13):
        assert "pip install 'concdoctor[interpreters]'" in reason
    else:
        assert version in reason and "3.14" in reason
