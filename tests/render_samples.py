"""Hand-built diagnoses for the renderer tests (complete, degraded, partial, hostile),
and the checks that read the rendered formats back.

No profiler runs here: the renderers are pure functions of a Diagnosis, so the tests
build the object directly, including strings written to break out of HTML, Markdown
tables and console markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar

from concdoctor.diagnosis import (
    Classification,
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    ExecutorResult,
    Failure,
    FunctionStat,
    Recommendation,
    ResultsCheck,
    ScalingPoint,
    StackSamples,
    Workload,
)
from concdoctor.render import Renderer
from concdoctor.render.terminal import TerminalRenderer

HOSTILE = "<script>alert(1)</script>"
MARKUP = "[bold red]markup[/]"
PIPE = "a|b"
TICKS = "``tick`` `x`"

ENVIRONMENT = Environment(
    python="3.11.7", cpu_count=2, gil_enabled=True, free_threaded_build=False,
    implementation="CPython", platform="Linux-6.1-x86_64", start_method="forkserver",
    concdoctor="0.1.0", py_spy="0.4.3", yappi="1.7.6",
)

_RUNNER = "run_task (concdoctor/child.py:120)"
_TARGET = "sum_of_squares (examples/cpu_bound.py:8)"


def stacks() -> tuple[StackSamples, ...]:
    return (
        StackSamples((_RUNNER, _TARGET, "<genexpr> (examples/cpu_bound.py:9)"), gil=180),
        StackSamples((_RUNNER, _TARGET), gil=40, idle=2),
        StackSamples((_RUNNER, "hash_block (examples/mixed.py:21)"), released=30),
        StackSamples((_RUNNER, "wait (examples/mixed.py:30)", "sleep (<built-in>)"), idle=25),
    )


def evidence(**overrides: object) -> Evidence:
    values: dict[str, object] = dict(
        wall_seconds=2.4, cpu_seconds=2.39, thread_cpu_seconds=2.38,
        task_seconds_median=0.3, task_seconds_max=0.34, voluntary_switches=12,
        involuntary_switches=40, idle_fraction=0.1, gil_fraction=0.78,
        released_fraction=0.12, samples=277, sampling_rate=100, stacks=stacks(),
        traced_seconds=2.5, traced_tasks=8,
        top_functions=(
            FunctionStat("sum_of_squares", "examples/cpu_bound.py", 8, 8, 0.29, 0.3,
                         total_seconds=2.4),
            FunctionStat("<genexpr>", "examples/cpu_bound.py", 9, 800_000, 0.2, 0.21,
                         total_seconds=0.21),
            FunctionStat("time.sleep", "", 0, 4, 0.0001, 0.2, builtin=True),
        ),
    )
    values.update(overrides)
    return Evidence(**values)  # type: ignore[arg-type]


def confirmation() -> Confirmation:
    results = (
        ExecutorResult("sequential", 1, (2.41, 2.4, 2.39), 2.4, 1.0),
        ExecutorResult("process", 2, (1.31, 1.3, 1.29), 1.3, 1.85),
        ExecutorResult("thread", 2, (2.5, 2.45, 2.47), 2.47, 0.97),
        ExecutorResult("interpreter", 2, skipped="needs Python 3.14"),
    )
    return Confirmation(
        baseline_seconds=2.4, recommended_seconds=1.3, speedup=1.85, confirmed=True,
        trials=3, executors={"sequential": 2.4, "process": 1.3, "thread": 2.47},
        results=results,
    )


def complete() -> Diagnosis:
    return Diagnosis(
        target="examples.cpu_bound:sum_of_squares",
        workload=Workload(tasks=8),
        environment=ENVIRONMENT,
        evidence=evidence(),
        classification=Classification("python_cpu_bound", 0.95,
                                       ("gil share 0.78 >= 0.6", "cpu ratio 1.00")),
        recommendation=Recommendation(
            executor="process", workers=2, rule="cpu-python-processes",
            reason="78% of samples hold the GIL and a task takes 300 ms (> 100 ms)",
            min_speedup=1.3, revised_from="thread",
            revision_reason="thread measured 0.97x, below 1.3x",
        ),
        confirmation=confirmation(),
        scaling={"process": tuple(ScalingPoint(w, c, min(w, c) * 0.95,
                                               1.85 if (w, c) == (2, 2) else None)
                                  for c in (2, 8) for w in (1, 2, 4, 8)),
                 "thread": tuple(ScalingPoint(w, c, 0.97) for c in (2, 8) for w in (1, 2, 4, 8))},
        notes=("the baseline ran 8 tasks",),
        command="concdoctor profile examples.cpu_bound:sum_of_squares --repeat 8",
        created_at="2026-11-25T19:12:00+00:00",
    )


def degraded() -> Diagnosis:
    """py-spy could not attach: no fractions, no stacks, the rest still answers."""
    base = complete()
    ev = evidence(idle_fraction=None, gil_fraction=None, released_fraction=None,
                  samples=0, sampling_rate=0, stacks=(), degraded=True,
                  degraded_reason="py-spy: Permission Denied (ptrace); run with "
                                  "--cap-add SYS_PTRACE")
    return Diagnosis(
        target=base.target, workload=base.workload, environment=base.environment,
        evidence=ev, classification=Classification("python_cpu_bound", 0.6),
        recommendation=base.recommendation, confirmation=base.confirmation,
        command=base.command, created_at=base.created_at,
    )


def partial() -> Diagnosis:
    """A timeout during the baseline: nothing but the failure and the environment."""
    return Diagnosis(
        target="examples.slow:forever",
        workload=Workload(tasks=4, is_coroutine=True, input_source="repeat"),
        environment=ENVIRONMENT,
        failure=Failure("baseline", "the target did not finish within 60 s",
                        "Traceback (most recent call last):\n  File \"x.py\", line 1"),
        command="concdoctor profile examples.slow:forever --repeat 4 --timeout 60",
    )


def not_confirmed() -> Diagnosis:
    """Confirmation ran but missed the bar; results only as the contract's dict."""
    base = complete()
    conf = Confirmation(baseline_seconds=2.0, recommended_seconds=1.9, speedup=1.05,
                        confirmed=False, trials=3,
                        executors={"sequential": 2.0, "thread": 1.9},
                        note="speedup below the rule's minimum")
    rec = Recommendation("thread", 8, "io-threads", "90% idle", min_speedup=2.0, chunksize=4)
    return Diagnosis(target="pkg.io:fetch", workload=Workload(tasks=200),
                     environment=base.environment, evidence=base.evidence,
                     classification=Classification("io_bound", 0.8),
                     recommendation=rec, confirmation=conf)


def hostile() -> Diagnosis:
    """User-controlled strings everywhere, written to break each format."""
    evil = f"{HOSTILE} {PIPE} {TICKS} [x](http://evil.example) __init__ \n| next"
    ev = evidence(
        top_functions=(FunctionStat(evil, f"/tmp/{HOSTILE}|{TICKS}.py", 3, 1, 0.1, 0.2),
                       FunctionStat(MARKUP, "C:\\dir\\", 1, 1, 0.1, 0.1, builtin=True)),
        stacks=(StackSamples((f"{HOSTILE} (/tmp/{PIPE}.py:1)", f"{TICKS} (</script>.py:2)"),
                             gil=10, idle=3),
                StackSamples((f"{HOSTILE} (/tmp/{PIPE}.py:1)", f"{MARKUP} (C:\\dir\\:1)"),
                             gil=2)),
        blocking_calls=(HOSTILE,),
        degraded=True, degraded_reason=HOSTILE,
    )
    base = complete()
    return Diagnosis(
        target=f"{HOSTILE}:{PIPE}{TICKS}",
        workload=Workload(tasks=3),
        environment=base.environment,
        evidence=ev,
        classification=Classification("python_cpu_bound", 0.9, (HOSTILE,)),
        recommendation=Recommendation("process", 2, f"rule-{PIPE}", f"because {HOSTILE}",
                                      advice=HOSTILE,
                                      snippet=f"# {HOSTILE}\n```\n{TICKS} {PIPE}\n"),
        confirmation=base.confirmation,
        failure=Failure(f"confirm {PIPE}", f"ValueError: {HOSTILE}\n{PIPE}",
                        f"Traceback\n{HOSTILE}\n</pre></details>"),
        notes=(f"note {HOSTILE} {PIPE}\nsecond line",),
        command=f"concdoctor profile '{HOSTILE}'",
        created_at="2026-11-25T19:12:00",
    )


SNIPPET = """from concurrent.futures import ThreadPoolExecutor

from examples.shared_state import remember

with ThreadPoolExecutor(max_workers=16) as pool:
    results = list(pool.map(remember, range(16)))
"""


def unsafe() -> Diagnosis:
    """Threads changed the results: revised to processes, with the code to apply it."""
    base = complete()
    differ = ResultsCheck("differ", tasks=(0, 1, 2), differing=15, first_input="0",
                          expected="0", got="30")
    results = (ExecutorResult("thread", 16, (0.03,), 0.03, 10.7, check=differ),
               ExecutorResult("process", 2, (0.18, 0.19), 0.185, 1.73,
                              check=ResultsCheck("same")),
               ExecutorResult("asyncio", 16, skipped="asyncio needs an async def function"))
    conf = Confirmation(baseline_seconds=0.32, recommended_seconds=0.185, speedup=1.73,
                        confirmed=True, trials=2,
                        executors={"sequential": 0.32, "thread": 0.03, "process": 0.185},
                        results=results)
    rec = Recommendation("process", 2, "measured-fastest",
                         "process with 2 workers ran the batch 1.73x faster than sequential",
                         revised_from="thread", revised_from_rule="io-threads",
                         revision_reason="thread changed the results of 15 tasks",
                         min_speedup=1.1, snippet=SNIPPET.replace("Thread", "Process"))
    return Diagnosis(target="examples.shared_state:remember",
                     workload=Workload(tasks=16, input_source="inputs_from",
                                       inputs_from="examples.shared_state:INPUTS"),
                     environment=base.environment, evidence=base.evidence,
                     classification=Classification("io_bound", 0.97), recommendation=rec,
                     confirmation=conf, created_at=base.created_at)


ALL = {
    "complete": complete,
    "unsafe": unsafe,
    "degraded": degraded,
    "partial": partial,
    "not_confirmed": not_confirmed,
    "hostile": hostile,
}


# -- checks shared by the renderer tests ------------------------------------------------------
def render(renderer: Renderer, d: Diagnosis) -> str:
    """Render wide enough that the terminal does not wrap the phrases we look for."""
    if isinstance(renderer, TerminalRenderer):
        return renderer.render(d, width=240)
    return renderer.render(d)


def data_block(html: str) -> str:
    match = re.search(
        r'<script type="application/json" id="concdoctor-data">(.*?)</script>', html, re.DOTALL
    )
    assert match, "the JSON report is embedded"
    return match.group(1)


def unescaped_pipes(line: str) -> int:
    count, escaped = 0, False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            count += 1
    return count


def tables(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


class Resources(HTMLParser):
    """Every tag name and every attribute that could make a browser fetch something."""

    FETCHING: ClassVar[set[str]] = {
        "src", "href", "xlink:href", "action", "formaction", "data", "poster", "srcset",
        "background", "manifest",
    }

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [value or "" for key, value in attrs if key in self.FETCHING]
