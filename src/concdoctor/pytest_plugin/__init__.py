"""pytest plugin: the ``concdoctor`` fixture, the ``concdoctor`` marker, the summary.

Installed with concdoctor and loaded through the ``pytest11`` entry point, so no
conftest is needed::

    def test_fetch_wants_threads(concdoctor):
        diagnosis = concdoctor.profile(fetch, inputs=urls)
        concdoctor.assert_kind(diagnosis, "io_bound")
        concdoctor.assert_executor(diagnosis, "thread", "asyncio")
        concdoctor.assert_speedup(diagnosis, at_least=3)

Modules follow pytest's lifecycle: :mod:`.plugin` (hooks, options, the fixture),
:mod:`.fixture` (the object a test calls), :mod:`.marker` (the marker's arguments),
:mod:`.verdict` (checks whose messages explain the verdict), :mod:`.session` (the rows
and the summary table). Importing this package does not import the profiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concdoctor.pytest_plugin.fixture import ConcdoctorFixture

__all__ = ["ConcdoctorFixture"]


def __getattr__(name: str) -> Any:
    """``ConcdoctorFixture`` (for annotations) loads on first use, not with the plugin."""
    if name == "ConcdoctorFixture":
        from concdoctor.pytest_plugin.fixture import ConcdoctorFixture

        return ConcdoctorFixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
