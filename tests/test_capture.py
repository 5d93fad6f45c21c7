"""Capturing chosen calls of one function while a program runs, and reading them back in
the diagnosis child as its inputs: picks, the recorder's capture, the captured file and
its ``__main__`` classes, ``--calls`` inputs, and the call text a report quotes."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from concdoctor.child.captured import load_captured
from concdoctor.child.resolve import ResolveError, make_task, resolve_job
from concdoctor.errors import UsageError
from concdoctor.program.capture import Capture, Wanted, arguments, picks, write_captured
from concdoctor.program.loops import CALL_CHARS, call_text
from concdoctor.program.recorder import Recorder
from concdoctor.target import InputSpec, Job, TargetSpec

Call = tuple[tuple[Any, ...], dict[str, Any]]


# -- functions whose calls are captured ------------------------------------------------------

def positional_only(a: int, b: int = 10, /, c: int = 20) -> tuple[int, int, int]:
    result = (a, b, c)
    a = b = c = -1  # rebound before returning: the capture keeps the values the call began with
    return result


def keyword_only(a: int, *, scale: int = 2, offset: int = 0) -> int:
    result = a * scale + offset
    scale = 0
    return result


def star_args(first: str, *rest: str) -> str:
    result = first + "".join(rest)
    first, rest = "", ()
    return result


def star_kwargs(a: int, **options: int) -> list[tuple[str, int]]:
    result = sorted({"a": a, **options}.items())
    options = {}
    return result


def everything(a: int, b: int = 1, /, c: int = 2, *rest: int, d: int, e: int = 5,
               **more: int) -> tuple[Any, ...]:
    result = (a, b, c, rest, d, e, sorted(more.items()))
    a = c = d = 0
    return result


def appends(items: list[int]) -> int:
    items.append(99)  # mutates its argument: the capture pickled it before this line
    return len(items)


def with_closure(x: int, y: int = 2) -> int:
    def inner() -> int:
        return x * 10 + y

    x = 0  # a parameter the closure holds in a cell, rebound
    return inner() + 1000


class Scaler:
    def __init__(self, base: int) -> None:
        self.base = base

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scaler) and other.base == self.base

    def apply(self, value: int, *, factor: int = 1) -> int:
        value = (self.base + value) * factor
        return value


async def add_later(a: int, *, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def square(value: int) -> int:
    return value * value


def keep(value: Any) -> Any:
    return value


def loop_here(n: int) -> None:
    for index in range(n):
        square(index)  # the picked site


def loop_elsewhere(n: int) -> None:
    for index in range(n):
        square(index + 1000)  # another site


def line_of(marker: str) -> int:
    """The line of this file that ends with the comment ``marker``."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(number for number, text in enumerate(lines, 1) if text.endswith(marker))


def wanted_for(func: Callable[..., Any], *, picks: tuple[int, ...] = (),
               site: tuple[str, int] = ("", 0), **fields: Any) -> Wanted:
    code = func.__code__
    qualname = getattr(code, "co_qualname", code.co_name)  # as the recorder names it
    return Wanted(file=code.co_filename, line=code.co_firstlineno, qualname=qualname,
                  site_file=site[0], site_line=site[1], picks=picks, **fields)


def recording(capture: Capture, run: Callable[[], Any]) -> Any:
    """``run()`` with a recorder installed that offers the wanted function's calls."""
    recorder = Recorder(capture=capture)
    recorder.install()
    try:
        return run()
    finally:
        recorder.uninstall()


def kept(capture: Capture) -> list[Call]:
    return [pickle.loads(blob) for blob in capture.blobs]


def picked_values(capture: Capture) -> list[Any]:
    """The single argument of each kept call, in the order the capture holds them."""
    return [args[0] for args, _ in kept(capture)]


@pytest.fixture
def forget_modules(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``sys.path`` restored afterwards, and the named modules dropped from ``sys.modules``
    (the child imports the program's file as a top-level module)."""
    monkeypatch.setattr(sys, "path", list(sys.path))

    def forget(*names: str) -> None:
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)  # undone by deleting the entry
            del sys.modules[name]

    return forget


# -- picks ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("total", "count"), [(1000, 120), (121, 120), (7, 3), (10, 10),
                                              (5, 8), (1, 1), (0, 3)])
def test_picks_are_sorted_distinct_positions_of_the_run(total: int, count: int) -> None:
    chosen = picks(total, count, seed=7)
    assert chosen == sorted(set(chosen))
    assert all(0 <= each < total for each in chosen)
    assert len(chosen) == min(total, count)


@pytest.mark.parametrize(("total", "count"), [(3, 3), (5, 8), (0, 4)])
def test_picks_take_every_call_when_there_are_no_more_than_wanted(total: int,
                                                                  count: int) -> None:
    assert picks(total, count, seed=3) == list(range(total))


@pytest.mark.parametrize(("total", "count"), [(1000, 100), (360, 120), (50, 5), (9, 3)])
@pytest.mark.parametrize("seed", [0, 1, 99])
def test_picks_put_one_call_in_each_equal_stratum(total: int, count: int, seed: int) -> None:
    width = total // count
    chosen = picks(total, count, seed)
    assert [sum(stratum * width <= each < (stratum + 1) * width for each in chosen)
            for stratum in range(count)] == [1] * count


def test_picks_depend_on_the_seed_only() -> None:
    assert picks(1000, 100, seed=5) == picks(1000, 100, seed=5)
    assert picks(1000, 100, seed=5) != picks(1000, 100, seed=6)


# -- arguments: (args, kwargs) that repeat the call ------------------------------------------

@pytest.mark.parametrize(("func", "args", "kwargs", "expected"), [
    (positional_only, (1, 2), {"c": 3}, ((1, 2, 3), {})),
    (positional_only, (1,), {}, ((1, 10, 20), {})),
    (keyword_only, (4,), {"offset": 1}, ((4,), {"scale": 2, "offset": 1})),
    (star_args, ("a", "b", "c"), {}, (("a", "b", "c"), {})),
    (star_kwargs, (), {"a": 1, "z": 2, "y": 3}, ((1,), {"y": 3, "z": 2})),
    (everything, (1, 2, 3, 4), {"d": 5, "z": 6}, ((1, 2, 3, 4), {"d": 5, "e": 5, "z": 6})),
    (with_closure, (3,), {"y": 4}, ((3, 4), {})),
], ids=lambda value: getattr(value, "__name__", None))
def test_a_captured_call_repeats_the_original_with_the_values_it_began_with(
        func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
        expected: Call) -> None:
    capture = Capture(wanted_for(func, picks=(0,)))
    original = recording(capture, lambda: func(*args, **kwargs))
    assert capture.problem is None
    [call] = kept(capture)
    assert call == expected
    assert func(*call[0], **call[1]) == original


def test_a_captured_method_call_has_self_first() -> None:
    scaler = Scaler(base=3)
    capture = Capture(wanted_for(Scaler.apply, picks=(0,)))
    original = recording(capture, lambda: scaler.apply(4, factor=5))
    [(args, kwargs)] = kept(capture)
    assert (args, kwargs) == ((Scaler(3), 4), {"factor": 5})
    assert Scaler.apply(*args, **kwargs) == original == 35


def test_an_argument_the_body_mutates_is_captured_as_it_was_passed() -> None:
    capture = Capture(wanted_for(appends, picks=(0,)))
    original = recording(capture, lambda: appends([1, 2]))
    [(args, kwargs)] = kept(capture)
    assert args == ([1, 2],) and kwargs == {}
    assert appends(*args, **kwargs) == original == 3


def test_arguments_of_the_running_frame() -> None:
    def inside(a: int, /, b: int, *rest: int, c: int, **more: int) -> Call:
        return arguments(sys._getframe())

    assert inside(1, 2, 3, 4, c=5, x=6) == ((1, 2, 3, 4), {"c": 5, "x": 6})


# -- the recorder offers the wanted function's calls ------------------------------------------

def test_the_capture_matches_only_the_wanted_functions_code() -> None:
    capture = Capture(wanted_for(square))
    assert capture.matches(square.__code__)
    assert not capture.matches(keep.__code__)
    assert not capture.matches(loop_here.__code__)


def test_exactly_the_picked_calls_of_the_chosen_site_are_captured() -> None:
    site = (__file__, line_of("# the picked site"))
    capture = Capture(wanted_for(square, picks=(0, 3, 17, 42, 49), site=site))

    def program() -> None:
        loop_elsewhere(20)
        loop_here(50)
        loop_elsewhere(20)

    recording(capture, program)
    assert picked_values(capture) == [0, 3, 17, 42, 49]
    assert capture.seen == 50
    assert capture.too_big == 0 and capture.problem is None


def test_without_a_site_every_call_site_counts() -> None:
    capture = Capture(wanted_for(square, picks=(3, 25, 75)))

    def program() -> None:
        loop_elsewhere(20)
        loop_here(50)
        loop_elsewhere(20)

    recording(capture, program)
    # calls 0-19 pass 1000-1019, calls 20-69 pass 0-49, calls 70-89 pass 1000-1019 again
    assert picked_values(capture) == [1003, 5, 1005]
    assert capture.seen == 90


def test_picks_past_the_calls_made_capture_what_there_is() -> None:
    capture = Capture(wanted_for(square, picks=(2, 8, 400)))
    recording(capture, lambda: loop_here(10))
    assert picked_values(capture) == [2, 8]
    assert capture.seen == 10


def test_a_reservoir_keeps_calls_spread_over_the_whole_run() -> None:
    capture = Capture(wanted_for(square, reservoir=20, seed=4))
    recording(capture, lambda: loop_here(1000))
    values = picked_values(capture)
    assert len(values) == len(set(values)) == 20
    assert all(0 <= value < 1000 for value in values)
    assert sum(value >= 500 for value in values) >= 4  # not only the first calls
    assert capture.seen == 1000


def test_a_reservoir_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    def reservoir(seed: int) -> list[int]:
        capture = Capture(wanted_for(square, reservoir=10, seed=seed))
        recording(capture, lambda: loop_here(400))
        return sorted(picked_values(capture))

    assert reservoir(11) == reservoir(11)
    assert reservoir(11) != reservoir(12)


def test_a_reservoir_larger_than_the_run_keeps_every_call_in_order() -> None:
    capture = Capture(wanted_for(square, reservoir=10, seed=1))
    recording(capture, lambda: loop_here(6))
    assert picked_values(capture) == [0, 1, 2, 3, 4, 5]


def test_a_call_whose_arguments_exceed_its_share_is_counted_not_kept() -> None:
    capture = Capture(wanted_for(keep, picks=(0, 1), byte_limit=2000))

    def program() -> None:
        keep("x" * 10_000)
        keep("small")

    recording(capture, program)
    assert capture.too_big == 1
    assert kept(capture) == [(("small",), {})]
    assert capture.state()["per_call_bytes"] == 1000


def test_a_call_whose_arguments_do_not_pickle_says_why_and_is_not_kept() -> None:
    capture = Capture(wanted_for(keep, picks=(0, 1)))

    def program() -> None:
        keep(threading.Lock())
        keep("fine")

    recording(capture, program)
    assert capture.problem is not None
    assert capture.problem.startswith("TypeError") and "lock" in capture.problem
    assert kept(capture) == [(("fine",), {})]
    assert capture.too_big == 0


# -- the captured file, written in the program and read in the child ---------------------------

def test_captured_calls_come_back_equal_in_the_child(tmp_path: Path) -> None:
    capture = Capture(wanted_for(everything, picks=(0, 2)))

    def program() -> None:
        everything(1, d=2)
        everything(3, 4, 5, 6, d=7, z=8)
        everything(9, 8, 7, d=6, e=5, y=4)

    recording(capture, program)
    assert capture.changed
    state_path = tmp_path / "captured.pickle"
    capture.write(str(state_path))
    assert not capture.changed
    assert list(tmp_path.iterdir()) == [state_path]  # written in place, no temporary left
    state = pickle.loads(state_path.read_bytes())
    assert state["seen"] == 3 and state["too_big"] == 0 and state["problem"] is None

    child_file = tmp_path / "calls.pickle"
    write_captured(str(child_file), state["blobs"], total=state["seen"], main={})
    captured = load_captured(str(child_file))
    assert captured.calls == [((1, 1, 2), {"d": 2, "e": 5}),
                              ((9, 8, 7), {"d": 6, "e": 5, "y": 4})]
    assert captured.total == 3


def test_the_total_is_never_below_the_calls_held(tmp_path: Path) -> None:
    path = tmp_path / "calls.pickle"
    write_captured(str(path), [pickle.dumps(((1,), {})), pickle.dumps(((2,), {}))], total=0,
                   main={})
    assert load_captured(str(path)).total == 2


def test_a_missing_captured_file_is_a_one_line_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the captured calls") as raised:
        load_captured(str(tmp_path / "absent.pickle"))
    assert "\n" not in str(raised.value)


PROGRAM = textwrap.dedent("""\
    import pickle
    import sys
    from dataclasses import dataclass


    @dataclass
    class Point:
        x: int
        y: int


    if __name__ == "__main__":
        class OnlyWhenRun:  # defined only when the file runs as the program
            pass

        blobs = [pickle.dumps(((Point(1, 2),), {})), pickle.dumps(((OnlyWhenRun(),), {}))]
        with open(sys.argv[1], "wb") as handle:
            pickle.dump(blobs, handle)
    """)


@pytest.fixture
def program_blobs(tmp_path: Path, forget_modules: Callable[..., None]) -> tuple[Path, list[bytes]]:
    """A program file and the calls it pickled while running as ``__main__``."""
    forget_modules("prog")
    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    out = tmp_path / "blobs.pickle"
    subprocess.run([sys.executable, str(prog), str(out)], check=True, timeout=60,
                   cwd=tmp_path)
    blobs = pickle.loads(out.read_bytes())
    assert all(b"__main__" in blob for blob in blobs)
    return prog, blobs


def test_a_main_class_comes_back_as_the_program_modules_class(
        tmp_path: Path, program_blobs: tuple[Path, list[bytes]]) -> None:
    prog, blobs = program_blobs
    path = tmp_path / "calls.pickle"
    write_captured(str(path), blobs[:1], total=40, main={"path": str(prog)})
    captured = load_captured(str(path))
    [((point,), kwargs)] = captured.calls
    assert kwargs == {}
    assert type(point).__module__ == "prog"
    assert type(point) is sys.modules["prog"].Point
    assert (point.x, point.y) == (1, 2)
    assert captured.total == 40


def test_a_class_the_child_cannot_import_is_a_one_line_value_error(
        tmp_path: Path, program_blobs: tuple[Path, list[bytes]]) -> None:
    prog, blobs = program_blobs
    path = tmp_path / "calls.pickle"
    write_captured(str(path), blobs, total=2, main={"path": str(prog)})
    with pytest.raises(ValueError, match="captured call 1 cannot be read back") as raised:
        load_captured(str(path))
    assert "OnlyWhenRun" in str(raised.value)
    assert "\n" not in str(raised.value)


# -- calls as the child's inputs -------------------------------------------------------------

@pytest.mark.parametrize("bad", [[1, 2], [[1], "x"], [[1], {1: 2}], [[1]], "call"])
def test_a_call_not_shaped_args_kwargs_is_refused_naming_its_index(bad: Any) -> None:
    with pytest.raises(ResolveError) as raised:
        make_task(keyword_only, pass_item=True, calls=[[[1], {}], bad])
    message = str(raised.value)
    assert "input 1" in message and "[args, kwargs]" in message
    assert "\n" not in message
    assert raised.value.category == "usage"


def test_a_call_that_does_not_bind_is_refused_naming_the_function_and_index() -> None:
    with pytest.raises(ResolveError) as raised:
        make_task(keyword_only, pass_item=True, calls=[((1,), {}), ((1,), {"nope": 2})])
    message = str(raised.value)
    assert "input 1" in message and "keyword_only" in message and "nope" in message
    assert "\n" not in message
    assert raised.value.category == "usage"


def test_a_task_of_calls_calls_the_function_with_each_calls_arguments() -> None:
    calls = [((1, 2, 3, 4), {"d": 5, "z": 6}), [[7], {"d": 8}]]  # JSON gives lists
    task = make_task(everything, pass_item=True, calls=calls)
    assert [task(call) for call in calls] == [everything(1, 2, 3, 4, d=5, z=6),
                                              everything(7, d=8)]


def test_a_task_of_calls_runs_a_coroutine_function() -> None:
    task = make_task(add_later, pass_item=True, calls=[((1,), {"b": 2})])
    assert task.is_coroutine
    assert task(((1,), {"b": 2})) == 3


MODULE = textwrap.dedent("""\
    def area(width, height=1, *, scale=1):
        return width * height * scale
    """)


def test_a_job_of_captured_calls_resolves_to_those_calls(
        tmp_path: Path, forget_modules: Callable[..., None]) -> None:
    forget_modules("captured_target")
    module = tmp_path / "captured_target.py"
    module.write_text(MODULE)
    path = tmp_path / "calls.pickle"
    calls = [((2, 3), {}), ((4,), {"scale": 10})]
    write_captured(str(path), [pickle.dumps(call) for call in calls], total=500,
                   main={"path": str(module)})
    resolved = resolve_job(Job(TargetSpec.parse(f"{module}:area"),
                               InputSpec(captured=str(path))))
    assert resolved.input_source == "captured"
    assert resolved.total == 500
    assert list(resolved.items) == calls
    assert [resolved.task(call) for call in resolved.items] == [6, 40]


def test_an_unreadable_captured_file_is_the_targets_problem(
        tmp_path: Path, forget_modules: Callable[..., None]) -> None:
    forget_modules("captured_target")
    module = tmp_path / "captured_target.py"
    module.write_text(MODULE)
    path = tmp_path / "calls.pickle"
    path.write_bytes(b"not a pickle")
    with pytest.raises(ResolveError, match="cannot read the captured calls") as raised:
        resolve_job(Job(TargetSpec.parse(f"{module}:area"), InputSpec(captured=str(path))))
    assert raised.value.category == "target"


def test_inputs_given_as_calls_resolve_to_unpacked_calls(
        tmp_path: Path, forget_modules: Callable[..., None]) -> None:
    forget_modules("captured_target")
    module = tmp_path / "captured_target.py"
    module.write_text(MODULE)
    spec = InputSpec.from_options(inputs='[[[2, 3], {}], [[4], {"scale": 10}]]',
                                  inputs_from=None, repeat=None, calls=True)
    resolved = resolve_job(Job(TargetSpec.parse(f"{module}:area"), spec))
    assert resolved.input_source == "inputs"
    assert resolved.total == 2
    assert [resolved.task(call) for call in resolved.items] == [6, 40]


def test_inputs_as_calls_that_do_not_fit_are_refused_before_running(
        tmp_path: Path, forget_modules: Callable[..., None]) -> None:
    forget_modules("captured_target")
    module = tmp_path / "captured_target.py"
    module.write_text(MODULE)
    spec = InputSpec(items=([[2, 3], {}], [[], {}]), calls=True)
    with pytest.raises(ResolveError, match="input 1 does not fit area"):
        resolve_job(Job(TargetSpec.parse(f"{module}:area"), spec))


def test_calls_inputs_survive_the_job_round_trip() -> None:
    spec = InputSpec.from_options(inputs='[[[1], {"k": 2}]]', inputs_from=None, repeat=None,
                                  calls=True)
    assert spec.calls and spec.unpack
    assert spec.items == ([[1], {"k": 2}],)
    assert InputSpec.from_dict(spec.to_dict()) == spec
    captured = InputSpec(captured="/tmp/calls.pickle")
    assert captured.unpack and not captured.calls
    assert InputSpec.from_dict(captured.to_dict()) == captured


def test_an_input_spec_from_before_calls_reads_as_single_arguments() -> None:
    data = {"items": [1, 2], "source": None, "repeat": None}
    assert InputSpec.from_dict(data) == InputSpec(items=(1, 2))
    assert not InputSpec.from_dict(data).unpack


def test_calls_with_repeat_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--calls.*--repeat"):
        InputSpec.from_options(inputs=None, inputs_from=None, repeat=5, calls=True)


# -- the call a report quotes ------------------------------------------------------------------

CALLER = textwrap.dedent("""\
    def main(self, urls):
        for url in urls:
            page = fetch(
                url,
                timeout=5,
            )
            self.fetch(url)
            total = fetch(parse(url)) + count(url, strict=True)
            fetch("%s")
    """) % ("x" * 200)


@pytest.mark.parametrize(("line", "name", "text"), [
    (3, "fetch", "fetch(url, timeout=5)"),      # a call over several lines, from its first
    (4, "fetch", "fetch(url, timeout=5)"),      # ... or from one inside it
    (7, "fetch", "self.fetch(url)"),            # an attribute call
    (8, "count", "count(url, strict=True)"),    # three calls on a line: the one named
    (8, "parse", "parse(url)"),
    (8, "fetch", "fetch(parse(url))"),          # the whole call, the one inside included
    (2, "fetch", None),                         # no such call on that line
    (7, "parse", None),
])
def test_call_text_quotes_the_named_call_on_the_line(tmp_path: Path, line: int, name: str,
                                                     text: str | None) -> None:
    path = tmp_path / "caller.py"
    path.write_text(CALLER)
    assert call_text(str(path), line, name) == text


def test_a_long_call_is_cut_with_an_ellipsis(tmp_path: Path) -> None:
    path = tmp_path / "caller.py"
    path.write_text(CALLER)
    text = call_text(str(path), 9, "fetch")
    assert text is not None
    assert len(text) == CALL_CHARS and text.endswith("…")
    assert text.startswith("fetch('xxx")


def test_call_text_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert call_text(str(tmp_path / "gone.py"), 3, "fetch") is None


# -- the pause: the program waits once its last pick is taken --------------------------

def test_the_program_pauses_once_its_last_pick_is_taken_before_that_call_runs() -> None:
    capture = Capture(wanted_for(square, picks=(1, 4, 7)))
    ran: list[int] = []

    def pause() -> None:  # what the boot does: the capture, read under its own lock
        state = capture.state()
        ran.append(len(state["blobs"]))

    capture.pause = pause
    recording(capture, lambda: loop_here(10))
    assert ran == [3]  # once, with every pick taken
    assert capture.seen == 10  # and the program went on
    assert picked_values(capture) == [1, 4, 7]


def test_a_pick_past_the_calls_made_means_no_pause() -> None:
    capture = Capture(wanted_for(square, picks=(2, 400)))
    paused: list[bool] = []
    capture.pause = lambda: paused.append(True)
    recording(capture, lambda: loop_here(10))
    assert paused == []


def test_a_reservoir_never_pauses_since_any_later_call_may_replace_a_kept_one() -> None:
    capture = Capture(wanted_for(square, reservoir=5, seed=1))
    paused: list[bool] = []
    capture.pause = lambda: paused.append(True)
    recording(capture, lambda: loop_here(50))
    assert paused == [] and len(capture.blobs) == 5
