"""What concdoctor and its child runner say to each other, typed, and its one encoding.

Every message is a frozen dataclass. Requests go from concdoctor to the child (run the
baseline, run a trial, profile with yappi, exit); answers come back (ready, the
baseline's numbers, a trial's time, yappi's rows, or a failure). Both sides encode and
decode here, one JSON object per line, so a renamed field fails in the unit tests, not
at the far end of a pipe.

The child is started with the same interpreter, but imports ``concdoctor`` from its own
``sys.path`` (the user's folder comes first), so it may find another copy. Its first
answer, :class:`Ready`, carries :data:`PROTOCOL_VERSION` and where it was imported from;
a mismatch ends the run with a message that says which copy was found.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Union

from concdoctor.diagnosis import Failure, FunctionStat, ResultsCheck
from concdoctor.errors import UsageError

PROTOCOL_VERSION = 1


class ProtocolError(UsageError):
    """A line that is not a message of this protocol version: the child imported another
    copy of concdoctor (exit code 2, the fix is in the user's environment)."""


# -- requests: concdoctor -> child -------------------------------------------------------

@dataclass(frozen=True)
class RunBaseline:
    """Run the tasks once, sequentially, timing each; with ``keep_results``, keep each
    result's digest for the trials' results check.

    Without ``sample``: every task the child holds, in input order; past
    ``check_after`` seconds, if the pace says they will not fit in ``deadline``,
    stop and answer :class:`TooBig`. With ``sample``: that many tasks chosen with
    ``seed`` (see :mod:`concdoctor.baseline.budget`), stopping at ``deadline`` with those done.
    The tasks run are the ones every later trial runs.
    """

    keep_results: bool = True
    deadline: float | None = None
    check_after: float = 0.0
    sample: int | None = None
    seed: int = 0
    start_method: str | None = None
    """The multiprocessing start method the child's process pools use from then on (the
    user's ``--start-method``); None: the platform's default."""
    TYPE: ClassVar[str] = "run_baseline"
    phase: ClassVar[str] = "baseline"


@dataclass(frozen=True)
class RunTrial:
    """Run the whole batch once on ``executor``."""

    executor: str
    workers: int
    chunksize: int = 1
    timeout: float | None = None
    """Seconds after which a pool that may never raise is given up (interpreter, dask)."""
    cluster: str | None = None
    """The dask scheduler's address; None: a local cluster (``dask`` only)."""
    inner_workers: int = 1
    """Calls each worker runs at once (the hybrid pool)."""
    TYPE: ClassVar[str] = "run_trial"

    @property
    def phase(self) -> str:
        return f"confirm:{self.executor}"


@dataclass(frozen=True)
class RunYappi:
    """Profile a few tasks with yappi within ``budget`` seconds; the child exits after."""

    budget: float
    """Seconds of the wall-clock pass."""
    cpu_budget: float | None = None
    """Seconds of the CPU-clock pass (as long as the other when None)."""
    cpu_share: float | None = None
    """No CPU-clock pass: the baseline's samples found the tasks running this share of
    the time (barely waiting), and each function's CPU time is its wall time times it."""
    one_task: bool = False
    """End the wall-clock pass as soon as a task is done: it is there to see one through."""
    TYPE: ClassVar[str] = "run_yappi"
    phase: ClassVar[str] = "yappi"


@dataclass(frozen=True)
class Exit:
    TYPE: ClassVar[str] = "exit"
    phase: ClassVar[str] = "exit"


# -- answers: child -> concdoctor --------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    """The target and its inputs are resolved; the worker thread is named for py-spy."""

    protocol: int
    location: str
    pid: int
    thread_id: int
    thread_ident: int
    tasks: int
    is_coroutine: bool
    input_source: str
    start_method: str
    inputs_called: bool = False
    held: int = 0
    """How many of the ``tasks`` inputs the child holds (fewer for a huge iterator)."""
    gil_enabled: bool = True
    """The GIL as the child sees it once the target is imported: a free-threaded build
    turns it back on for a C extension that does not declare it can run without."""
    containment: str = "process group"
    """What holds the processes the target starts: ``cgroup`` (the child's own cgroup v2),
    ``subreaper`` (the child adopts orphans) or ``process group`` (neither)."""
    TYPE: ClassVar[str] = "ready"


@dataclass(frozen=True)
class BaselineDone:
    """The sequential baseline: per-task wall times and the worker's CPU accounting."""

    wall_seconds: float
    task_seconds: tuple[float, ...]
    cpu_seconds: float
    thread_cpu_seconds: float
    voluntary_switches: int
    involuntary_switches: int
    run_delay_seconds: float
    process_problem: str | None = None
    """Why the batch cannot be shipped to a process pool, or None."""
    value_problem: str | None = None
    """Why it cannot be shipped even by value (cloudpickle), or None."""
    shared_state: tuple[str, ...] = ()
    """Module-level state the tasks write, ``module.NAME (how)``."""
    bytes_per_task: int = 0
    """Bytes an input and its result take pickled, on average over the first tasks."""
    child_programs_cpu_seconds: float = 0.0
    """CPU of the programs the tasks ran and waited for (``RUSAGE_CHILDREN``)."""
    task_bytes: int = 0
    """How much the child's peak memory grew over the tasks (what a call holds at most)."""
    TYPE: ClassVar[str] = "baseline_done"


@dataclass(frozen=True)
class TooBig:
    """The baseline stopped: at its pace the tasks would not fit its deadline."""

    task_seconds: tuple[float, ...]
    elapsed: float
    thread_cpu_seconds: float
    TYPE: ClassVar[str] = "too_big"


@dataclass(frozen=True)
class Progress:
    """Tasks done so far in the running request (sent at most a few times a second)."""

    done: int
    total: int
    TYPE: ClassVar[str] = "progress"


@dataclass(frozen=True)
class Swept:
    """What the target left running, found at the end of a phase (sent before the
    phase's answer) or when the child is done (``final``): the commands of the
    processes the child ended, and of those it kept (``--keep-detached``) with who they
    are (``pid:start``), so that the parent neither kills nor counts them again."""

    ended: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    kept_ids: tuple[str, ...] = ()
    final: bool = False
    TYPE: ClassVar[str] = "swept"


@dataclass(frozen=True)
class TrialDone:
    """One run of the whole batch: its seconds, or why the executor could not run it."""

    executor: str
    seconds: float | None = None
    skipped: str | None = None
    """The executor cannot run this batch (pickling, Python version): why."""
    raised: str | None = None
    """The target raised on this executor: the exception, in one line."""
    check: ResultsCheck | None = None
    """The results, task by task, against the baseline's."""
    task_seconds_mean: float | None = None
    """How long a task took on this executor, on average (contention included)."""
    concurrency: float | None = None
    """How many tasks ran at once, on average, while any ran."""
    worker_bytes: int | None = None
    """Memory per worker (process and interpreter pools)."""
    TYPE: ClassVar[str] = "trial_done"


@dataclass(frozen=True)
class YappiDone:
    available: bool
    reason: str | None = None
    functions: tuple[FunctionStat, ...] = ()
    tasks: int = 0
    traced_seconds: float = 0.0
    """How long the wall-clock pass traced."""
    tasks_done: int = 0
    """Tasks it saw to their end."""
    TYPE: ClassVar[str] = "yappi_done"


@dataclass(frozen=True)
class Failed:
    """The child could not do what was asked.

    ``category`` is ``usage`` (the target or inputs cannot be resolved: the user's
    mistake, exit code 2), ``target`` (the target's module raised while importing) or
    ``raised`` (the target raised on a task: ``index`` and ``input`` say which).
    """

    category: str
    phase: str
    message: str
    detail: str | None = None
    index: int | None = None
    input: str | None = None
    TYPE: ClassVar[str] = "failed"

    def text(self) -> str:
        if self.index is None:
            return self.message
        return f"the target raised on input #{self.index} ({self.input}): {self.message}"

    def failure(self) -> Failure:
        return Failure(self.phase, self.text(), self.detail)


Request = Union[RunBaseline, RunTrial, RunYappi, Exit]
Answer = Union[Ready, BaselineDone, TooBig, TrialDone, YappiDone, Failed, Progress, Swept]
Message = Union[Request, Answer]

_TYPES: dict[str, type[Any]] = {cls.TYPE: cls for cls in (
    RunBaseline, RunTrial, RunYappi, Exit, Ready, BaselineDone, TooBig, TrialDone,
    YappiDone, Failed, Progress, Swept)}
_NESTED: dict[str, type[Any]] = {"functions": FunctionStat, "check": ResultsCheck}
"""Fields holding dataclasses of their own (or tuples of them)."""


def encode(message: Message) -> str:
    """One line of JSON (no newline). Values JSON cannot hold are sent as their repr."""
    data = {"type": message.TYPE, **dataclasses.asdict(message)}
    return json.dumps(data, default=repr, allow_nan=True)


def decode(line: str | bytes) -> Message:
    """The message on ``line``; :class:`ProtocolError` for anything else."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a protocol message ({exc}): {_short(line)}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"not a protocol message: {_short(line)}")
    kind = data.pop("type", None)
    if kind == Ready.TYPE and data.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError(_mismatch(data))
    cls = _TYPES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type in {_short(line)}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ProtocolError(f"{cls.TYPE} has no field {unknown[0]!r}")
    try:
        return cls(**{key: _value(key, value) for key, value in data.items()})
    except TypeError as exc:
        raise ProtocolError(f"{cls.TYPE}: {exc}") from None


def _value(key: str, value: Any) -> Any:
    nested = _NESTED.get(key)
    if isinstance(value, dict) and nested is not None:
        return nested(**{name: _value(name, item) for name, item in value.items()})
    if isinstance(value, list):
        return tuple(_value(key, item) for item in value)
    return value


def _short(line: str | bytes, limit: int = 120) -> str:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return text if len(text) <= limit else text[:limit] + "..."


def _mismatch(ready: dict[str, Any]) -> str:
    from concdoctor import __file__ as here

    return (f"the child process imported concdoctor from {ready.get('location', '?')}, which "
            f"speaks protocol {ready.get('protocol', '?')}, while this concdoctor ({here}) "
            f"speaks {PROTOCOL_VERSION}: remove the other copy from the target's sys.path, "
            "or install the same version there")


# -- frames: how the parent recognises the child's own code in sampled stacks -------------

TASK_FRAME = "_concdoctor_task"
"""The child's function around every baseline call: samples outside it are not a task's."""
WAIT_FRAME = "_concdoctor_wait"
"""The child's function around every wait for the parent: samples in it are never a task's."""
PACKAGE_DIR = Path(__file__).resolve().parent
"""concdoctor's own code: never the user's, in a traceback, a trace or a state check."""
CHILD_DIR = PACKAGE_DIR / "child"
"""Everything that runs in the child, and nothing the parent imports."""
CHILD_FILES = f"{PACKAGE_DIR.name}/{CHILD_DIR.name}/"
"""How py-spy's frames name a file of the child's (``function (.../concdoctor/child/x.py:N)``):
a stack in them without a task frame is the child between tasks, not a task."""
WRAPPER_FILE = CHILD_FILES + "runners.py"
"""The file of the ``Task`` wrapper between the task frame and the user's function."""


def is_own_file(filename: str) -> bool:
    """Whether ``filename`` is concdoctor's own code rather than the user's."""
    return os.path.abspath(filename).startswith(str(PACKAGE_DIR) + os.sep)
