"""Does ``concdoctor run``'s prediction for a program's loop hold once the loop is changed?

For each example program, at a size where the capture takes a sample of the loop's
calls (so that the loop's time on the advice is predicted, not measured on all of
them), in ``--reps`` rounds: ``concdoctor run`` it through the API and keep the
predicted time of the loop, sequential and on the advice; then time the loop itself, in
copies of the program with a timer around the loop's lines: the program as it is, and
the program with the loop replaced by the rewrite the report gives (its imports added at
the top). Each round's prediction is compared with that round's measurement, so that the
machine's slow drifts fall on both; the table gives the medians and their ranges, and
the median and range of the prediction's errors. Where the advice is to stay sequential
there is no rewrite: the sequential prediction is the one checked.

    python benchmarks/loop_prediction.py [--reps 5] [fetch_loop cpu_loop ...]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from concdoctor import api
from concdoctor.program.report import ProgramReport

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {
    "fetch_loop": ["400"],   # 400 waits of 30 ms; 120 captured
    "cpu_loop": ["160"],     # 160 pure-Python calls of about 15 ms
    "shared_loop": ["300"],  # 300 waits that add to a shared total
}
TIMER = "__concdoctor_loop_started"


def timed_copy(source: str, first: int, last: int, replacement: str | None,
               imports: tuple[str, ...]) -> str:
    """The program with a timer around lines ``first``-``last`` (replaced by
    ``replacement`` when given), printing ``LOOP <seconds>`` to stderr."""
    lines = source.splitlines()
    indent = re.match(r"\s*", lines[first - 1]).group(0)
    body = replacement.rstrip("\n").splitlines() if replacement else lines[first - 1:last]
    timed = [f"{indent}{TIMER} = __import__('time').perf_counter()", *body,
             f"{indent}__import__('sys').stderr.write("
             f"f\"LOOP {{__import__('time').perf_counter() - {TIMER}}}\\n\")"]
    lines[first - 1:last] = timed
    at = max((index + 1 for index, line in enumerate(lines)
              if line.startswith("from __future__")), default=0)
    lines[at:at] = list(imports)
    return "\n".join(lines) + "\n"


def loop_seconds(script: Path, args: list[str]) -> float:
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, timeout=600, check=True, cwd=ROOT)
    found = re.findall(r"^LOOP ([0-9.e-]+)$", done.stderr, re.MULTILINE)
    if not found:
        raise RuntimeError(f"{script.name} printed no loop time:\n{done.stderr[-2000:]}")
    return float(found[-1])


def predicted(report: ProgramReport) -> tuple[float, float, str]:
    d = report.diagnosis
    assert d is not None and d.recommendation is not None, report.not_diagnosed
    if d.prediction is None:
        raise RuntimeError("all the calls were captured: nothing was predicted")
    return d.prediction.sequential_seconds, d.prediction.recommended_seconds, \
        d.recommendation.executor


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def measured(name: str, args: list[str]) -> tuple[float, float, str, str | None,
                                                  float, float | None]:
    """One round: the run's predictions (sequential, advised), the advice, why the loop
    was not rewritten, and the loop's time as it is and rewritten."""
    path = ROOT / "examples" / "programs" / f"{name}.py"
    report = api.run_program([str(path.relative_to(ROOT)), *args], seed=1)
    sequential, advised, executor = predicted(report)
    top = report.diagnosed
    assert top is not None
    source = path.read_text(encoding="utf-8")
    rewrite = report.rewrite
    first, last = ((rewrite.first_line, rewrite.last_line) if rewrite else
                   (int(top.loop.rpartition(":")[2]), top.site_line))
    with tempfile.TemporaryDirectory() as tmp:
        original = Path(tmp) / f"{name}_timed.py"
        original.write_text(timed_copy(source, first, last, None, ()), encoding="utf-8")
        before = loop_seconds(original, args)
        after = None
        if rewrite is not None:
            changed = Path(tmp) / f"{name}_rewritten.py"
            changed.write_text(timed_copy(source, first, last, rewrite.after, rewrite.imports),
                               encoding="utf-8")
            after = loop_seconds(changed, args)
    refused = None if rewrite else (report.rewrite_refused or "stays sequential")
    return sequential, advised, executor, refused, before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("names", nargs="*", default=list(PROGRAMS))
    options = parser.parse_args()
    print("| program | advice | loop, sequential s: predicted / measured | loop on the "
          "advice s: predicted / measured | error (median) | errors (range) |")
    print("|---|---|---|---|---|---|")
    for name in options.names:
        args = PROGRAMS[name]
        rounds = [measured(name, args) for _ in range(options.reps)]
        executor, refused = rounds[-1][2], rounds[-1][3]
        seq_predicted = [each[0] for each in rounds]
        seq_measured = [each[4] for each in rounds]
        if refused is not None:
            errors = [each[0] / each[4] - 1 for each in rounds]
            checked = "–"
            executor = f"{executor} (no rewrite: {refused})"
        else:
            errors = [each[1] / each[5] - 1 for each in rounds]
            checked = (f"{spread([each[1] for each in rounds])} / "
                       f"{spread([each[5] for each in rounds])}")
        print(f"| {name} {' '.join(args)} | {executor} | {spread(seq_predicted)} / "
              f"{spread(seq_measured)} | {checked} | {statistics.median(errors):+.0%} | "
              f"{min(errors):+.0%} to {max(errors):+.0%} |", flush=True)


if __name__ == "__main__":
    main()
