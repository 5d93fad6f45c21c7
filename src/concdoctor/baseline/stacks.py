"""py-spy sampling of the baseline: idle, GIL-held and GIL-released shares, per stack.

One ``py-spy record`` cannot label each sample with its state: it can only filter. So
four non-blocking samplers watch the same process at once: ``--idle`` (every sample),
no filter (active samples), and two ``--gil`` (samples owning the GIL, faster: they
alone split held from released). Per stack, idle = all - active, GIL = the --gil
counts, released = active - GIL. Only samples taken inside a task
(below the child's ``_concdoctor_task`` frame) count, which removes set-up, waiting and
teardown without having to synchronise the samplers' start and stop exactly.
"""

from __future__ import annotations

import functools
import math
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from concdoctor import cores
from concdoctor.diagnosis import StackSamples
from concdoctor.protocol import CHILD_FILES, TASK_FRAME, WAIT_FRAME, WRAPPER_FILE

MODES = {"idle": ["--idle"], "active": [], "gil": ["--gil"], "gil2": ["--gil"]}
"""Two --gil samplers, each at the GIL rate: their independent counts add up, halving
the Poisson noise of the split without either falling behind."""
GIL_MODES = ("gil", "gil2")
# py-spy writes a frame as "function (file:line)".
_TASK = TASK_FRAME + " "
_WAIT = WAIT_FRAME + " "
_WRAPPER = WRAPPER_FILE + ":"
_OWN = (CHILD_FILES, "concdoctor/protocol.py:")
"""The child's own files: a stack in them without a task frame is not a task's."""
_VERSION = re.compile(r"(\d+\.\d+\.\d+)")
STEADY_RATE = (0.8, 1.25)
"""The --idle sampler's count within this factor of rate x seconds: it sampled steadily."""
DISAGREEMENT = 0.25
"""py-spy's active share this far from the CPU time's is worth a note."""
GIL_RATE_FACTOR, GIL_RATE_CAP = 5, 500
"""The --gil sampler runs this many times faster than the others, up to the cap (500 a
second: faster, one sampler falls behind on these machines and undercounts)."""
Z = 1.96
"""The ± on the GIL split covers about 95 %."""
BUSY_CORE = 0.6
"""The samplers share one core: using more than this share of it, they may fall behind."""


def gil_rate(rate: int) -> int:
    """How often the --gil sampler samples: its count alone splits GIL-held from released
    work, and its Poisson noise shrinks with the samples it takes."""
    return max(rate, min(GIL_RATE_FACTOR * rate, GIL_RATE_CAP))


class SamplingUnavailable(Exception):
    """py-spy cannot sample here; the message carries the exact fix."""


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


@functools.lru_cache(maxsize=4)
def py_spy_version(binary: str | None) -> str | None:
    """The version of ``binary`` (asked once per process: a test session diagnoses often)."""
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out.stdout)
    return match.group(1) if match else None


@dataclass
class Shares:
    """The worker thread's samples during the tasks, split by state."""

    idle: int
    gil: int
    released: int
    stacks: tuple[StackSamples, ...] = ()
    expected: int = 0
    gil_estimate: float = 0.0
    """The --gil sampler's own share, not capped by the active sampler's (noisy) one."""
    gil_error: float = 0.0
    """The ± (about 95 %) on that share, from the --gil sampler's Poisson count."""

    @property
    def total(self) -> int:
        return self.idle + self.gil + self.released

    def fractions(self) -> tuple[float, float, float]:
        total = self.total or 1
        return self.idle / total, self.gil / total, self.released / total


@dataclass
class Samplers:
    """Three py-spy processes attached to one pid; start before the baseline, stop after."""

    binary: str
    pid: int
    directory: Path
    rate: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    """What the samplers used of the CPU between start and stop (all of them)..."""
    seconds: float = 0.0
    """...and how long that was."""
    own_core: bool = True
    """The samplers kept a core of their own; False where the target has only one, and
    the time it waited for it while they sampled is theirs, not its."""

    @property
    def gil_rate(self) -> int:
        """Faster where the samplers have a core of their own; on the only core they
        would take that much more of it from the target."""
        return gil_rate(self.rate) if self.own_core else self.rate

    def rate_of(self, mode: str) -> int:
        return self.gil_rate if mode in GIL_MODES else self.rate

    def start(self, timeout: float = 10.0) -> None:
        """Start the samplers and wait until each says it samples.

        py-spy starts its schedule once attached, so the baseline may begin at once: no
        burst of catching-up samples follows the word (counted in 25 ms slots of a
        spinning target, six runs: the first 50 ms held 0.9-1.1 x the mean). Samples
        taken before the baseline are dropped anyway: they are not inside a task."""
        self.cpu_seconds, self.seconds = -_children_cpu(), -time.monotonic()
        self.own_core = cores.cpu_count() >= 2
        for mode, flags in MODES.items():
            self.processes[mode] = subprocess.Popen(
                [self.binary, "record", "--pid", str(self.pid), "--nonblocking", "--threads",
                 "--format", "raw", "--rate", str(self.rate_of(mode)), "--duration", "86400",
                 "--output", str(self.directory / f"{mode}.txt"), *flags],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _share_one_core([process.pid for process in self.processes.values()])
        for mode, process in self.processes.items():
            self._wait_until_sampling(mode, process, timeout)

    def _wait_until_sampling(self, mode: str, process: subprocess.Popen[bytes],
                             timeout: float) -> None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        seen = b""
        deadline = time.monotonic() + timeout
        while b"Sampling process" not in seen:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:  # exited, or silent past the timeout
                self.kill()
                text = seen.decode("utf-8", "replace").strip().splitlines()
                message = text[-1] if text else f"py-spy ({mode}) did not start sampling"
                raise SamplingUnavailable(explain_failure(message))
            seen += chunk

    def stop(self, timeout: float = 15.0) -> None:
        """Ask every sampler to write its profile (SIGINT, like Ctrl-C) and wait for it."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        _until_closed([process.stdout for process in self.processes.values()], deadline)
        for process in self.processes.values():
            try:  # its output closed: it has written its profile and is exiting
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.cpu_seconds += _children_cpu()
        self.seconds += time.monotonic()
        self._close_pipes()

    def kill(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for process in self.processes.values():
            if process.stdout is not None and not process.stdout.closed:
                process.stdout.close()

    def directory_cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def shares(self, wall_seconds: float, labels: tuple[str, ...]) -> Shares:
        counts = {mode: read_raw(self.directory / f"{mode}.txt", labels) for mode in MODES}
        gil = sum((counts[mode] for mode in GIL_MODES), Counter())
        return combine(counts["idle"], counts["active"], gil,
                       expected=int(wall_seconds * self.rate),
                       gil_expected=wall_seconds * self.gil_rate * len(GIL_MODES))

    def short_of_cpu(self) -> str | None:
        """A note when the samplers kept their core so busy they may have fallen behind."""
        if self.seconds <= 0 or self.cpu_seconds <= BUSY_CORE * self.seconds:
            return None
        return (f"the py-spy samplers used {self.cpu_seconds / self.seconds:.0%} of the core "
                "they share: they may have fallen behind, and the shares be off (a lower "
                "--sampling-rate eases them)")


def _until_closed(pipes: list[IO[bytes] | None], deadline: float) -> None:
    """Read ``pipes`` until each is closed (its process exited) or ``deadline`` passes.
    ``Popen.wait`` with a timeout polls at growing intervals (up to 50 ms); the end of
    the output is seen at once."""
    fds = {pipe.fileno() for pipe in pipes if pipe is not None and not pipe.closed}
    while fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        ready, _, _ = select.select(list(fds), [], [], remaining)
        for fd in ready:
            if not os.read(fd, 65536):
                fds.discard(fd)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _share_one_core(pids: list[int]) -> None:
    """Keep the samplers together on one core (the last), so that on a small machine
    they wake on the core the scheduler keeps them on, not on the target's. The target
    itself stays free to use every core (native threads must still show up). Where
    there is only one core, the samplers take turns with the target."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return
        for pid in pids:
            os.sched_setaffinity(pid, {allowed[-1]})
    except (AttributeError, OSError):
        pass  # not Linux, or the sampler already exited: sampling works unpinned


def explain_failure(message: str) -> str:
    lowered = message.lower()
    if "permission" in lowered or "ptrace" in lowered or "operation not permitted" in lowered:
        return (f"py-spy may not read the child ({message}); allow it with "
                "'sudo sysctl kernel.yama.ptrace_scope=0', or run the container with "
                "'--cap-add SYS_PTRACE', or run concdoctor with sudo")
    return f"py-spy could not sample the child ({message}); reinstall it with 'pip install py-spy'"


def thread_labels(native_id: int, ident: int) -> tuple[str, ...]:
    """How py-spy names the worker thread: by native id, or (for Python 3.10 and older)
    by pthread id in hex."""
    return (f"thread ({native_id})", f"thread (0x{ident:X})")


def raw_stacks(path: Path, labels: tuple[str, ...]) -> Iterator[tuple[list[str], str]]:
    """Each stack py-spy wrote to the raw file ``path`` for the thread named by
    ``labels``: its frames (root first, without the thread) and its count; nothing when
    the file cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        stack, _, number = line.rpartition(" ")
        if stack.startswith(labels) and number.isdigit():
            yield stack.split(";")[1:], number


def read_raw(path: Path, labels: tuple[str, ...]) -> Counter[tuple[str, ...]]:
    """The worker thread's stacks while it ran tasks (frames root first) and their counts.

    Non-blocking reads sometimes truncate a stack to its innermost frames; such a stack
    still counts (it is a sample of the worker) unless it shows the child waiting, or
    shows concdoctor's own frames but no task (the child's work around the tasks). It
    gets back the task's root frame, which every task's stack starts with (see
    :func:`rooted`), so that the root's share is every sample's, in the flame graph and
    in the function table alike.
    """
    counts: Counter[tuple[str, ...]] = Counter()
    truncated: Counter[tuple[str, ...]] = Counter()
    for frames, number in raw_stacks(path, labels):
        if any(frame.startswith(_WAIT) for frame in frames):
            continue
        for index, frame in enumerate(frames):
            if frame.startswith(_TASK):
                frames = frames[index + 1:]
                break
        else:
            if any(own in frame for frame in frames for own in _OWN):
                continue  # the child between tasks: checking results, sizing data
            truncated[tuple(frames)] += int(number)
            continue
        while frames and _WRAPPER in frames[0]:
            frames = frames[1:]  # concdoctor's Task wrapper, between the task and the target
        counts[tuple(frames)] += int(number)
    return counts + rooted(truncated, counts)


def function_of(frame: str) -> str:
    """A frame without its line: ``"work (app.py:7)"`` is ``"work (app.py"``."""
    return frame.rpartition(":")[0] or frame


def rooted(truncated: Counter[tuple[str, ...]],
           whole: Counter[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    """Truncated stacks with the task's root frame put back where they lack it: the root
    most of the whole stacks start with (the target's function, at its most sampled
    line). Without whole stacks to tell the root, they stay as they are."""
    roots: Counter[str] = Counter()
    for frames, count in whole.items():
        if frames:
            roots[frames[0]] += count
    if not roots:
        return truncated
    by_function: Counter[str] = Counter()
    for frame, count in roots.items():
        by_function[function_of(frame)] += count
    function = by_function.most_common(1)[0][0]
    root = max((f for f in roots if function_of(f) == function), key=roots.__getitem__)
    repaired: Counter[tuple[str, ...]] = Counter()
    for frames, count in truncated.items():
        whole_already = frames and function_of(frames[0]) == function
        repaired[frames if whole_already else (root, *frames)] += count
    return repaired


def combine(idle_all: Counter[tuple[str, ...]], active: Counter[tuple[str, ...]],
            gil: Counter[tuple[str, ...]], *, expected: int = 0,
            gil_expected: float | None = None, keep: int = 300) -> Shares:
    """Shares from independent samplers' counts (idle, active, and the --gil ones summed).

    py-spy samples at exponentially distributed intervals, so each sampler's count over
    the baseline is Poisson with mean ``expected`` (rate x seconds) times the share of
    the state it keeps. Dividing by that known mean is less noisy than dividing by
    another sampler's count (for the idle and active shares, when the --idle sampler saw
    far fewer samples than expected, a starved or failing sampler, its count is the
    better denominator). The --gil sampler runs faster (``gil_expected`` samples in all
    states) and alone decides the GIL split: its share, and the ± of its Poisson count.
    Per-stack splits are differences of independent counts (the --gil one scaled to the
    others' rate), clamped at zero: good for a flame graph, while the totals carry the
    shares.
    """
    gil_expected = gil_expected or float(expected)
    total_all, total_active, total_gil = (sum(c.values()) for c in (idle_all, active, gil))
    low, high = STEADY_RATE
    denominator = expected if expected and low <= total_all / expected <= high else total_all
    denominator = max(denominator, 1)
    p_active = min(total_active / denominator, 1.0)
    gil_share = min(total_gil / gil_expected, 1.0) if gil_expected > 0 else 0.0
    p_gil = min(gil_share, p_active)
    scale = total_all or denominator
    ratio = expected / gil_expected if gil_expected > 0 and expected else 1.0
    stacks = []
    for frames in set(idle_all) | set(active) | set(gil):
        n_gil = round(gil[frames] * ratio)
        n_active = max(active[frames], n_gil)
        stacks.append(StackSamples(frames=frames, idle=max(idle_all[frames] - n_active, 0),
                                   gil=n_gil, released=n_active - n_gil))
    stacks.sort(key=lambda s: s.total, reverse=True)
    gil_n = round(p_gil * scale)
    active_n = round(p_active * scale)
    error = Z * math.sqrt(max(total_gil, 3)) / gil_expected if gil_expected > 0 else 1.0
    return Shares(idle=scale - active_n, gil=gil_n, released=active_n - gil_n,
                  stacks=tuple(stacks[:keep]), expected=expected, gil_estimate=gil_share,
                  gil_error=round(min(error, 1.0), 4))


def blend(fractions: tuple[float, float, float], busy_ratio: float,
          gil_estimate: float | None = None) -> (
        tuple[tuple[float, float, float], str | None]):
    """Shares that take the waiting from CPU accounting and the GIL split from py-spy.

    At 100 samples a second a one-second baseline gives each sampler about a hundred
    samples, so its share carries about 10 % of Poisson noise. The worker thread's CPU
    time (plus the time it queued for a CPU, ``busy_ratio``) measures how long it was
    active far more precisely, and it also corrects builds where py-spy reports a
    sleeping thread as active (Python 3.10 in ``time.sleep``). py-spy alone can tell
    GIL-held from GIL-released work: its GIL share (one Poisson count over the known
    expected count) is kept, capped by the active time, and the rest of the active time
    released the GIL.
    """
    idle, gil, released = fractions
    active = min(max(busy_ratio, 0.0), 1.0)
    sampled_active = gil + released
    if sampled_active <= 0:
        return fractions, None  # no active sample: nothing says what the CPU time did
    if gil_estimate is not None:  # samples owning the GIL prove the thread was running
        active = max(active, min(gil_estimate, 1.0))
    held = min(gil if gil_estimate is None else gil_estimate, active)
    blended = (1.0 - active, held, active - held)
    note = None
    if abs(sampled_active - active) > DISAGREEMENT:
        note = (f"py-spy saw the worker active {sampled_active:.0%} of the time, but it used "
                f"a CPU (or waited for one) {active:.0%} of the time; the shares follow the "
                "CPU time")
    return blended, note
