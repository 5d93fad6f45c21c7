"""The code that applies the advice: each snippet, run against the example it names,
returns the sequential results."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from concdoctor.conclude.snippet import snippet
from concdoctor.diagnosis import (
    Confirmation,
    Diagnosis,
    Environment,
    Evidence,
    ExecutorResult,
    Recommendation,
    ResultsCheck,
    Workload,
)
from concdoctor.environment import interpreter_pool

ROOT = Path(__file__).resolve().parent.parent
ENV = Environment(python=".".join(map(str, sys.version_info[:3])), cpu_count=2)
DUMP = '''
if __name__ == "__main__":
    import pickle as _pickle, sys as _sys
    with open(_sys.argv[1], "wb") as _out:
        _pickle.dump(results, _out)
'''


def diagnosis(target: str, executor: str, *, workers: int = 2, chunksize: int = 1,
              inputs_from: str | None = None, called: bool = False,
              inputs_json: str | None = None, repeat: int | None = None,
              coroutine: bool = False, shared: tuple[str, ...] = (),
              unsafe: tuple[str, ...] = (), inner: int = 1, calls: bool = False) -> Diagnosis:
    source = "repeat" if repeat else "inputs_from" if inputs_from else "inputs"
    results = tuple(ExecutorResult(name, 8, (0.1,), 0.1, 2.0, check=ResultsCheck("differ"))
                    for name in unsafe)
    return Diagnosis(
        target=target, environment=ENV,
        workload=Workload(repeat or 8, coroutine, source, inputs_from=inputs_from,
                          inputs_called=called, inputs_json=inputs_json, calls=calls),
        evidence=Evidence(1.0, 1.0, 1.0, 0.1, shared_state=shared),
        recommendation=Recommendation(executor, workers, "r", "why", chunksize=chunksize,
                                      inner_workers=inner),
        confirmation=Confirmation(1.0, 0.5, 2.0, True, 1, results=results) if unsafe else None)


def load(spec: str):
    where, _, name = spec.rpartition(":")
    if where.endswith(".py"):
        sys.path.insert(0, str(ROOT / Path(where).parent))
        where = Path(where).stem
    return getattr(importlib.import_module(where), name)


def sequential(target: str, inputs: list | None, repeat: int | None = None) -> list:
    func = load(target)
    calls = [func() for _ in range(repeat)] if repeat else [func(item) for item in inputs]
    return [asyncio.run(c) if asyncio.iscoroutine(c) else c for c in calls]


def run_snippet(code: str, tmp_path: Path) -> list:
    script = tmp_path / "apply.py"
    script.write_text(code + DUMP)
    out = tmp_path / "results.pickle"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # as in the user's project folder
    done = subprocess.run([sys.executable, str(script), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{code}\n{done.stderr}"
    return pickle.loads(out.read_bytes())


CASES = {
    "thread": (diagnosis("examples.io_threads:worker", "thread", workers=10,
                         inputs_from="examples.io_threads:DELAYS"), "examples.io_threads:DELAYS"),
    "thread-called-inputs": (diagnosis("examples.io_threads:worker", "thread", workers=8,
                                       inputs_from="examples.io_threads:delays", called=True),
                             "examples.io_threads:delays"),
    "process-chunked": (diagnosis("examples.factorize:factorize", "process", chunksize=2,
                                  inputs_from="examples.factorize:INPUTS"),
                        "examples.factorize:INPUTS"),
    "asyncio": (diagnosis("examples.async_fetch:fetch_data", "asyncio", workers=12,
                          inputs_from="examples.async_fetch:URLS", coroutine=True),
                "examples.async_fetch:URLS"),
    "sequential": (diagnosis("examples.tiny:lookup", "sequential", workers=1,
                             inputs_from="examples.tiny:INPUTS"), "examples.tiny:INPUTS"),
    "coroutine-on-threads": (diagnosis("examples.blocking_async:fetch_blocking", "thread",
                                       workers=10, coroutine=True,
                                       inputs_from="examples.blocking_async:URLS"),
                             "examples.blocking_async:URLS"),
    "coroutine-sequential": (diagnosis("examples.async_fetch:fetch_data", "sequential",
                                       coroutine=True, inputs_from="examples.async_fetch:URLS"),
                             "examples.async_fetch:URLS"),
    "file-path-and-json-inputs": (diagnosis("examples/hashing.py:sha256_digest", "thread",
                                            inputs_json="[1, 2, 3]"), [1, 2, 3]),
    "hybrid-threads": (diagnosis("examples.mixed:crawl_and_index", "hybrid", chunksize=5,
                                 inner=3, inputs_from="examples.mixed:INPUTS"),
                       "examples.mixed:INPUTS"),
    "hybrid-coroutines": (diagnosis("examples.async_fetch:fetch_data", "hybrid", chunksize=4,
                                    inner=4, coroutine=True,
                                    inputs_from="examples.async_fetch:URLS"),
                          "examples.async_fetch:URLS"),
    "loky-chunked": (diagnosis("examples.factorize:factorize", "loky", chunksize=2,
                               inputs_from="examples.factorize:INPUTS"),
                     "examples.factorize:INPUTS"),
    "loky-coroutines": (diagnosis("examples.async_fetch:fetch_data", "loky", coroutine=True,
                                  inputs_from="examples.async_fetch:URLS"),
                        "examples.async_fetch:URLS"),
    "shared-state-on-processes": (diagnosis("examples.shared_state:remember", "process",
                                            inputs_from="examples.shared_state:INPUTS",
                                            shared=("examples.shared_state._CURRENT",),
                                            unsafe=("thread",)),
                                  "examples.shared_state:INPUTS"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_snippet_returns_the_sequential_results(case: str, tmp_path: Path) -> None:
    d, inputs = CASES[case]
    code = snippet(d)
    assert code is not None
    items = load(inputs) if isinstance(inputs, str) else inputs
    items = items() if callable(items) else items
    assert run_snippet(code, tmp_path) == sequential(d.target, list(items))


CALLS = [[[f"https://example.org/{page}"], {"timeout": page}] for page in range(4)]


@pytest.mark.parametrize("executor", ["thread", "process", "sequential", "hybrid", "loky"])
def test_snippets_of_calls_pass_each_call_its_arguments(executor: str, tmp_path: Path) -> None:
    d = diagnosis("examples/programs/fetch_loop.py:fetch", executor,
                  inputs_json=json.dumps(CALLS), calls=True)
    code = snippet(d)
    assert code is not None and "fetch(*args, **kwargs)" in code
    fetch = load("examples/programs/fetch_loop.py:fetch")
    assert run_snippet(code, tmp_path) == [fetch(*args, **kwargs) for args, kwargs in CALLS]


@pytest.mark.parametrize("executor", ["asyncio", "thread", "sequential"])
def test_snippets_of_awaited_calls_await_each_call(executor: str, tmp_path: Path) -> None:
    urls = load("examples.async_fetch:URLS")[:3]
    calls = [[[url], {}] for url in urls]
    d = diagnosis("examples.async_fetch:fetch_data", executor, inputs_json=json.dumps(calls),
                  calls=True, coroutine=True)
    code = snippet(d)
    assert code is not None and "await fetch_data(*args, **kwargs)" in code
    assert run_snippet(code, tmp_path) == sequential(d.target, urls)


@pytest.mark.parametrize("executor", ["thread", "process", "sequential", "hybrid", "loky"])
def test_repeat_snippets_call_without_arguments(executor: str, tmp_path: Path) -> None:
    target = str(Path("tests/targets/faulty.py")) + ":no_args"
    d = diagnosis(target, executor, repeat=5)
    code = snippet(d)
    assert code is not None and "range(5)" in code
    assert run_snippet(code, tmp_path) == sequential(target, None, repeat=5)


@pytest.mark.skipif(interpreter_pool() is None, reason="no interpreter pool on this Python")
def test_the_interpreter_snippet_runs(tmp_path: Path) -> None:
    d = diagnosis("examples.factorize:factorize", "interpreter",
                  inputs_from="examples.factorize:INPUTS")
    code = snippet(d)
    assert code is not None and "InterpreterPoolExecutor(max_workers=2)" in code
    assert run_snippet(code, tmp_path) == sequential(d.target, load("examples.factorize:INPUTS"))


def test_the_snippet_names_the_real_things() -> None:
    code = snippet(CASES["process-chunked"][0])
    assert code is not None
    assert "from examples.factorize import factorize" in code
    assert "ProcessPoolExecutor(max_workers=2)" in code and "chunksize=2" in code
    assert 'if __name__ == "__main__":' in code
    assert "Semaphore(12)" in (snippet(CASES["asyncio"][0]) or "")


def test_shared_state_asks_for_a_lock() -> None:
    on_threads = diagnosis("examples.shared_state:remember", "thread",
                           inputs_from="examples.shared_state:INPUTS",
                           shared=("examples.shared_state._CURRENT (item assignment)",))
    code = snippet(on_threads) or ""
    assert "_CURRENT" in code and "threading.Lock()" in code
    revised = snippet(CASES["shared-state-on-processes"][0]) or ""
    assert "thread changed the results" in revised and "threading.Lock" in revised


def test_a_closure_is_explained_not_imported() -> None:
    code = snippet(diagnosis("test_mod:test_x.<locals>.work", "thread", inputs_json="[1]"))
    assert code is not None and "define it at module level" in code
    assert "from test_mod import" not in code


def test_no_advice_no_snippet() -> None:
    d = diagnosis("examples.tiny:lookup", "thread")
    from dataclasses import replace
    assert snippet(replace(d, recommendation=None)) is None


def test_the_dask_snippet_runs_on_a_local_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    d = diagnosis("examples.io_threads:worker", "dask", inputs_json="[0.01, 0.02, 0.03]")
    code = snippet(d)
    assert code is not None and "Client(n_workers=2, threads_per_worker=1)" in code
    assert run_snippet(code, tmp_path) == sequential(d.target, [0.01, 0.02, 0.03])


BY_VALUE = {
    # what the user's main script (or notebook) defines, then the snippet pasted below it
    "main-function": ("__main__:work", "def work(x):\n    return x * 3\n"),
    "lambda": ("__main__:<lambda>", "func = lambda x: x * 3  # noqa: E731\n"),
    "closure": ("__main__:make.<locals>.work",
                "def make(k):\n    def work(x):\n        return x * k\n    return work\n\n\n"
                "work = make(3)\n"),
}


@pytest.mark.parametrize("case", list(BY_VALUE))
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_the_by_value_snippet_runs_what_does_not_import(case: str, method: str,
                                                        tmp_path: Path) -> None:
    """Pasted where the function lives, under any start method, loky's pool runs a
    function of __main__, a lambda and a closure: they travel by value."""
    from dataclasses import replace

    target, defined = BY_VALUE[case]
    d = diagnosis(target, "loky", inputs_json="[1, 2, 3]")
    code = snippet(replace(d, environment=replace(ENV, start_method=method))) or ""
    assert "cloudpickle" in code and "from __main__" not in code
    chosen = f"import multiprocessing\nmultiprocessing.set_start_method({method!r})\n"
    assert run_snippet(chosen + defined + code, tmp_path) == [3, 6, 9]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_the_main_guard_names_the_start_method(method: str) -> None:
    from dataclasses import replace

    d = CASES["process-chunked"][0]
    code = snippet(replace(d, environment=replace(ENV, start_method=method))) or ""
    assert f'if __name__ == "__main__":  # {method} workers import this module again' in code


def test_the_dask_snippet_says_what_a_deployed_scheduler_needs() -> None:
    from dataclasses import replace

    d = diagnosis("examples.io_threads:worker", "dask", inputs_json="[0.01]")
    code = snippet(replace(d, environment=replace(ENV, cluster="tcp://10.0.0.5:8786"))) or ""
    assert "Client('tcp://10.0.0.5:8786')" in code
    assert "on the scheduler as well as on the workers" in code and "upload_file" in code
