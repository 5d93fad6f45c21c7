"""One registry entry per executor: every stage asks it, and a new entry is enough.

The toy executor is a thread pool under another name, with a runner of its own here. It
is registered for one test, then measured, modelled, rendered and given a snippet with
no other file of concdoctor's changed. The layout test keeps the child's side apart:
outside ``concdoctor.child``, only the two launch points import it.
"""

from __future__ import annotations

import ast
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from concdoctor import api
from concdoctor import executors as registry
from concdoctor.executors import Costs, Executor

SRC = Path(__file__).resolve().parent.parent / "src" / "concdoctor"
MARKER = "CONCDOCTOR_TOY_RUNNER_MARK"
LAUNCH_POINTS = {"runner.py", "pipeline.py"}
"""The parent's modules that start the child, and so may import its entry point."""
PROGRAM_SIDE = {"program/boot.py"}
"""Runs inside the user's program (``concdoctor run``), a child like ``child/``: it
shares the child's containment (``child.reaper``)."""


def run_toy(batch):  # type: ignore[no-untyped-def] - the runner protocol's Batch
    """The toy's runner, in the child: a thread pool that leaves a mark it ran."""
    from concdoctor.child import runners

    Path(os.environ[MARKER]).write_text(f"{batch.workers}\n", encoding="utf-8")
    return runners.run_threads(batch)


def nap(item: int) -> int:
    time.sleep(0.05)
    return item * 2


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    mark = tmp_path / "toy-ran"
    monkeypatch.setenv(MARKER, str(mark))
    # a model that expects little of it: no challenger is sent against what it achieves
    registry.register(Executor(
        "toy", "toy pool", runner=f"{__name__}:run_toy",
        snippet="concdoctor.conclude.snippet:pool_body", workers="tasks",
        costs=Costs(start=0.3, per_worker=0.0001, per_task=0.00003), serialises="gil",
        shares_memory=True,
        pool_class="concurrent.futures:ThreadPoolExecutor"))
    try:
        yield mark
    finally:
        registry.unregister("toy")


@pytest.mark.e2e
def test_a_registered_executor_is_measured_modelled_rendered_and_pasted(
        toy: Path, tmp_path: Path) -> None:
    rules = tmp_path / "toy.toml"
    rules.write_text(
        '[[rule]]\nid = "toy-for-waits"\npriority = 100\nwhen = { kind = "io_bound" }\n'
        'executor = "toy"\nmin_speedup = 3.0\n'
        'reason = "{tasks} waits on {workers} toy workers (model: '
        '{predicted_speedup_toy:.1f}x)."\n', encoding="utf-8")
    d = api.profile(nap, list(range(24)), rules=rules, budget=20, trials=1)
    assert d.failure is None, d.failure
    assert d.executor == "toy" and d.recommendation.rule == "toy-for-waits", (
        d.kind, d.recommendation, d.notes)
    assert toy.read_text(encoding="utf-8").strip() == str(d.workers)  # its runner ran
    assert d.confirmed and d.speedup is not None and d.speedup >= 3.0
    assert "toy" in d.scaling  # the capacity model drew its curve from the entry's costs
    assert "model:" in d.recommendation.reason and "n/a" not in d.recommendation.reason
    assert d.recommendation.snippet is not None
    assert f"ThreadPoolExecutor(max_workers={d.workers})" in d.recommendation.snippet

    from concdoctor.render.html_report import HtmlRenderer
    from concdoctor.render.markdown_report import MarkdownRenderer

    assert "toy pool" in MarkdownRenderer().render(d)  # the entry's label
    assert "toy" in HtmlRenderer().render(d)


def test_every_builtin_executor_has_what_the_stages_ask() -> None:
    for entry in registry.all_executors():
        assert callable(entry.write_snippet()), entry.name
        if entry.name != registry.SEQUENTIAL:
            assert entry.costs is not None, f"{entry.name} has no costs for the model"
        if entry.pool_class:
            assert ":" in entry.pool_class
        for rival in entry.rivals:
            assert entry.name in registry.get(rival).rivals


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: sequential, thread"):
        registry.get("fibers")
    with pytest.raises(ValueError, match="identifier"):
        registry.register(Executor("two words", "x", runner="m:f", snippet="m:f"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_parent_imports_the_child_package_only_to_start_it() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        if relative.parts[0] == "child" or str(relative) in LAUNCH_POINTS | PROGRAM_SIDE:
            continue
        if any(name.startswith("concdoctor.child") for name in _imports(path)):
            offenders.append(str(relative))
    assert offenders == []


NOT_EXECUTORS = {"child/statecheck.py"}
"""Modules whose string is a module's name, not an executor's (``"asyncio"``, the module
whose state is shared by design)."""


def _strings(path: Path) -> set[str]:
    """The string constants of a module, docstrings (examples for readers) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings}


def test_at_most_three_modules_outside_the_registry_spell_an_executor() -> None:
    names = set(registry.names())
    spelling = sorted(
        str(relative) for path in SRC.rglob("*.py")
        if (relative := path.relative_to(SRC)).name != "executors.py"
        and str(relative) not in NOT_EXECUTORS and _strings(path) & names)
    assert len(spelling) <= 3, spelling
