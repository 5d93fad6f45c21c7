"""The few lines of Python that apply the advice to the user's own call.

A pure function of the diagnosis: the user's function and inputs by their real names,
the executor, the worker count and the chunk size, ready to paste. Where the task
writes module-level state, or threads changed the results, the snippet says what to
guard with a lock.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from concdoctor import executors as registry
from concdoctor.diagnosis import Diagnosis

COMMENT_WIDTH = 88
FRESH_START = ("spawn", "forkserver")
"""Start methods whose workers import the main module again: the guard keeps them from
running the batch themselves, and the function must import by name."""


@dataclass(frozen=True)
class Names:
    """How the snippet imports the function and gets the inputs."""

    imports: tuple[str, ...]
    func: str
    inputs: str | None  # an expression; None for --repeat (no argument)
    note: str | None = None
    prelude: tuple[str, ...] = ()
    """Lines defining what ``func`` names, after the imports (the call of ``--calls``)."""


def snippet(d: Diagnosis) -> str | None:
    """Python that runs the batch the advised way; None without an advice."""
    rec = d.recommendation
    if rec is None:
        return None
    if not registry.known(rec.executor):
        return None
    names = _names(d)
    if d.workload.calls:
        names = _calling(names, d.workload.is_coroutine)
    body = registry.get(rec.executor).write_snippet()
    lines = [f"# {names.note}"] if names.note else []
    lines += _lock_notes(d)
    lines += body(d, names)
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines)).rstrip() + "\n"  # 2 blank lines at most


def _names(d: Diagnosis) -> Names:
    where, _, attribute = d.target.rpartition(":")
    imports: list[str] = []
    note = None
    func = attribute
    by_value = _by_value(d)
    if "<locals>" in attribute or "<lambda>" in attribute:
        note = (f"{attribute} is defined inside a function: run this where it is defined"
                if by_value else f"{attribute} is defined inside a function: define it at "
                "module level to import it (and to run it on processes)")
        func = attribute.rpartition(".")[2].replace("<lambda>", "func")
    elif where == "__main__":
        note = f"{attribute} is defined in your main script or notebook: paste this there"
    else:
        imports.append(_import(where, attribute.split(".")[0]))
    workload = d.workload
    if workload.input_source == "repeat":
        inputs = None
    elif workload.inputs_from:
        source, _, name = workload.inputs_from.rpartition(":")
        imports.append(_import(source, name.split(".")[0]))
        inputs = f"{name}()" if workload.inputs_called else name
    elif workload.inputs_json is not None:
        inputs = workload.inputs_json
    else:
        inputs = "inputs"
        note = note or f"inputs: your {workload.tasks} inputs, one per call"
    return Names(tuple(dict.fromkeys(imports)), func, inputs, note)


def _calling(names: Names, is_coroutine: bool) -> Names:
    """For inputs that are calls: a function of one input that makes the call."""
    define, wait = ("async def", "await ") if is_coroutine else ("def", "")
    prelude = (f"{define} call_one(call):", "    args, kwargs = call",
               f"    return {wait}{names.func}(*args, **kwargs)")
    note = names.note
    if names.inputs == "inputs":
        note = "inputs: your calls' arguments, one (args, kwargs) per call"
    return Names(names.imports, "call_one", names.inputs, note, prelude)


def _by_value(d: Diagnosis) -> bool:
    rec = d.recommendation
    return bool(rec and registry.known(rec.executor) and registry.get(rec.executor).by_value)


def _guard(d: Diagnosis) -> str:
    """The main-module guard, saying which start method needs it."""
    method = d.environment.start_method
    starts = method if method in FRESH_START else "spawn / forkserver"
    return f'if __name__ == "__main__":  # {starts} workers import this module again'


def _import(where: str, name: str) -> str:
    if where.endswith(".py") or "/" in where or "\\" in where:
        folder, _, filename = where.replace("\\", "/").rpartition("/")
        module = filename.removesuffix(".py")
        path = f"sys.path.insert(0, {folder or '.'!r})"
        return f"import sys\n{path}\nfrom {module} import {name}"
    return f"from {where} import {name}"


def _header(names: Names, *stdlib: str) -> list[str]:
    """Standard-library imports, a blank line, then the user's function and inputs (and
    what calls the function, when there is a prelude)."""
    lines = [line for block in names.imports for line in block.split("\n")]
    first = [*stdlib, *(line for line in lines if line.startswith("import "))]
    rest = [line for line in lines if not line.startswith("import ")]
    ordered = [*dict.fromkeys(sorted(first, key=lambda line: line.startswith("from ")))]
    prelude = ["", "", *names.prelude, "", ""] if names.prelude else [""]
    return [*ordered, *([""] if ordered else []), *dict.fromkeys(rest), *prelude]


def pool_body(d: Diagnosis, names: Names) -> list[str]:
    """The executor's ``pool_class`` (a ``concurrent.futures.Executor``) and its ``map``;
    behind the main-module guard when its workers import the module again (any pool that
    ships data)."""
    rec = d.recommendation
    assert rec is not None
    module, _, pool = registry.get(rec.executor).pool_class.partition(":")
    source = f"from {module} import {pool}"
    if pool == "InterpreterPoolExecutor" and _before_314(d):
        source = "from interpreters_backport.concurrent.futures import InterpreterPoolExecutor"
    extra = ["import asyncio"] if d.workload.is_coroutine else []
    lines = _header(names, *extra, source)
    call = names.func
    if d.workload.is_coroutine:
        lines += ["", "def run_one(item):", f"    return asyncio.run({_call(names, 'item')})",
                  "", ""]
        call = "run_one"
    chunk = f", chunksize={rec.chunksize}" if rec.chunksize > 1 else ""
    if names.inputs is None:
        work = [f"    futures = [pool.submit({names.func}) for _ in range({d.workload.tasks})]",
                "    results = [future.result() for future in futures]"]
        if d.workload.is_coroutine:
            work = [f"    results = list(pool.map(run_one, range({d.workload.tasks})))"]
    else:
        work = [f"    results = list(pool.map({call}, {names.inputs}{chunk}))"]
    block = [f"with {pool}(max_workers={rec.workers}) as pool:", *work]
    if not registry.get(rec.executor).ships:
        return lines + block
    return lines + [_guard(d), *("    " + line for line in block)]


def hybrid_body(d: Diagnosis, names: Names) -> list[str]:
    """Processes that each run several calls at once: a ``ProcessPoolExecutor`` mapping
    chunks of the inputs to a function that runs each chunk on a ``ThreadPoolExecutor``
    (for ``async def``: ``asyncio.gather`` under a semaphore), standard library only."""
    rec = d.recommendation
    assert rec is not None
    inner, size = rec.inner_workers, max(rec.chunksize, rec.inner_workers)
    items = names.inputs or f"range({d.workload.tasks})"
    call = _call(names, "item")
    if d.workload.is_coroutine:
        lines = _header(names, "import asyncio",
                        "from concurrent.futures import ProcessPoolExecutor")
        lines += ["", "async def gather_chunk(chunk):",
                  f"    semaphore = asyncio.Semaphore({inner})  # {inner} calls at once",
                  "", "    async def one(item):", "        async with semaphore:",
                  f"            return await {call}", "",
                  "    return await asyncio.gather(*(one(item) for item in chunk))", "", "",
                  "def run_chunk(chunk):", "    return asyncio.run(gather_chunk(chunk))"]
    else:
        lines = _header(names,
                        "from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor")
        run_one = names.func if names.inputs is not None else f"lambda _: {names.func}()"
        lines += ["", "def run_chunk(chunk):",
                  f"    with ThreadPoolExecutor(max_workers={inner}) as threads:",
                  f"        return list(threads.map({run_one}, chunk))"]
    return lines + ["", "", _guard(d),
                    f"    items = list({items})",
                    f"    chunks = [items[i:i + {size}] for i in range(0, len(items), {size})]",
                    f"    with ProcessPoolExecutor(max_workers={rec.workers}) as pool:",
                    "        results = [result for done in pool.map(run_chunk, chunks) "
                    "for result in done]"]


def dask_body(d: Diagnosis, names: Names) -> list[str]:
    """``Client.map`` and ``gather``; on a cluster, what the scheduler needs of the code
    (concdoctor's own trials send it by value, which a plain ``map`` does not)."""
    rec = d.recommendation
    assert rec is not None
    where = d.environment.cluster
    connect = (f"Client({where!r})" if where else
               f"Client(n_workers={rec.workers}, threads_per_worker=1)")
    items = names.inputs or f"range({d.workload.tasks})"
    call = names.func if names.inputs is not None else f"lambda _: {names.func}()"
    lines = _header(names, "from dask.distributed import Client")
    where_note = ["    # " + line for line in textwrap.wrap(
        "dask unpickles the task graph on the scheduler as well as on the workers: both "
        "need this code installed, or sent with client.upload_file(path), which reaches "
        "both", COMMENT_WIDTH - 6)] if where else [
        "    # a cluster on this machine; give a scheduler's address to use yours"]
    return lines + [_guard(d), *where_note, f"    with {connect} as client:",
                    f"        futures = client.map({call}, {items}, pure=False)",
                    "        results = client.gather(futures)"]


def loky_body(d: Diagnosis, names: Names) -> list[str]:
    """loky's reusable executor (joblib's): it pickles the function and the inputs with
    cloudpickle, by value where they do not import by name, and starts its workers as
    fresh interpreters that do not run ``__main__`` again, whatever the start method: the
    lines work pasted into a script, under a function, or in a notebook."""
    rec = d.recommendation
    assert rec is not None
    why = ("loky ships the function and its inputs by value (cloudpickle), so a closure, a "
           "lambda or a function of __main__ reaches its worker processes; "
           "ProcessPoolExecutor sends functions by name, which they cannot import. "
           "pip install loky")
    lines = ["# " + line for line in textwrap.wrap(why, COMMENT_WIDTH - 2)]
    lines += _header(names, *(["import asyncio"] if d.workload.is_coroutine else ()),
                     "from loky import get_reusable_executor")
    call, items = names.func, names.inputs or f"range({d.workload.tasks})"
    if d.workload.is_coroutine or names.inputs is None:
        call = "run_one"
        one = f"asyncio.run({_call(names, 'item')})" if d.workload.is_coroutine else (
            _call(names, "item"))
        lines += ["", "def run_one(item):", f"    return {one}", "", ""]
    chunk = f", chunksize={rec.chunksize}" if rec.chunksize > 1 else ""
    # no main-module guard: loky's workers never run __main__, whatever the start method
    return lines + [f"pool = get_reusable_executor(max_workers={rec.workers})  # reused later",
                    f"results = list(pool.map({call}, {items}{chunk}))"]


def asyncio_body(d: Diagnosis, names: Names) -> list[str]:
    rec = d.recommendation
    assert rec is not None
    items = names.inputs or f"range({d.workload.tasks})"
    return _header(names, "import asyncio") + [
        "",
        "async def gather_all(items):",
        f"    semaphore = asyncio.Semaphore({rec.workers})  # at most {rec.workers} in flight",
        "",
        "    async def one(item):",
        "        async with semaphore:",
        f"            return await {_call(names, 'item')}",
        "",
        "    return await asyncio.gather(*(one(item) for item in items))",
        "",
        "",
        f"results = asyncio.run(gather_all({items}))",
    ]


def sequential_body(d: Diagnosis, names: Names) -> list[str]:
    items = names.inputs or f"range({d.workload.tasks})"
    if d.workload.is_coroutine:
        return _header(names, "import asyncio") + [
            "",
            "async def run_all(items):",
            f"    return [await {_call(names, 'item')} for item in items]",
            "",
            "",
            f"results = asyncio.run(run_all({items}))  # one loop, one call at a time",
        ]
    return _header(names) + [f"results = [{_call(names, 'item')} for item in {items}]"]


def _call(names: Names, item: str) -> str:
    return f"{names.func}()" if names.inputs is None else f"{names.func}({item})"


def _lock_notes(d: Diagnosis) -> list[str]:
    """What to guard, where the task shares state or threads changed the results."""
    rec, ev = d.recommendation, d.evidence
    shared = ", ".join(ev.shared_state) if ev and ev.shared_state else None
    unsafe = [r.executor for r in (d.confirmation.results if d.confirmation else ())
              if r.unsafe and _shares_memory(r.executor)]
    if rec is not None and _shares_memory(rec.executor) and shared:
        text = (f"The task writes module state ({shared}), which every {rec.executor} task "
                "shares. Guard each read and write of it with one lock (threading.Lock(), or "
                "asyncio.Lock() across an await), or keep the state per call.")
    elif unsafe:
        where = f" ({shared})" if shared else ""
        text = (f"{' and '.join(unsafe)} changed the results: the tasks share state{where}. "
                "To use threads, guard it with one threading.Lock or keep it per call.")
    else:
        return []
    return ["# " + line for line in textwrap.wrap(text, COMMENT_WIDTH - 2)]


def _shares_memory(name: str) -> bool:
    return registry.known(name) and registry.get(name).shares_memory


def _before_314(d: Diagnosis) -> bool:
    parts = d.environment.python.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (3, 14)
    except (IndexError, ValueError):
        return False
