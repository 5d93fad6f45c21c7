"""The one result object that flows through every stage.

A :class:`Diagnosis` is plain, frozen data. The CLI, the pytest fixture and every
renderer consume it; it serialises to the versioned JSON report (``schema_version`` 1,
described in README's "Reports") and loads back from it, so a saved report can be
re-rendered without re-running anything.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from concdoctor import executors as registry

SCHEMA_VERSION = 1

KINDS = (
    "io_bound",
    "python_cpu_bound",
    "gil_released_c",
    "mixed",
    "overhead_bound",
    "already_parallel",
)
EXECUTORS = registry.names()
"""The contract's executor names (those registered when concdoctor loads; a registered
toy or plugin executor is known to :mod:`concdoctor.executors` too)."""


class ReportSchemaError(ValueError):
    """A JSON report that this version of concdoctor cannot read."""


@dataclass(frozen=True)
class FunctionStat:
    """One row of yappi's profile: where the task's time went, CPU against wall clock."""

    name: str
    file: str = ""
    line: int = 0
    calls: int = 0
    """Calls the pass saw begin."""
    cpu_seconds: float = 0.0
    """Self CPU time: from a CPU-clock pass, or, where the samples showed the tasks barely
    wait and that pass was skipped, ``wall_seconds`` times the share they ran."""
    wall_seconds: float = 0.0
    """Self time: in the function, not in the functions it called."""
    builtin: bool = False
    total_seconds: float = 0.0
    """Wall seconds of the calls that returned, the functions they called included."""
    unfinished: int = 0
    """Calls still running when the pass ended (their time is in no figure above)."""


@dataclass(frozen=True)
class StackSamples:
    """A collapsed stack of the worker thread with its samples split by thread state."""

    frames: tuple[str, ...]
    idle: int = 0
    gil: int = 0
    released: int = 0

    @property
    def total(self) -> int:
        return self.idle + self.gil + self.released


@dataclass(frozen=True)
class Workload:
    tasks: int
    is_coroutine: bool = False
    input_source: str = "inputs"
    """``inputs`` (a list given directly), ``inputs_from`` (``module:ATTR``) or ``repeat``."""
    inputs_from: str | None = None
    """The ``module:ATTR`` the inputs came from, for the snippet that applies the advice."""
    inputs_called: bool = False
    """``inputs_from`` named a function, called to get the inputs."""
    inputs_json: str | None = None
    """A short ``--inputs`` list as JSON, for the snippet; None when long or not JSON."""
    calls: bool = False
    """Each input is one call's ``(args, kwargs)`` (``--calls``, or captured by
    ``concdoctor run``)."""


@dataclass(frozen=True)
class Environment:
    python: str
    cpu_count: int
    gil_enabled: bool = True
    free_threaded_build: bool = False
    implementation: str = "CPython"
    platform: str = ""
    start_method: str = ""
    """The multiprocessing start method in force: the platform's, or ``--start-method``."""
    start_methods: dict[str, str] = field(default_factory=dict)
    """How each process pool's workers start, by executor (``process``: the start method
    in force; ``loky``: loky's own, a fresh interpreter that does not run ``__main__``)."""
    cluster: str | None = None
    """The dask scheduler the batch was also measured on (None: none given)."""
    cluster_workers: int = 0
    """Its worker threads, as the scheduler counted them."""
    threads_limit: int | None = None
    """Threads one pool may start here (half the user's RLIMIT_NPROC); None: no limit."""
    files_limit: int | None = None
    """Descriptors calls in flight may hold (RLIMIT_NOFILE, less a reserve); None: none."""
    project: str | None = None
    """The project's folder (its pyproject.toml's, else the working folder): the
    human-readable reports show paths relative to it."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Executors this Python cannot run, with the reason and its fix: not rows of the
    reports, not curves; the confirmation's results keep their skips."""
    memory_limit_bytes: int | None = None
    """Memory the workers may take together: the cgroup's headroom, else MemAvailable,
    or ``--memory-limit``; None where it cannot be read."""
    memory_limit_source: str | None = None
    """Where that figure came from, for the report."""
    containment: str | None = None
    """What held the processes the target started: ``cgroup`` (a cgroup v2 of the
    child's own), ``subreaper`` (the child adopted orphans) or ``process group``."""
    concdoctor: str = ""
    py_spy: str | None = None
    yappi: str | None = None


@dataclass(frozen=True)
class Evidence:
    """What the probes measured during the sequential baseline (and yappi's few tasks)."""

    wall_seconds: float
    cpu_seconds: float
    thread_cpu_seconds: float
    task_seconds_median: float
    task_seconds_max: float = 0.0
    task_seconds_mean: float = 0.0
    task_seconds_stdev: float = 0.0
    """The spread of task times, for the prediction's interval and the scaling model."""
    voluntary_switches: int = 0
    involuntary_switches: int = 0
    run_delay_seconds: float = 0.0
    """Time the worker thread spent waiting for a CPU (another process had it)."""
    idle_fraction: float | None = None
    gil_fraction: float | None = None
    released_fraction: float | None = None
    shares_error: float | None = None
    """The ± (about 95 %) on the GIL-held and GIL-released shares, from the samples."""
    samples: int = 0
    sampling_rate: int = 0
    degraded: bool = False
    degraded_reason: str | None = None
    stacks: tuple[StackSamples, ...] = ()
    top_functions: tuple[FunctionStat, ...] = ()
    traced_seconds: float = 0.0
    """How long yappi's wall-clock pass traced (its functions' times cover only that)."""
    traced_tasks: int = 0
    """Tasks that pass saw to their end."""
    blocking_calls: tuple[str, ...] = ()
    process_problem: str | None = None
    """Why the batch cannot be shipped to a process pool (pickling by name), or None."""
    value_problem: str | None = None
    """Why it cannot be shipped even by value (cloudpickle: a closure or a lambda can, a
    lock or a generator cannot), or None: with a ``process_problem`` and no value
    problem, a pool that ships by value (loky) takes the batch."""
    shared_state: tuple[str, ...] = ()
    """Module-level state the task writes (``module.NAME (how)``): unsafe to share."""
    bytes_per_task: int = 0
    """Bytes a task's input and result take pickled (what a process pool ships)."""
    sampled_tasks: int | None = None
    """How many tasks the baseline ran when it ran a sample of the batch (else None): the
    times above are the sample's."""
    seed: int | None = None
    """The seed that chose the sample."""
    task_bytes: int = 0
    """How much the child's peak memory grew while the baseline ran its tasks one at a
    time: what a call holds at most, the memory each call in flight will want."""
    child_programs_cpu_seconds: float = 0.0
    """CPU the programs the target ran and waited for used during the baseline (the
    children it reaped: ``RUSAGE_CHILDREN``)."""
    loop_blocking: float | None = None
    """For a coroutine: the share of its idle samples spent outside the event loop's
    wait, i.e. blocking the loop; None when the samples cannot tell."""

    @property
    def cpu_ratio(self) -> float:
        """Process CPU seconds per wall second: ~0 waiting, ~1 one core, >1 native threads."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def child_cpu_ratio(self) -> float:
        """CPU seconds of the programs the target waited for, per wall second."""
        return (self.child_programs_cpu_seconds / self.wall_seconds
                if self.wall_seconds > 0 else 0.0)

    @property
    def thread_cpu_ratio(self) -> float:
        return self.thread_cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def shares(self) -> tuple[float, float, float]:
        """Idle / GIL-held / GIL-released; without samples, the worst case for threads
        (all the CPU time the worker thread used held the GIL)."""
        idle, gil, released = self.idle_fraction, self.gil_fraction, self.released_fraction
        if idle is None or gil is None or released is None:
            busy = min(max(self.thread_cpu_ratio, 0.0), 1.0)
            return 1.0 - busy, busy, 0.0
        return idle, gil, released


@dataclass(frozen=True)
class Classification:
    kind: str
    confidence: float
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    executor: str
    workers: int
    rule: str
    reason: str
    revised_from: str | None = None
    revision_reason: str | None = None
    chunksize: int = 1
    min_speedup: float = 1.0
    advice: str | None = None
    revised_from_rule: str | None = None
    """The rule whose advice the measurement overturned."""
    snippet: str | None = None
    """The few lines of Python that apply this advice to the user's own call."""
    inner_workers: int = 1
    """Calls each worker runs at once (the hybrid pool's threads or event loop); 1 else."""
    limited_by: str | None = None
    """What set the worker count where the scaling curve's knee was not the limit:
    ``tasks``, ``cores``, ``threads_limit``, ``files_limit``, ``memory`` or ``user``."""
    predicted_speedup: float | None = None
    """The capacity model's speedup for this executor and worker count on this machine
    (the scaling curve's point there, before any measurement scales it)."""


@dataclass(frozen=True)
class ResultsCheck:
    """How an executor's results compared with the sequential baseline's, task by task.

    ``status``: ``same``; ``differ`` (``tasks`` lists the first differing task indices,
    ``differing`` counts them, ``first_input`` / ``expected`` / ``got`` show the first,
    shortened); ``raised`` (the target raised here but not sequentially: ``got``);
    ``skipped`` (``reason``: results vary by themselves, or cannot be compared).
    """

    status: str
    reason: str | None = None
    tasks: tuple[int, ...] = ()
    differing: int = 0
    first_input: str | None = None
    expected: str | None = None
    got: str | None = None

    @property
    def unsafe(self) -> bool:
        return self.status in ("differ", "raised")


@dataclass(frozen=True)
class ExecutorResult:
    """One executor measured over several trials of the whole batch."""

    executor: str
    workers: int
    seconds: tuple[float, ...] = ()
    median_seconds: float | None = None
    speedup: float | None = None
    skipped: str | None = None
    chunksize: int = 1
    check: ResultsCheck | None = None
    """The results check; an unsafe executor is never the recommendation."""
    task_seconds_mean: float | None = None
    """How long a task took on this executor (waiting for the GIL, a core, the loop
    included), on average over its trials."""
    concurrency: float | None = None
    """How many tasks ran at once, on average, while any ran."""
    worker_bytes: int | None = None
    """Memory per worker, at its largest: a worker process's PSS (its peak RSS where /proc
    cannot tell), or what each sub-interpreter added to the process (None for the other
    executors)."""
    worker_pss_bytes: int | None = None
    """The same, for executors whose workers are processes: their proportional set size
    (RSS counts the pages a forked worker shares with its parent once per worker)."""
    inner_workers: int = 1
    """Calls each worker ran at once (the hybrid pool); 1 for the other executors."""

    @property
    def unsafe(self) -> bool:
        return self.check is not None and self.check.unsafe


@dataclass(frozen=True)
class Confirmation:
    baseline_seconds: float
    recommended_seconds: float | None
    speedup: float | None
    confirmed: bool
    trials: int
    executors: dict[str, float] = field(default_factory=dict)
    results: tuple[ExecutorResult, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Prediction:
    """The whole batch, predicted from the sample the diagnosis ran on: its sequential
    time, the advised executor's, and that time's interval (``low`` to ``high``)."""

    tasks: int
    sampled_tasks: int
    seed: int
    sequential_seconds: float
    recommended_seconds: float
    low: float
    high: float


@dataclass(frozen=True)
class ScalingPoint:
    """One point of an executor's speedup curve: predicted, and measured where a trial
    ran with these workers on these cores."""

    workers: int
    cores: int
    predicted_speedup: float
    measured_speedup: float | None = None


@dataclass(frozen=True)
class Leftover:
    """Processes of one command line that the target started and left running past the
    end of a phase (a process started per call is counted once per run of the batch)."""

    command: str
    """Shortened: the program's name and its arguments, cut to 80 characters."""
    count: int
    kept: bool = False
    """Left running at the user's word (``--keep-detached``); else concdoctor ended them
    (SIGTERM, then SIGKILL after a grace period)."""


@dataclass(frozen=True)
class Failure:
    """Why a diagnosis stopped early; the report is then partial."""

    phase: str
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    target: str
    workload: Workload
    environment: Environment
    evidence: Evidence | None = None
    classification: Classification | None = None
    recommendation: Recommendation | None = None
    confirmation: Confirmation | None = None
    prediction: Prediction | None = None
    """Present when the diagnosis ran on a sample of the inputs; None otherwise."""
    scaling: dict[str, tuple[ScalingPoint, ...]] = field(default_factory=dict)
    """Per executor, the speedup at each worker count and core count (see scaling.py)."""
    failure: Failure | None = None
    left_running: tuple[Leftover, ...] = ()
    """What the target left running, by command, most frequent first."""
    notes: tuple[str, ...] = ()
    command: str = ""
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    # -- convenient reading, for the fixture and the renderers -------------------------
    @property
    def complete(self) -> bool:
        return self.failure is None and self.recommendation is not None

    @property
    def kind(self) -> str | None:
        return self.classification.kind if self.classification else None

    @property
    def executor(self) -> str | None:
        return self.recommendation.executor if self.recommendation else None

    @property
    def workers(self) -> int | None:
        return self.recommendation.workers if self.recommendation else None

    @property
    def speedup(self) -> float | None:
        return self.confirmation.speedup if self.confirmation else None

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmation and self.confirmation.confirmed)

    # -- in a notebook: the report inline (render/inline.py) -------------------------
    def _repr_html_(self) -> str:
        from concdoctor.render import inline

        return inline.html(self)

    def _repr_markdown_(self) -> str:
        from concdoctor.render import inline

        return inline.markdown(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from concdoctor.render import inline

        printer.text(inline.text(self))

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        # Stable key order: the contract fields first, as README's "Reports" lists them.
        ordered = {"schema_version": data.pop("schema_version"), "target": data.pop("target")}
        ordered.update(data)
        return ordered

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        if not isinstance(data, dict):
            raise ReportSchemaError("a concdoctor report is a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ReportSchemaError(
                f"report has schema_version {version!r}; this concdoctor reads version "
                f"{SCHEMA_VERSION}: re-run 'concdoctor profile' to make a new report"
            )
        from concdoctor.report_tree import build  # the classes below, by field name

        try:
            return build(cls, data)
        except (TypeError, KeyError, ValueError) as exc:
            raise ReportSchemaError(f"report does not match schema version 1: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Diagnosis:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportSchemaError(f"not a JSON report ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)
