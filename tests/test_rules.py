"""The decision matrix as data: loading, validation errors, matching. No profiling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from concdoctor.decide import expressions, rules
from concdoctor.decide.recommend import recommend
from concdoctor.errors import RulesError

BASE = {
    "kind": "io_bound", "confidence": 0.9, "idle_fraction": 0.98, "gil_fraction": 0.01,
    "released_fraction": 0.01, "task_seconds": 0.2, "task_seconds_max": 0.2,
    "wall_seconds": 1.6, "tasks": 8, "cpu_ratio": 0.01, "thread_cpu_ratio": 0.01,
    "is_coroutine": False, "cpu_count": 2, "gil_enabled": True, "free_threaded": False,
    "python_version": (3, 11, 7), "degraded": False, "process_available": True,
    "loky_available": False,
    "interpreter_available": False, "predicted_speedup_thread": 8.0,
    "predicted_speedup_process": 2.0, "predicted_speedup_asyncio": 8.0,
    "process_advantage": 0.25, "hybrid_available": True, "fastest_predicted": "thread",
    "fastest_margin": 1.0, "child_cpu_ratio": 0.0,
}


def metrics(**changes: object) -> dict[str, object]:
    return {**BASE, **changes}


@pytest.fixture(scope="module")
def default() -> rules.RuleSet:
    return rules.load()


@pytest.mark.parametrize(
    ("changes", "executor", "rule"),
    [
        ({}, "thread", "io-threads"),
        ({"is_coroutine": True}, "asyncio", "io-asyncio"),
        ({"is_coroutine": True, "tasks": 500}, "asyncio", "io-asyncio-high-concurrency"),
        ({"kind": "python_cpu_bound", "task_seconds": 0.3}, "process", "cpu-python-processes"),
        ({"kind": "python_cpu_bound", "task_seconds": 0.001}, "process",
         "cpu-python-processes-chunked"),
        ({"kind": "python_cpu_bound", "process_available": False}, "sequential",
         "cpu-python-unpicklable"),
        ({"kind": "python_cpu_bound", "process_available": False, "loky_available": True},
         "loky", "cpu-python-by-value"),
        ({"kind": "python_cpu_bound", "process_available": False,
          "interpreter_available": True, "python_version": (3, 14, 0)}, "interpreter",
         "cpu-python-interpreters"),
        ({"kind": "python_cpu_bound", "gil_enabled": False, "free_threaded": True}, "thread",
         "free-threaded-python-cpu"),
        ({"kind": "gil_released_c"}, "thread", "c-released-threads"),
        ({"kind": "overhead_bound", "predicted_speedup_process": 1.1}, "sequential",
         "tiny-tasks"),
        ({"kind": "overhead_bound", "predicted_speedup_process": 1.8}, "process",
         "tiny-tasks-chunked"),
        ({"kind": "already_parallel"}, "sequential", "already-parallel"),
        ({"kind": "mixed", "process_advantage": 1.5}, "process", "mixed-processes"),
        ({"kind": "mixed", "process_advantage": 1.0}, "thread", "mixed-threads"),
        ({"kind": "mixed", "fastest_predicted": "hybrid", "fastest_margin": 1.2,
          "process_advantage": 1.5}, "hybrid", "mixed-hybrid"),
        ({"kind": "mixed", "fastest_predicted": "hybrid", "fastest_margin": 1.05,
          "process_advantage": 1.5}, "process", "mixed-processes"),
        ({"tasks": 1}, "sequential", "single-task"),
    ],
)
def test_default_matrix(default: rules.RuleSet, changes: dict[str, object], executor: str,
                        rule: str) -> None:
    advice = recommend(default, metrics(**changes))
    assert (advice.executor, advice.rule) == (executor, rule)
    assert "{" not in advice.reason, advice.reason


def test_reason_is_filled_with_measured_numbers(default: rules.RuleSet) -> None:
    advice = recommend(default, metrics(idle_fraction=0.97, tasks=8))
    assert "97%" in advice.reason
    assert advice.workers == 8


def test_worker_expressions_follow_cpu_count(default: rules.RuleSet) -> None:
    advice = recommend(default, metrics(kind="python_cpu_bound", tasks=100, cpu_count=6,
                                        task_seconds=0.5, idle_fraction=0.0,
                                        gil_fraction=1.0, released_fraction=0.0))
    assert advice.workers == 6 and advice.limited_by is None  # the knee: one per core


def test_short_tasks_travel_in_chunks(default: rules.RuleSet) -> None:
    chunked = recommend(default, metrics(kind="python_cpu_bound", tasks=1000, cpu_count=2,
                                         task_seconds=0.001, idle_fraction=0.0,
                                         gil_fraction=1.0, released_fraction=0.0))
    assert chunked.chunksize == 125  # 1000 / (2 workers * 4), rounded up


def test_processes_go_past_the_cores_when_the_tasks_also_wait(default: rules.RuleSet) -> (
        None):
    """Half waiting, half Python: a second process per core overlaps the waits."""
    advice = recommend(default, metrics(kind="mixed", tasks=100, cpu_count=2,
                                        task_seconds=0.04, idle_fraction=0.5,
                                        gil_fraction=0.5, released_fraction=0.0,
                                        process_advantage=1.5))
    assert advice.executor == "process" and advice.workers >= 4
    assert advice.predicted_speedup is not None and advice.predicted_speedup > 1.5


def test_threads_follow_the_curve_past_64(default: rules.RuleSet) -> None:
    waits = metrics(tasks=600, task_seconds=0.03, idle_fraction=0.999, gil_fraction=0.001,
                    released_fraction=0.0)
    advice = recommend(default, waits)
    assert advice.executor == "thread" and advice.workers > 256
    assert advice.limited_by in (None, "tasks")
    capped = recommend(default, {**waits, "files_limit": 100})
    assert capped.workers == 100 and capped.limited_by == "files_limit"
    threads = recommend(default, {**waits, "threads_limit": 50, "files_limit": 100})
    assert threads.workers == 50 and threads.limited_by == "threads_limit"


def test_user_rules_come_first_and_defaults_remain(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[rule]]\nid = "always-threads"\nwhen = { kind = "io_bound" }\n'
                    'executor = "thread"\nworkers = 3\nreason = "team policy"\n')
    loaded = rules.load(path)
    assert recommend(loaded, metrics()).rule == "always-threads"
    assert recommend(loaded, metrics(kind="gil_released_c")).rule == "c-released-threads"


def test_pyproject_section(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.concdoctor]\nextend_default = true\n\n'
                         '[[tool.concdoctor.rule]]\nid = "proj"\nwhen = { tasks = { ">=" = 2 } }\n'
                         'executor = "sequential"\nreason = "project says so"\n')
    assert recommend(rules.load(pyproject=pyproject), metrics()).rule == "proj"


def test_the_project_that_gave_the_settings_gives_the_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest from a sub-folder: settings and rules both come from the rootdir's project."""
    from concdoctor.api import load_rules
    from concdoctor.options import project_options

    (tmp_path / "pyproject.toml").write_text(
        '[tool.concdoctor]\ntrials = 2\n\n[[tool.concdoctor.rule]]\nid = "proj"\n'
        'when = { tasks = { ">=" = 2 } }\nexecutor = "sequential"\nreason = "project"\n')
    sub = tmp_path / "tests"
    sub.mkdir()
    monkeypatch.chdir(sub)  # no pyproject.toml here
    options = project_options(tmp_path)
    assert options.trials == 2 and options.project == tmp_path
    assert recommend(load_rules(options.rules, options.project), metrics()).rule == "proj"
    assert recommend(load_rules(None), metrics()).rule != "proj"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(body)
    return path


GOOD = 'id = "r1"\nexecutor = "thread"\nreason = "x"\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[rule]]\n' + GOOD + 'when = { nonsense = 1 }\n', "unknown metric 'nonsense'"),
        ('[[rule]]\n' + GOOD + 'when = { tasks = { "~=" = 1 } }\n', "unknown operator '~='"),
        ('[[rule]]\nid = "r1"\nexecutor = "fibers"\nreason = "x"\n', "unknown executor 'fibers'"),
        ('[[rule]]\n' + GOOD + 'colour = "blue"\n', "unknown key 'colour'"),
        ('[[rule]]\n' + GOOD + 'workers = "__import__(\'os\')"\n', "unknown name"),
        ('[[rule]]\n' + GOOD + 'when = { kind = "slow" }\n', "unknown kind 'slow'"),
        ('[[rule]]\n' + GOOD + 'when = { tasks = "many" }\n', "compares with a int"),
        ('[[rule]]\nid = "r1"\nexecutor = "thread"\nreason = "{os.system}"\n', "placeholder"),
        ('[[rule]]\n' + GOOD + '[[rule]]\n' + GOOD, "duplicate id"),
        ('[[rule]\nid = 1', "invalid TOML"),
        ('[[rule]]\nexecutor = "thread"\nreason = "x"\n', "has no id"),
    ],
)
def test_invalid_rules_name_file_rule_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, "# my rules\n\n" + body)
    with pytest.raises(RulesError) as caught:
        rules.load(path)
    text = str(caught.value)
    assert message in text
    assert str(path) in text
    if "TOML" not in message:
        assert re.search(r"rules\.toml:\d+: rule", text) or "has no id" in text, text


def test_error_points_at_the_rule_and_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\n' + GOOD + '\n[[rule]]\nid = "second"\n'
                 'executor = "thread"\nreason = "y"\nwhen = { bogus = 2 }\n')
    with pytest.raises(RulesError, match=r"rules\.toml:6: rule 'second' \(line 10\)"):
        rules.load(path)


def test_missing_rules_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not found"):
        rules.load(tmp_path / "absent.toml")


def test_reason_templates_never_reach_attributes() -> None:
    assert rules.fill("{kind.__class__}", {"kind": "io"}) == "{kind.__class__}"
    assert rules.fill("{gil_fraction:.0%}", {"gil_fraction": 0.5}) == "50%"
    assert rules.fill("{python_version}", {"python_version": (3, 12)}) == "3.12"


@pytest.mark.parametrize(
    ("text", "value"),
    [("4", 4), ("tasks", 10), ("min(tasks, cpu_count * 4)", 8), ("max(1, tasks / 4)", 3),
     ("(tasks + 2) * 2", 24), ("tasks - cpu_count", 8)],
)
def test_expressions(text: str, value: int) -> None:
    node = expressions.parse(text)
    assert expressions.evaluate(node, {"tasks": 10, "cpu_count": 2, "workers": 1}) == value


@pytest.mark.parametrize("text", ["os.cpu_count()", "tasks ** 2", "min(", "1 2", "lambda"])
def test_expressions_reject_anything_else(text: str) -> None:
    with pytest.raises(expressions.ExpressionError):
        expressions.parse(text)


def test_the_readme_rule_example_loads_and_matches(tmp_path: Path) -> None:
    """Documentation examples are tested: the README's rule is valid and does its job."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.DOTALL) if "[[rule]]" in b]
    assert blocks, "README shows a [[rule]] example"
    path = tmp_path / "readme.toml"
    path.write_text(blocks[0])
    advice = recommend(rules.load(path), metrics(tasks=80))
    assert (advice.rule, advice.executor, advice.workers) == ("our-io-policy", "thread", 16)


def test_memory_bounds_the_count_and_says_so(default: rules.RuleSet) -> None:
    """Tasks that each hold 300 MiB, 1 GiB to spend: no more than fit, whatever the
    curve would take."""
    mixed = metrics(kind="mixed", tasks=100, cpu_count=2, task_seconds=0.04,
                    idle_fraction=0.5, gil_fraction=0.5, released_fraction=0.0,
                    process_advantage=1.5)
    free = recommend(default, mixed)
    assert free.workers >= 4 and free.limited_by != "memory"
    tight = recommend(default, {**mixed, "task_bytes": 300 << 20, "memory_limit_bytes": 1 << 30})
    assert tight.executor == "process" and tight.limited_by == "memory"
    assert tight.workers * (300 << 20) <= 1 << 30
    threads = recommend(default, {**metrics(tasks=600, task_seconds=0.03, idle_fraction=0.999,
                                            gil_fraction=0.001, released_fraction=0.0),
                                  "task_bytes": 50 << 20, "memory_limit_bytes": 1 << 30})
    assert threads.workers == 20 and threads.limited_by == "memory"



def test_a_hybrid_advice_keeps_its_shape(default: rules.RuleSet) -> None:
    advice = recommend(default, metrics(kind="mixed", tasks=100, cpu_count=8,
                                        task_seconds=0.04, idle_fraction=0.5,
                                        gil_fraction=0.2, released_fraction=0.3,
                                        fastest_predicted="hybrid", fastest_margin=1.3,
                                        process_advantage=1.5))
    assert advice.executor == "hybrid" and advice.rule == "mixed-hybrid"
    assert advice.inner_workers > 1 and advice.chunksize >= advice.inner_workers
    assert advice.predicted_speedup is not None and advice.predicted_speedup > 1


def test_room_for_one_call_stays_sequential_and_says_why(default: rules.RuleSet) -> None:
    advice = recommend(default, metrics(kind="python_cpu_bound", tasks=16, cpu_count=2,
                                        task_seconds=0.2, idle_fraction=0.0,
                                        gil_fraction=1.0, released_fraction=0.0,
                                        task_bytes=160 << 20, memory_limit_bytes=300 << 20))
    assert advice.executor == "sequential" and advice.limited_by == "memory"
    assert advice.rule == "cpu-python-processes" and "one call at a time" in advice.reason
