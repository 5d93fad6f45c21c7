"""How close the prediction for a whole batch is to a run of the whole batch.

Each batch is diagnosed on a sample (the budget makes it sample); then the snippet the
report gives, the advice applied to the user's own call, runs the *whole* batch in a
fresh interpreter and is timed. The error is the predicted advised time against that
measured one; the target is within 25 %.

Pure-Python work on this shared host runs up to 20 % faster or slower from one minute
to the next, so each batch is diagnosed and run ``--reps`` times (3 by default); the
table gives the medians and the range of the errors.

    python benchmarks/prediction.py [--reps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from concdoctor import api
from concdoctor.diagnosis import Prediction

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    # target, inputs, budget: each batch is well past its budget
    ("examples.big_batches:fetch", "examples.big_batches:URLS", 30),
    ("examples.big_batches:simulate", "examples.big_batches:SEEDS", 20),
    ("examples.io_threads:worker", "benchmarks.prediction_inputs:WAITS", 5),
    ("examples.hashing:sha256_digest", "benchmarks.prediction_inputs:HASHES", 8),
    ("examples.factorize:factorize", "benchmarks.prediction_inputs:PRIMES", 8),
]
HARNESS = '''
import json, sys, time
snippet = {snippet!r}
start = time.perf_counter()
exec(compile(snippet, "snippet", "exec"), {{"__name__": "__main__"}})
print(json.dumps(time.perf_counter() - start))
'''


def run_whole(snippet: str) -> float:
    """The snippet, timed in a fresh interpreter (imports done first, as in its module)."""
    imports = "\n".join(line for line in snippet.splitlines()
                        if line.startswith(("import ", "from ", "sys.path")))
    code = textwrap.dedent(imports) + "\n" + HARNESS.format(snippet=snippet)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def one_rep(target: str, inputs: str, budget: float) -> tuple[Prediction, str, float] | str:
    """(the prediction, the advice, the whole batch measured), or why there is none."""
    d = api.profile(target, inputs_from=inputs, budget=budget)
    p, rec = d.prediction, d.recommendation
    if p is None or rec is None or rec.snippet is None:
        return f"not sampled or no advice: {d.failure}"
    return p, f"{rec.executor} × {rec.workers}", run_whole(rec.snippet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    reps = parser.parse_args().reps
    sys.path.insert(0, str(ROOT))
    print("| batch | tasks | sample | advice | predicted s (interval) | measured s | "
          "error (median) | errors (range) |")
    print("|---|---|---|---|---|---|---|---|")
    for target, inputs, budget in CASES:
        runs = [one_rep(target, inputs, budget) for _ in range(reps)]
        done = [run for run in runs if not isinstance(run, str)]
        if not done:
            print(f"| {target} | {runs[0]} | | | | | | |", flush=True)
            continue
        errors = [(p.recommended_seconds - measured) / measured for p, _, measured in done]
        middle = sorted(done, key=lambda run: run[0].recommended_seconds)[len(done) // 2][0]
        advice = " / ".join(sorted({run[1] for run in done}))
        print(f"| {target} | {middle.tasks} | {middle.sampled_tasks} | {advice} | "
              f"{middle.recommended_seconds:.2f} ({middle.low:.2f}–{middle.high:.2f}) | "
              f"{statistics.median(run[2] for run in done):.2f} | "
              f"{statistics.median(errors):+.0%} | {min(errors):+.0%} to {max(errors):+.0%} |",
              flush=True)


if __name__ == "__main__":
    main()
