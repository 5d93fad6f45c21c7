"""The loop rewrite: each rewritten program, spliced into its file and run, computes what the
original computes; each loop the rewrite cannot keep equal is refused with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from concdoctor import executors
from concdoctor.program.loopshape import carried, find_loop
from concdoctor.program.rewrite import LoopSnippet, loop_snippet


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    loop: str
    """Text on the loop's first line."""
    call: str
    """Text on the call's line."""
    func: str
    executors: tuple[str, ...] = ("thread", "process", "loky")

    def line(self, text: str, start: int = 1) -> int:
        """The first line from ``start`` holding ``text``."""
        return next(number for number, line in enumerate(self.source.splitlines(), 1)
                    if number >= start and text in line)

    def rewrite(self, executor: str, workers: int = 4,
                python: str = "3.11.7") -> LoopSnippet | str:
        loop = self.line(self.loop)
        return loop_snippet(self.source, loop, self.line(self.call, loop), self.func,
                            executors.get(executor), workers, python=python)


PAGES = Case("pages", textwrap.dedent('''\
    import time

    config = {"pages": 12, "timeout": 3}


    def fetch(url, timeout):
        time.sleep(0.002)
        return f"{url}:{timeout}"


    def main():
        bodies = []
        for page in range(config["pages"]):
            # the page's size first
            size = len(str(page)) * 10
            bodies.append(fetch(f"https://example.org/{page}", timeout=config["timeout"]))
            bodies.append(size + page)  # after the call
        return bodies, page


    if __name__ == "__main__":
        print(repr(main()))
    '''), "for page in", "bodies.append(fetch", "fetch")

WORDS = Case("words", textwrap.dedent('''\
    def square(n, offset=0):
        return n * n + offset


    if __name__ == "__main__":
        words = ["alpha", "beta", "gamma", "delta"]
        totals = {}
        for i, word in enumerate(words):
            totals[word] = square(
                i,
                offset=len(word),
            ) + 1
        print(repr((totals, i, word)))
    '''), "for i, word", "totals[word] = square(", "square")

PARSE = Case("parse", textwrap.dedent('''\
    def parse(doc, strict=False):
        return (doc.upper(), strict)


    def main():
        docs = ["a", "bb", "ccc", "dddd"]
        results = [parse(doc, strict=True) for doc in docs]  # one per doc
        return results


    if __name__ == "__main__":
        print(repr(main()))
    '''), "results = [", "results = [", "parse")

CLASHES = Case("clashes", textwrap.dedent('''\
    def parse(doc, strict=False):
        return len(doc) * (2 if strict else 1)


    def main():
        items = ["x", "yy", "zzz"]
        pool = "not a pool"
        futures = None
        index = {doc: parse(doc, strict=False) for doc in items}
        return index, items, pool, futures


    if __name__ == "__main__":
        print(repr(main()))
    '''), "index = {", "index = {", "parse")

WEIGHTS = Case("weights", textwrap.dedent('''\
    def weigh(doc):
        return len(doc) ** 2


    def main():
        docs = ["a", "bb", "ccc"]
        total = sum(weigh(doc) for doc in docs)
        return total


    if __name__ == "__main__":
        print(repr(main()))
    '''), "total = sum(", "total = sum(", "weigh")

METHOD = Case("method", textwrap.dedent('''\
    class Crawler:
        def __init__(self, base):
            self.base = base

        def fetch(self, page):
            return f"{self.base}/{page}"

        def crawl(self, pages):
            seen = []
            for page in pages:
                seen.append((page, self.fetch(page)))
            return seen


    if __name__ == "__main__":
        print(repr(Crawler("https://x").crawl(range(5))))
    '''), "for page in pages", "self.fetch(page)", "fetch", ("thread", "loky"))

LONG_STRING = Case("long string", textwrap.dedent('''\
    def double(n):
        return 2 * n


    def main():
        out = []
        for n in range(4):
            label = """item
      number"""
            out.append((label, double(n)))
        return out


    if __name__ == "__main__":
        print(repr(main()))
    '''), "for n in", "(label, double(n))", "double", ("thread",))

ONE_LINER = Case("one-liner", textwrap.dedent('''\
    def double(n):
        return 2 * n


    values = []
    for n in range(6): values.append(double(n))
    print(repr((values, n)))
    '''), "for n in", "for n in", "double", ("thread",))

ASYNC_FOR = Case("async for", textwrap.dedent('''\
    import asyncio

    config = {"pages": 8, "timeout": 3}


    async def fetch(url, timeout):
        await asyncio.sleep(0.001)
        return f"{url}:{timeout}"


    async def main():
        bodies = []
        for page in range(config["pages"]):
            body = await fetch(f"https://example.org/{page}", timeout=config["timeout"])
            bodies.append(body)
        return bodies, page


    if __name__ == "__main__":
        print(repr(asyncio.run(main())))
    '''), "for page in", "await fetch(", "fetch", ("asyncio",))

ASYNC_COMPREHENSIONS = textwrap.dedent('''\
    import asyncio


    async def fetch(url, timeout):
        await asyncio.sleep(0.001)
        return f"{url}:{timeout}"


    async def main():
        urls = ["a", "b", "c"]
        plain = [await fetch(url, 1) for url in urls]
        keyed = {i: await fetch(url, timeout=2) for i, url in enumerate(urls)}
        return plain, keyed


    if __name__ == "__main__":
        print(repr(asyncio.run(main())))
    ''')
ASYNC_LIST = Case("async list", ASYNC_COMPREHENSIONS, "plain = [", "plain = [", "fetch",
                  ("asyncio",))
ASYNC_DICT = Case("async dict", ASYNC_COMPREHENSIONS, "keyed = {", "keyed = {", "fetch",
                  ("asyncio",))

CASES = (PAGES, WORDS, PARSE, CLASHES, WEIGHTS, METHOD, LONG_STRING, ONE_LINER, ASYNC_FOR,
         ASYNC_LIST, ASYNC_DICT)
LOKY = importlib.util.find_spec("loky") is not None
SUBPROCESS = ("process", "loky")
"""Executors whose workers are processes: their programs run as a real script."""


def splice(source: str, snippet: LoopSnippet) -> str:
    """The program with the imports on top and the loop replaced."""
    lines = source.splitlines(keepends=True)
    return "".join(["\n".join(snippet.imports), "\n", *lines[:snippet.first_line - 1],
                    snippet.after, *lines[snippet.last_line:]])


def run(program: str, tmp_path: Path, *, subprocess_run: bool = False) -> str:
    """What the program prints, run as ``__main__``."""
    if subprocess_run:
        script = tmp_path / "program.py"
        script.write_text(program, encoding="utf-8")
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(program, "<program>", "exec"), {"__name__": "__main__"})  # noqa: S102
    return printed.getvalue()


@pytest.mark.parametrize(("case", "executor"), [
    pytest.param(case, executor, id=f"{case.name}-{executor}")
    for case in CASES for executor in case.executors])
def test_the_rewritten_program_computes_what_the_original_does(
        case: Case, executor: str, tmp_path: Path) -> None:
    if executor == "loky" and not LOKY:
        pytest.skip("loky is not installed")
    snippet = case.rewrite(executor)
    assert isinstance(snippet, LoopSnippet), snippet
    expected = run(case.source, tmp_path)
    assert expected
    rewritten = splice(case.source, snippet)
    assert run(rewritten, tmp_path, subprocess_run=executor in SUBPROCESS) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_snippet_replaces_the_loop_lines_at_the_loop_indentation(case: Case) -> None:
    snippet = case.rewrite(case.executors[0])
    assert isinstance(snippet, LoopSnippet), snippet
    lines = case.source.splitlines(keepends=True)
    assert snippet.before == "".join(lines[snippet.first_line - 1:snippet.last_line])
    indent = lines[snippet.first_line - 1][:-len(lines[snippet.first_line - 1].lstrip())]
    assert all(line.startswith(indent) for line in snippet.after.splitlines() if line.strip())
    assert snippet.after.endswith("\n")


def test_a_thread_pool_rewrite_reads_as_the_loop_did() -> None:
    snippet = PAGES.rewrite("thread", workers=40)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.imports == ("from concurrent.futures import ThreadPoolExecutor",)
    assert snippet.note is None
    assert snippet.after == textwrap.indent(textwrap.dedent('''\
        with ThreadPoolExecutor(max_workers=40) as pool:
            items = list(range(config["pages"]))
            futures = [
                pool.submit(fetch, f"https://example.org/{page}", timeout=config["timeout"])
                for page in items
            ]
            for page, future in zip(items, futures):
                # the page's size first
                size = len(str(page)) * 10
                bodies.append(future.result())
                bodies.append(size + page)  # after the call
        '''), "    ")


def test_a_comprehension_rewrite_submits_then_collects() -> None:
    snippet = PARSE.rewrite("process", workers=2)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.after == textwrap.indent(textwrap.dedent('''\
        with ProcessPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(parse, doc, strict=True) for doc in docs]
            results = [future.result() for future in futures]  # one per doc
        '''), "    ")
    assert snippet.note and '__name__ == "__main__"' in snippet.note
    assert "module level" in snippet.note


def test_the_rewrite_does_not_rebind_the_programs_names() -> None:
    snippet = CLASHES.rewrite("thread")
    assert isinstance(snippet, LoopSnippet)
    assert "as pool_:" in snippet.after and "items_ = list(items)" in snippet.after
    assert "futures_ = [" in snippet.after


def test_an_asyncio_rewrite_gathers_under_a_semaphore() -> None:
    snippet = ASYNC_FOR.rewrite("asyncio", workers=100)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.imports == ("import asyncio",)
    assert snippet.after == (
        "    semaphore = asyncio.Semaphore(100)  # at most 100 in flight\n"
        "\n"
        "    async def one(page):\n"
        "        async with semaphore:\n"
        '            return await fetch(f"https://example.org/{page}", '
        'timeout=config["timeout"])\n'
        "\n"
        "    items = list(range(config[\"pages\"]))\n"
        "    for page, result in zip(items, await asyncio.gather(*(one(page) for page in "
        "items))):\n"
        "        body = result\n"
        "        bodies.append(body)\n")


def test_a_generator_becomes_a_list_and_says_so() -> None:
    snippet = WEIGHTS.rewrite("thread")
    assert isinstance(snippet, LoopSnippet)
    assert "# the generator expression is now a list" in snippet.after
    assert "total = sum([future.result() for future in futures])" in snippet.after


def test_a_comprehension_over_lines_is_found_from_its_calls_line() -> None:
    """Before Python 3.12 the recorder gives a comprehension's line as its call's."""
    source = ("def parse(doc):\n    return doc\n\n\ndocs = ['a']\nresults = [\n"
              "    parse(doc)\n    for doc in docs\n]  # parsed\n")
    loop = find_loop(source, 7, 7, "parse")
    assert not isinstance(loop, str), loop
    assert (loop.first_line, loop.last_line, loop.kind) == (6, 9, "list")
    snippet = loop_snippet(source, 7, 7, "parse", executors.get("thread"), 2, python="3.11")
    assert isinstance(snippet, LoopSnippet)
    assert snippet.after.endswith("    results = [future.result() for future in futures]"
                                  "  # parsed\n")


PEAKS = textwrap.dedent('''\
    import asyncio
    import threading
    import time

    running = peak = 0
    lock = threading.Lock()


    def work(n):
        global running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n


    async def awork(n):
        global running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return n


    async def gather_them():
        out = []
        for n in range(10):
            out.append(await awork(n))
        return out


    def work_them():
        out = []
        for n in range(8):
            out.append(work(n))
        return out
    ''')


def test_the_pool_runs_the_calls_at_once_and_asyncio_at_most_workers() -> None:
    threads = Case("peaks", PEAKS, "for n in range(8)", "out.append(work(n))", "work")
    snippet = threads.rewrite("thread", workers=4)
    assert isinstance(snippet, LoopSnippet)
    space: dict[str, object] = {}
    exec(splice(PEAKS, snippet), space)  # noqa: S102
    assert space["work_them"]() == list(range(8))  # type: ignore[operator]
    assert space["peak"] >= 2  # type: ignore[operator]

    tasks = Case("peaks", PEAKS, "for n in range(10)", "await awork(n)", "awork")
    snippet = tasks.rewrite("asyncio", workers=3)
    assert isinstance(snippet, LoopSnippet)
    space = {}
    exec(splice(PEAKS, snippet), space)  # noqa: S102
    assert asyncio.run(space["gather_them"]()) == list(range(10))  # type: ignore[arg-type]
    assert space["peak"] == 3


def test_loky_needs_no_with_and_no_guard() -> None:
    snippet = PAGES.rewrite("loky", workers=3)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.imports == ("from loky import get_reusable_executor",)
    assert "    pool = get_reusable_executor(max_workers=3)  # reused later\n" in snippet.after
    assert "with " not in snippet.after and snippet.note is None
    assert "# loky ships" in snippet.after


def test_dask_submits_impure_calls_to_a_local_cluster() -> None:
    snippet = PAGES.rewrite("dask", workers=2)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.imports == ("from dask.distributed import Client",)
    assert "with Client(n_workers=2, threads_per_worker=1) as client:" in snippet.after
    assert 'timeout=config["timeout"], pure=False)' in snippet.after
    assert snippet.note and "__main__" in snippet.note
    compile(splice(PAGES.source, snippet), "<program>", "exec")


@pytest.mark.parametrize(("python", "module"), [
    ("3.13.1", "interpreters_backport.concurrent.futures"), ("3.14.0", "concurrent.futures")])
def test_the_interpreter_pool_import_follows_the_python(python: str, module: str) -> None:
    snippet = PARSE.rewrite("interpreter", python=python)
    assert isinstance(snippet, LoopSnippet)
    assert snippet.imports == (f"from {module} import InterpreterPoolExecutor",)
    assert snippet.note and "__main__" in snippet.note


def test_every_loop_writer_named_in_the_registry_exists() -> None:
    writers = {e.name: e.write_loop() for e in executors.all_executors()}
    assert all(callable(writers[name]) for name in
               ("thread", "process", "interpreter", "asyncio", "dask", "loky"))


def loop_of(body: str, *, call: str = "fetch(", before: str = "") -> Case:
    """A function whose loop is ``body`` (its first line the loop's)."""
    source = ("def fetch(url, timeout=1):\n    return url\n\n\ndef main(pages, flag):\n"
              f"    out = []\n{before}" + textwrap.indent(textwrap.dedent(body), "    ")
              + "    return out\n")
    return Case("refused", source, textwrap.dedent(body).splitlines()[0], call, "fetch")


@pytest.mark.parametrize(("case", "executor", "reason"), [
    (loop_of("""\
        for page in pages:
            if flag:
                out.append(fetch(page))
        """), "thread", "inside an `if` in the loop"),
    (loop_of("""\
        for page in pages:
            url = "https://x/" + str(page)
            out.append(fetch(url))
        """), "thread", "use `url`, computed in the loop body"),
    (loop_of("""\
        for page in pages:
            page = page * 2
            out.append(fetch(page))
        """), "thread", "use `page`, computed in the loop body"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page))
            if len(out) > 3:
                break
        """), "thread", "`break`"),
    (loop_of("""\
        for page in pages:
            if not page:
                continue
            out.append(fetch(page))
        """), "process", "`continue`"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page))
        else:
            out.append(None)
        """), "thread", "`else:`"),
    (loop_of("""\
        while pages:
            out.append(fetch(pages.pop()))
        """), "thread", "`while`"),
    (loop_of("""\
        for page in pages:
            out.append(flag or fetch(page))
        """), "thread", "after an `or`"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page) if flag else None)
        """), "thread", "conditional expression"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(fetch(page)))
        """), "thread", "fetch is called 2 times"),
    (loop_of("out = [fetch(page) for page in pages if page]\n", call="out = ["),
     "thread", "`if` clause"),
    (loop_of("out = [fetch(p) for page in pages for p in page]\n", call="out = ["),
     "thread", "2 `for` clauses"),
    (loop_of("n = 1; out = [fetch(page) for page in pages]\n", call="out = ["),
     "thread", "shares its line"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page))
        """), "asyncio", "async def"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page, key=1))
        """), "dask", "`key=`"),
    (loop_of("""\
        for page in pages:
            out.append(fetch(page))
        """), "sequential", "no loop rewrite"),
], ids=lambda value: value.replace(" ", "-") if isinstance(value, str) else "")
def test_a_loop_the_rewrite_cannot_keep_equal_is_refused(case: Case, executor: str,
                                                         reason: str) -> None:
    refusal = case.rewrite(executor)
    assert isinstance(refusal, str)
    assert reason in refusal
    assert "\n" not in refusal


def test_an_awaited_call_is_refused_for_a_pool() -> None:
    refusal = ASYNC_FOR.rewrite("thread")
    assert isinstance(refusal, str) and "awaited" in refusal


def test_find_loop_names_what_is_missing() -> None:
    assert find_loop(PAGES.source, 3, 16, "fetch") == (
        "no loop on line 3 around the call of fetch on line 16")
    assert find_loop(PAGES.source, 13, 14, "fetch") == "no call of fetch on line 14"
    assert "does not parse" in find_loop("for x in :\n", 1, 1, "f")  # type: ignore[operator]


CARRIED = {
    "the call's own result": ("state = 1\nfor salt in range(9):\n    state = step(state, salt)\n",
                              ("state",)),
    "a name set after the call": ("prev = 0\nfor x in xs:\n    out.append(step(prev, x))\n"
                                  "    prev = x\n", ("prev",)),
    "a while loop (its items are not known: refused on their own)": (
        "n = 5\nwhile n:\n    total = step(n, k=total)\n    n -= 1\n", ()),
    "the loop variable rebound": ("for x in xs:\n    x = step(x, 1)\n    out.append(x)\n",
                                  ()),
    "computed before the call, in the same pass": (
        "for x in xs:\n    url = make(x)\n    out.append(step(url, 1))\n", ()),
    "independent calls": ("for x in xs:\n    out.append(step(x, timeout=limit))\n", ()),
    "a comprehension": ("out = [step(x, 1) for x in xs]\n", ()),
}


@pytest.mark.parametrize("case", list(CARRIED))
def test_names_a_call_takes_from_earlier_passes_are_carried(case: str) -> None:
    source, names = CARRIED[case]
    call_line = next(number for number, line in enumerate(source.splitlines(), 1)
                     if "step(" in line)
    loop_line = next(number for number, line in enumerate(source.splitlines(), 1)
                     if line.startswith(("for ", "while ", "out = [")))
    assert carried(source, loop_line, call_line, "step") == names


def test_nothing_is_carried_where_the_loop_cannot_be_read() -> None:
    assert carried("for x in (:\n", 1, 1, "step") == ()
    assert carried("step(1)\n", 1, 1, "step") == ()
