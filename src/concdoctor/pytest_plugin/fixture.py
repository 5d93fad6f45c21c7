"""The object a test gets from the ``concdoctor`` fixture.

``concdoctor.profile(func, inputs=[...])`` runs the same diagnosis as
``concdoctor profile`` on the command line and returns its :class:`Diagnosis`; the
``assert_*`` helpers fail with the verdict explained (kind and confidence, the py-spy
shares, the rule and its reason, every executor measured, the revision).

Settings come from, first to last: the arguments of ``profile()``, the test's
``@pytest.mark.concdoctor(...)``, the ``--concdoctor-*`` options, concdoctor's defaults.

When the target raises, crashes or times out, ``profile()`` fails the test right there
with the failure and the target's traceback: a test cannot usefully go on without a
verdict. Pass ``allow_failure=True`` to get the partial diagnosis back instead (to
assert on ``diagnosis.failure``); the ``assert_*`` helpers then fail with the failure.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from concdoctor.pytest_plugin import verdict
from concdoctor.pytest_plugin.marker import MarkerError, MarkerSpec
from concdoctor.pytest_plugin.session import ConcdoctorSession, Record, Settings

if TYPE_CHECKING:
    from concdoctor.diagnosis import Diagnosis

NO_CONFIRM_SKIP = ("speedup not measured: confirmation was turned off by "
                   "--concdoctor-no-confirm")


class ConcdoctorFixture:
    """Diagnose functions from a test and assert on the verdict."""

    def __init__(self, *, nodeid: str, session: ConcdoctorSession,
                 marker: Callable[[], MarkerSpec], worker: str | None = None) -> None:
        self.nodeid = nodeid
        self.session = session
        self.settings: Settings = session.settings
        self.worker = worker
        self._marker = marker
        self.diagnoses: list[Diagnosis] = []
        """Every diagnosis this test made, in order."""
        self._unconfirmed_by_option: set[int] = set()

    # -- diagnosing -------------------------------------------------------------------------
    def profile(
        self,
        func: Callable[..., Any] | str,
        inputs: Iterable[Any] | None = None,
        *,
        repeat: int | None = None,
        inputs_from: str | None = None,
        calls: bool = False,
        rules: str | Path | None = None,
        confirm: bool | None = None,
        compare_all: bool | None = None,
        compare: Iterable[str] | None = None,
        cluster: str | None = None,
        trials: int | None = None,
        adaptive: bool | None = None,
        timeout: float | None = None,
        keep_detached: bool | None = None,
        start_method: str | None = None,
        sampling: bool | None = None,
        rate: int | None = None,
        budget: float | None = None,
        seed: int | None = None,
        sample: int | None = None,
        memory_limit: int | str | None = None,
        allow_failure: bool = False,
    ) -> Diagnosis:
        """Diagnose ``func`` over ``inputs`` (one call each) or ``repeat`` calls; with
        ``calls``, each input is a call's ``(args, kwargs)``.

        Same arguments as :func:`concdoctor.api.profile`, passed on to it; ``None``
        means "the marker's, else the command line's, else the default". Fails the test
        when the target raised, crashed or timed out, unless ``allow_failure=True``.
        """
        __tracebackhide__ = True
        from concdoctor import api

        spec = self.marker()
        diagnosis = api.profile(
            func, inputs, repeat=repeat, inputs_from=inputs_from, calls=calls, rules=rules,
            confirm=confirm, compare_all=compare_all, compare=compare, cluster=cluster,
            trials=trials, adaptive=adaptive, timeout=timeout, keep_detached=keep_detached,
            sampling=sampling, rate=rate, budget=budget, seed=seed, sample=sample,
            memory_limit=memory_limit, start_method=start_method,
            options=self.settings.options.given(**spec.defaults()),
            command=shlex.join(["pytest", self.nodeid]))
        self.diagnoses.append(diagnosis)
        if (confirm is None and "confirm" not in spec.defaults()
                and not self.settings.options.confirm):
            self._unconfirmed_by_option.add(id(diagnosis))
        report = self._write_report(diagnosis)
        self.session.add(Record.of(diagnosis, self.nodeid, self.worker, report))
        if diagnosis.failure is not None and not allow_failure:
            pytest.fail(verdict.failure_message(diagnosis))
        return diagnosis

    def marker(self) -> MarkerSpec:
        """The test's merged ``@pytest.mark.concdoctor`` arguments."""
        __tracebackhide__ = True
        try:
            return self._marker()
        except MarkerError as exc:
            problem = str(exc)
        pytest.fail(problem, pytrace=False)

    def _write_report(self, diagnosis: Diagnosis) -> Path | None:
        if self.settings.report_dir is None:
            return None
        from concdoctor.render import write_report_folder

        return write_report_folder(diagnosis, root=self.settings.report_dir)

    # -- asserting --------------------------------------------------------------------------
    def explain(self, diagnosis: Diagnosis) -> str:
        """The verdict and the numbers behind it, as the assertion messages show it."""
        return verdict.explain(diagnosis)

    def assert_kind(self, diagnosis: Diagnosis, *kinds: str) -> None:
        """The bottleneck is one of ``kinds`` (``"io_bound"``, ``"python_cpu_bound"``...)."""
        __tracebackhide__ = True
        self._hold(diagnosis, verdict.check_kind(diagnosis, kinds))

    def assert_executor(self, diagnosis: Diagnosis, *executors: str) -> None:
        """The advice (after any revision by measurement) is one of ``executors``."""
        __tracebackhide__ = True
        self._hold(diagnosis, verdict.check_executor(diagnosis, executors))

    def assert_speedup(self, diagnosis: Diagnosis, at_least: float,
                       executor: str | None = None) -> float:
        """The advice measured at least ``at_least`` times faster than sequential (or
        ``executor`` did: give ``compare_all=True`` to measure the others). Returns the
        measured speedup."""
        __tracebackhide__ = True
        speedup, problem = verdict.check_speedup(diagnosis, at_least, executor)
        self._hold(diagnosis, problem)
        assert speedup is not None
        return speedup

    def assert_confirmed(self, diagnosis: Diagnosis) -> None:
        """Confirmation measured the advice at or above its rule's ``min_speedup``."""
        __tracebackhide__ = True
        self._hold(diagnosis, verdict.check_confirmed(diagnosis))

    def _hold(self, diagnosis: Diagnosis, problem: verdict.Problem | None) -> None:
        __tracebackhide__ = True
        if diagnosis.failure is not None:
            raise AssertionError(verdict.failure_message(diagnosis))
        if problem is None:
            return
        if problem.unmeasured and id(diagnosis) in self._unconfirmed_by_option:
            pytest.skip(NO_CONFIRM_SKIP)
        raise AssertionError(problem.message(diagnosis))

    # -- the marker's expectations ---------------------------------------------------------
    def marker_problems(self, spec: MarkerSpec) -> list[str]:
        """A message for each diagnosis that misses the marker's expectations. Speedup
        expectations are left out where ``--concdoctor-no-confirm`` turned confirmation
        off: there is nothing to compare, and the user asked for no measurement."""
        messages: list[str] = []
        count = len(self.diagnoses)
        for index, diagnosis in enumerate(self.diagnoses, 1):
            where = f"diagnosis {index} of {count}" if count > 1 else "the diagnosis"
            if diagnosis.failure is not None:
                messages.append(f"{where}: {verdict.failure_message(diagnosis)}")
                continue
            for problem in self._expectation_problems(diagnosis, spec):
                if not (problem.unmeasured and id(diagnosis) in self._unconfirmed_by_option):
                    messages.append(f"{where}: {problem.message(diagnosis)}")
        return messages

    @staticmethod
    def _expectation_problems(diagnosis: Diagnosis, spec: MarkerSpec) -> list[verdict.Problem]:
        checks: list[verdict.Problem | None] = []
        if spec.kind:
            checks.append(verdict.check_kind(diagnosis, spec.kind))
        if spec.executor:
            checks.append(verdict.check_executor(diagnosis, spec.executor))
        if spec.min_speedup is not None:
            checks.append(verdict.check_speedup(diagnosis, spec.min_speedup)[1])
        if spec.confirmed is not None:
            checks.append(verdict.check_confirmed(diagnosis, spec.confirmed))
        return [problem for problem in checks if problem is not None]
