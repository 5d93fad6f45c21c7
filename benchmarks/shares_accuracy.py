"""How close are the idle / GIL-held / GIL-released shares to the truth?

Each task of a batch mixes three parts in known proportions: pure-Python work that
holds the GIL (a loop), C work that releases it (``hashlib`` over a 1 MiB buffer) and
waiting (``time.sleep``). The child calibrates the loop and the hash (inside the inputs
function, so before the baseline starts), and each task times its own parts with
``perf_counter``: the truth of a run is those measured durations, so a machine that
slows one part down moves the truth with it instead of counting as an error.

Every run is a real ``concdoctor.api.profile(..., confirm=False)`` diagnosis: the shares
are ``diagnosis.evidence``'s, exactly what a user would be shown. Sampled and unsampled
(``sampling=False``) diagnoses alternate in random order, and the ratio of their
baseline wall times is the sampling overhead. Run from the repository root:

    python benchmarks/shares_accuracy.py [--reps 5] [--lengths 0.5,1,2] [--rate 100]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
CASE_ENV = "CONCDOCTOR_SHARES_CASE"
LOG_ENV = "CONCDOCTOR_SHARES_LOG"
TASK_SECONDS = 0.05
SLICES = 5
"""Each task alternates its parts in this many slices (10 ms each)."""
CHUNK = 1 << 20
MIXES = {  # name: (idle, GIL-held, GIL-released)
    "pure Python": (0.0, 1.0, 0.0),
    "pure released": (0.0, 0.0, 1.0),
    "pure idle": (1.0, 0.0, 0.0),
    "50/50 GIL/released": (0.0, 0.5, 0.5),
    "three-way": (0.3, 0.45, 0.25),
}
TARGET_ERROR = 0.05
SHARE_NAMES = ("idle", "GIL", "released")

# -- the workload: runs in concdoctor's child ------------------------------------------------

_state: dict[str, Any] = {}


def spin(n: int) -> int:
    """Pure Python: holds the GIL throughout."""
    total = 0
    for i in range(n):
        total += i
    return total


def hash_released(n: int) -> None:
    """sha256 over 1 MiB at a time: the GIL is released while each chunk is hashed."""
    digest = hashlib.sha256()
    for _ in range(n):
        digest.update(_state["buffer"])


def calibrate() -> dict[str, float]:
    """Seconds per loop step and per hashed chunk (median of five timings)."""
    _state["buffer"] = os.urandom(CHUNK)
    seconds = {}
    for name, func, n in (("spin", spin, 300_000), ("hash", hash_released, 8)):
        func(n)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            func(n)
            times.append(time.perf_counter() - start)
        seconds[name] = statistics.median(times) / n
    return seconds


def make_tasks() -> list[list[float]]:
    """The inputs (``--inputs-from``): calibrates, then one [idle, gil, released] per task."""
    idle, gil, released, length = (float(x) for x in os.environ[CASE_ENV].split(","))
    _state["per_step"] = calibrate()
    return [[idle, gil, released]] * max(1, round(length / TASK_SECONDS))


def mixed(shares: list[float]) -> int:
    """One task: idle / GIL-held / GIL-released parts, each timed; the times are logged."""
    per_step = _state["per_step"]
    idle, gil, released = (share * TASK_SECONDS / SLICES for share in shares)
    parts = [0.0, 0.0, 0.0]
    for _ in range(SLICES):
        t0 = time.perf_counter()
        if gil:
            spin(int(gil / per_step["spin"]))
        t1 = time.perf_counter()
        if released:
            hash_released(max(1, round(released / per_step["hash"])))
        t2 = time.perf_counter()
        if idle:
            time.sleep(idle)
        t3 = time.perf_counter()
        parts[0] += t3 - t2
        parts[1] += t1 - t0
        parts[2] += t2 - t1
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:  # outside the timed parts
        log.write(" ".join(map(str, parts)) + "\n")
    return 0


# -- the measurement: runs here ---------------------------------------------------------------

Shares = tuple[float, float, float]


@dataclass
class Run:
    truth: Shares
    wall: float
    measured: Shares | None = None
    samples: int = 0
    reported: float = 0.0
    """The ± the report gives on the GIL split."""


def read_truth(log: Path, tasks: int) -> Shares:
    """The baseline's own parts: its tasks come first (yappi runs a few more after it)."""
    rows = [list(map(float, line.split())) for line in log.read_text().splitlines()[:tasks]]
    totals = [sum(column) for column in zip(*rows)]
    whole = sum(totals) or 1.0
    return totals[0] / whole, totals[1] / whole, totals[2] / whole


def diagnose(mix: Shares, length: float, sampled: bool, rate: int, log: Path) -> Run:
    from concdoctor import api

    os.environ[CASE_ENV] = ",".join(map(str, (*mix, length)))
    log.write_text("")
    diagnosis = api.profile(f"{HERE}:mixed", inputs_from=f"{HERE}:make_tasks", confirm=False,
                            sampling=sampled, rate=rate)
    evidence = diagnosis.evidence
    if evidence is None:
        raise SystemExit(f"no evidence: {diagnosis.failure}")
    run = Run(read_truth(log, max(1, round(length / TASK_SECONDS))), evidence.wall_seconds)
    if sampled and evidence.idle_fraction is not None:
        run.measured = (evidence.idle_fraction, evidence.gil_fraction or 0.0,
                        evidence.released_fraction or 0.0)
        run.samples, run.reported = evidence.samples, evidence.shares_error or 0.0
    return run


def measure(mix: Shares, length: float, reps: int, rate: int, log: Path) -> tuple[
        list[Run], list[float]]:
    """``reps`` sampled runs, and as many unsampled ones, interleaved in random order."""
    sampled: list[Run] = []
    plain: list[float] = []
    for _ in range(reps):
        for with_sampling in random.sample([True, False], 2):
            run = diagnose(mix, length, with_sampling, rate, log)
            if with_sampling:
                sampled.append(run)
            else:
                plain.append(run.wall)
    return sampled, plain


def errors(run: Run) -> Shares | None:
    if run.measured is None:
        return None
    i, g, r = (m - t for m, t in zip(run.measured, run.truth))
    return i, g, r


def fmt(shares: Shares, digits: int = 2) -> str:
    return "/".join(f"{value:.{digits}f}" for value in shares)


def mean_shares(rows: list[Shares]) -> Shares:
    i, g, r = (statistics.mean(column) for column in zip(*rows))
    return i, g, r


def row(name: str, runs: list[Run], plain: list[float]) -> tuple[str, int, int]:
    """One table row; also how many runs kept every share within TARGET_ERROR."""
    measured = [run for run in runs if run.measured is not None]
    if not measured:
        return f"| {name} | {fmt(mean_shares([r.truth for r in runs]))} | degraded |", 0, 0
    errs = [e for e in map(errors, measured) if e is not None]
    abs_mean = mean_shares([(abs(i), abs(g), abs(r)) for i, g, r in errs])
    worst_run, worst_share = max(((k, j) for k in range(len(errs)) for j in range(3)),
                                 key=lambda kj: abs(errs[kj[0]][kj[1]]))
    worst = errs[worst_run][worst_share]
    within = sum(max(map(abs, e)) <= TARGET_ERROR for e in errs)
    honest = sum(abs(e[1]) <= r.reported for e, r in zip(errs, measured))
    overhead = statistics.median(r.wall for r in runs) / statistics.median(plain)
    samples = statistics.mean(r.samples for r in measured)
    text = (f"| {name} | {fmt(mean_shares([r.truth for r in measured]))} | "
            f"{fmt(mean_shares([r.measured for r in measured if r.measured]))} | "
            f"{fmt(abs_mean, 3)} | {worst:+.3f} ({SHARE_NAMES[worst_share]}) | "
            f"±{statistics.mean(r.reported for r in measured):.3f} ({honest}/{len(errs)}) | "
            f"{samples:.0f} | "
            f"{within}/{len(errs)} | x{overhead:.3f} |")
    return text, within, len(errs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--lengths", default="0.5,1,2", help="batch seconds, comma-separated")
    parser.add_argument("--rate", type=int, default=100, help="concdoctor's sampling rate")
    parser.add_argument("--mixes", default=",".join(MIXES), help="comma-separated names")
    args = parser.parse_args()
    lengths = [float(x) for x in args.lengths.split(",")]
    print(f"load at start: {Path('/proc/loadavg').read_text().split()[:3]}, "
          f"{os.cpu_count()} cores, {args.reps} reps, rate {args.rate}")
    print("\n| case | truth idle/GIL/released | mean measured | mean abs error | worst error | "
          "reported ± on the GIL split (truth within it) | samples | runs within 0.05 | "
          "wall sampled/unsampled |")
    print("|---|---|---|---|---|---|---|---|---|")
    good = total = 0
    with tempfile.TemporaryDirectory(prefix="shares-") as tmp:
        os.environ[LOG_ENV] = str(Path(tmp) / "parts.txt")
        for length in lengths:
            for name in args.mixes.split(","):
                runs, plain = measure(MIXES[name], length, args.reps, args.rate,
                                      Path(os.environ[LOG_ENV]))
                text, within, count = row(f"{name}, {length:g} s", runs, plain)
                good, total = good + within, total + count
                print(text, flush=True)
    print(f"\n{good}/{total} runs had every share within {TARGET_ERROR}; load at end: "
          f"{Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
