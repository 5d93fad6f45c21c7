"""The function table: shares and times from py-spy's samples, calls from yappi."""

from __future__ import annotations

from collections import Counter

import pytest

from concdoctor.baseline import stacks
from concdoctor.conclude import functions
from concdoctor.diagnosis import Evidence, FunctionStat, StackSamples

ROOT = "work (/p/app.py:7)"
INNER = "work.<locals>.<genexpr> (/p/app.py:8)"


def evidence(**extra: object) -> Evidence:
    return Evidence(wall_seconds=2.0, cpu_seconds=2.0, thread_cpu_seconds=2.0,
                    task_seconds_median=0.2, task_seconds_mean=0.2, stacks=(
                        StackSamples((ROOT, INNER), gil=60),
                        StackSamples((ROOT,), gil=30),
                        StackSamples((ROOT, "helper (/p/lib.py:3)", "helper (/p/lib.py:4)"),
                                     idle=10)), **extra)  # type: ignore[arg-type]


def test_the_target_gets_every_sample_and_the_baseline_time() -> None:
    rows = {r.name: r for r in functions.table(evidence())}
    root = rows["work"]
    assert root.total == 1.0 and root.seconds == pytest.approx(2.0)
    assert root.self == pytest.approx(0.3) and root.self_seconds == pytest.approx(0.6)
    assert rows["work.<locals>.<genexpr>"].total == pytest.approx(0.6)
    assert list(rows) == ["work", "work.<locals>.<genexpr>", "helper"]


def test_recursion_counts_a_sample_once() -> None:
    helper = next(r for r in functions.table(evidence()) if r.name == "helper")
    assert helper.total == pytest.approx(0.1) and helper.self == pytest.approx(0.1)
    assert helper.line == 3  # the line most samples were on (a tie: the first seen)


def test_yappi_gives_calls_and_time_per_returned_call() -> None:
    traced = (FunctionStat("<genexpr>", "/p/app.py", 8, calls=1001, total_seconds=0.5,
                           unfinished=1),
              FunctionStat("work", "/p/app.py", 6, calls=1, unfinished=1),
              FunctionStat("builtins.sum", "builtins", calls=1, builtin=True))
    rows = {r.name: r for r in functions.table(evidence(top_functions=traced))}
    genexpr, root = rows["work.<locals>.<genexpr>"], rows["work"]
    assert genexpr.calls == 1001 and genexpr.per_call == pytest.approx(0.5 / 1000)
    assert root.calls == 1 and root.per_call is None and root.unfinished == 1
    assert rows["helper"].calls is None  # yappi never saw it


def test_the_coverage_line_says_how_little_yappi_saw() -> None:
    traced = (FunctionStat("work", "/p/app.py", 6, calls=1, unfinished=1),)
    partial = functions.coverage(evidence(top_functions=traced, traced_seconds=0.05))
    assert partial is not None and "50 ms, 25% of one task" in partial
    whole = functions.coverage(evidence(top_functions=traced, traced_seconds=0.6,
                                        traced_tasks=3))
    assert whole is not None and "3 tasks in 600 ms" in whole
    assert functions.coverage(evidence()) is None


def test_truncated_stacks_get_the_task_root_back() -> None:
    whole = Counter({(ROOT, INNER): 50, ("work (/p/app.py:9)",): 5})
    truncated = Counter({(INNER,): 7, ("work (/p/app.py:9)", INNER): 2})
    repaired = stacks.rooted(truncated, whole)
    assert repaired == Counter({(ROOT, INNER): 7, ("work (/p/app.py:9)", INNER): 2})
    assert stacks.rooted(truncated, Counter()) == truncated  # no root known: as they were


def test_each_function_says_how_its_samples_split() -> None:
    rows = {r.name: r for r in functions.table(evidence())}
    assert rows["work"].states == pytest.approx((0.1, 0.9, 0.0))
    assert rows["helper"].states == (1.0, 0.0, 0.0)


@pytest.mark.e2e
def test_a_cpu_bound_example_gets_its_whole_time(in_repo: object) -> None:
    """Real py-spy and yappi: the target holds nearly every sample and nearly the whole
    baseline's time, and the line under the table says what yappi's pass covered."""
    from concdoctor import api
    from concdoctor.render import get_renderer

    d = api.profile("examples.cpu_bound:sum_of_squares", inputs=[300_000] * 6, confirm=False)
    assert d.failure is None and d.evidence is not None
    rows = {row.name: row for row in functions.table(d.evidence)}
    target = rows["sum_of_squares"]
    assert target.total >= 0.95, rows
    assert target.seconds == pytest.approx(d.evidence.wall_seconds, rel=0.05)
    assert max(target.states) == target.states[1]  # pure Python: mostly GIL held
    note = functions.coverage(d.evidence)
    assert note is not None
    if d.evidence.traced_tasks == 0:  # the pass ended inside a task: said, and no 0 s
        assert "saw no task end" in note and "of one task" in note
        assert target.per_call is None and target.unfinished == 1
    terminal = get_renderer("terminal").render(d, width=80)
    assert "sum_of_squares" in terminal and "100%" in terminal and note[:40] in " ".join(
        terminal.split())


def test_the_flame_graph_and_the_table_agree() -> None:
    """Both are drawn from the same stacks: a function's total in the table is the
    flame graph's width of its frames at the top of the stack."""
    from concdoctor.render import flame

    ev = evidence()
    tree = flame.build_tree(ev.stacks)
    root = functions.table(ev)[0]
    top = sum(node.total for name, node in tree.children.items()
              if stacks.function_of(name) == f"{root.name} ({root.file}")
    assert top / tree.total == pytest.approx(root.total)
