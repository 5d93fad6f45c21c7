"""How close the prediction for a whole batch is to a run of the whole batch.

Each batch is diagnosed on a sample (the budget makes it sample); then the snippet the
report gives, the advice applied to the user's own call, runs the *whole* batch in a
fresh interpreter and is timed. The error is the predicted advised time against that
measured one; the target is within 25 %.

    python benchmarks/prediction.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from concdoctor import api

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


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print("| batch | tasks | sample | advice | predicted s (interval) | measured s | error |")
    print("|---|---|---|---|---|---|---|")
    for target, inputs, budget in CASES:
        d = api.profile(target, inputs_from=inputs, budget=budget)
        p, rec = d.prediction, d.recommendation
        if p is None or rec is None or rec.snippet is None:
            print(f"| {target} | not sampled or no advice: {d.failure} |", flush=True)
            continue
        measured = run_whole(rec.snippet)
        error = (p.recommended_seconds - measured) / measured
        print(f"| {target} | {p.tasks} | {p.sampled_tasks} | {rec.executor} × {rec.workers} | "
              f"{p.recommended_seconds:.2f} ({p.low:.2f}–{p.high:.2f}) | {measured:.2f} | "
              f"{error:+.0%} |", flush=True)


if __name__ == "__main__":
    main()
