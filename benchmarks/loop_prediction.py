"""Does ``concdoctor run``'s prediction for a program's loop hold once the loop is changed?

For each example program, at a size where the capture takes a sample of the loop's
calls (so that the loop's time on the advice is predicted, not measured on all of
them): ``concdoctor run`` it through the API and keep the predicted time of the loop,
sequential and on the advice. Then time the loop itself, in copies of the program with
a timer around the loop's lines: the program as it is, and the program with the loop
replaced by the rewrite the report gives (its imports added at the top). The copies run
in turn, ``--reps`` times each; the table gives the medians, their range, and the
prediction's error against the median. Where the advice is to stay sequential there is
no rewrite: the sequential prediction is the one checked.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("names", nargs="*", default=list(PROGRAMS))
    options = parser.parse_args()
    print("| program | advice | loop, sequential s: predicted / measured (range) | "
          "loop on the advice s: predicted / measured (range) | error |")
    print("|---|---|---|---|---|")
    for name in options.names:
        path = ROOT / "examples" / "programs" / f"{name}.py"
        args = PROGRAMS[name]
        report = api.run_program([str(path.relative_to(ROOT)), *args], seed=1)
        sequential, advised, executor = predicted(report)
        top = report.diagnosed
        assert top is not None
        source = path.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rewrite = report.rewrite
            first, last = ((rewrite.first_line, rewrite.last_line) if rewrite else
                           (int(top.loop.rpartition(":")[2]), top.site_line))
            original = folder / f"{name}_timed.py"
            original.write_text(timed_copy(source, first, last, None, ()), encoding="utf-8")
            changed = folder / f"{name}_rewritten.py"
            if rewrite is not None:
                changed.write_text(timed_copy(source, first, last, rewrite.after,
                                              rewrite.imports), encoding="utf-8")
            before, after = [], []
            for _ in range(options.reps):  # in turn, so that drifts fall on both
                before.append(loop_seconds(original, args))
                if rewrite is not None:
                    after.append(loop_seconds(changed, args))
        if rewrite is None:
            error = sequential / statistics.median(before) - 1
            print(f"| {name} {' '.join(args)} | {executor} (no rewrite: "
                  f"{report.rewrite_refused or 'stays sequential'}) | {sequential:.3f} / "
                  f"{spread(before)} | – | {error:+.0%} (sequential) |")
            continue
        error = advised / statistics.median(after) - 1
        print(f"| {name} {' '.join(args)} | {executor} | {sequential:.3f} / {spread(before)} | "
              f"{advised:.3f} / {spread(after)} | {error:+.0%} |", flush=True)


if __name__ == "__main__":
    main()
