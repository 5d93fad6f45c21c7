"""Evidence -> kind of bottleneck, with a confidence. A pure function over plain data.

The primary signal is what py-spy saw the worker thread doing (idle, running while
owning the GIL, running without it): GIL ownership, not the language of the code, is
what decides whether threads can run it in parallel. CPU accounting confirms or
weakens that reading; when sampling was unavailable it is all there is.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdoctor.diagnosis import Classification, Evidence

DOMINANT_SHARE = 0.6
"""A state holding this share of the samples names the kind; below it, ``mixed``."""
PARALLEL_CPU_RATIO = 1.4
"""Process CPU seconds per wall second above which native code already uses cores."""
TINY_BATCH_SECONDS = 0.05
"""A whole batch shorter than this cannot pay for starting any pool."""
TINY_TASK_SECONDS = 0.0001
"""Below this median, a thread pool's per-task hand-off (tens of microseconds) eats the
gain; only pure-Python CPU work can still be batched into process chunks."""
STARVED_SHARE = 0.3
"""Time waiting for a CPU as a share of wall time that makes CPU ratios unreliable."""


@dataclass(frozen=True)
class Activity:
    """The three shares of the worker thread's samples; ``None`` when not measured."""

    idle: float
    gil: float
    released: float

    @classmethod
    def of(cls, evidence: Evidence) -> Activity | None:
        if evidence.idle_fraction is None or evidence.gil_fraction is None:
            return None
        return cls(evidence.idle_fraction, evidence.gil_fraction,
                   evidence.released_fraction or 0.0)


def classify(evidence: Evidence, *, cpu_count: int, run_delay_seconds: float = 0.0) -> (
        Classification):
    """The kind of bottleneck of a batch, from its baseline evidence."""
    signals: list[str] = []
    if evidence.wall_seconds < TINY_BATCH_SECONDS:
        # Checked first: over a few milliseconds, CPU accounting is too coarse to read.
        signals.append(f"the whole batch took {evidence.wall_seconds * 1000:.1f} ms: less "
                       "than starting a pool costs")
        return Classification("overhead_bound", 0.9, tuple(signals))
    if cpu_count > 1 and evidence.cpu_ratio >= PARALLEL_CPU_RATIO:
        confidence = min(0.95, 0.6 + (evidence.cpu_ratio - PARALLEL_CPU_RATIO) / 2)
        signals.append(f"the process used {evidence.cpu_ratio:.2f} CPU seconds per wall "
                       "second: native code already runs on several cores")
        return Classification("already_parallel", round(confidence, 2), tuple(signals))
    activity = Activity.of(evidence)
    kind, confidence = (_from_samples(activity, evidence, signals) if activity
                        else _from_cpu_time(evidence, signals))
    if run_delay_seconds > STARVED_SHARE * evidence.wall_seconds > 0:
        confidence *= 0.8
        signals.append(f"the worker waited {run_delay_seconds:.2f} s for a CPU: the machine "
                       "is busy, so CPU ratios understate the work")
    tiny = _too_small(evidence, kind)
    if tiny:
        signals.append(tiny)
        return Classification("overhead_bound", round(max(confidence, 0.7), 2), tuple(signals))
    return Classification(kind, round(confidence, 2), tuple(signals))


def _from_samples(activity: Activity, evidence: Evidence, signals: list[str]) -> (
        tuple[str, float]):
    signals.append(f"py-spy: {activity.idle:.0%} idle, {activity.gil:.0%} running with the "
                   f"GIL, {activity.released:.0%} running without it "
                   f"({evidence.samples} samples)")
    shares = {"io_bound": activity.idle, "python_cpu_bound": activity.gil,
              "gil_released_c": activity.released}
    kind, share = max(shares.items(), key=lambda pair: pair[1])
    if share < DOMINANT_SHARE:
        return "mixed", round(1 - share, 2)
    confidence = share
    ratio = evidence.thread_cpu_ratio
    expected_busy = kind != "io_bound"
    agrees = (ratio >= 0.5) if expected_busy else (ratio <= 0.5)
    if agrees:
        signals.append(f"CPU time agrees: the worker thread was on a CPU {ratio:.0%} of "
                       "the wall time")
    else:
        confidence *= 0.75
        signals.append(f"CPU time disagrees: the worker thread was on a CPU {ratio:.0%} of "
                       "the wall time")
    if evidence.samples < 20:
        confidence *= 0.7
        signals.append(f"only {evidence.samples} samples: a short batch gives a rough picture")
    return kind, min(confidence, 0.99)


def _from_cpu_time(evidence: Evidence, signals: list[str]) -> tuple[str, float]:
    """Without samples: CPU time tells waiting from working, not GIL from no GIL."""
    ratio = evidence.thread_cpu_ratio
    signals.append(f"no py-spy samples; the worker thread was on a CPU {ratio:.0%} of "
                   "the wall time")
    if ratio <= 0.3:
        return "io_bound", round(0.8 - ratio, 2)
    if ratio >= 0.7:
        signals.append("without samples, GIL-holding and GIL-releasing work look alike; "
                       "assuming Python bytecode (processes help either way)")
        return "python_cpu_bound", 0.5
    return "mixed", 0.5


def _too_small(evidence: Evidence, kind: str) -> str | None:
    if evidence.task_seconds_median < TINY_TASK_SECONDS and kind != "python_cpu_bound":
        return (f"the median task took {evidence.task_seconds_median * 1e6:.0f} µs: less "
                "than a pool needs to hand a task to a worker")
    return None
