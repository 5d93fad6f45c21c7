"""What ``concdoctor run``'s call recorder costs a program of many small calls.

A word-counting program (a few hundred thousand calls of one- to ten-microsecond
functions, the worst case for a call recorder) runs in rounds of three in this
process: bare, with the recorder ``concdoctor run`` installs, bare again. The recorded
run is compared with the mean of its neighbours, so slow drifts of the machine fall on
both sides; the two bare runs compared with each other give the noise floor. The last
column is the recorder's own estimate, the one ``concdoctor run`` reports (its cost per
call, calibrated at start, times the calls it recorded), to check that estimate.

    python benchmarks/recorder_overhead.py [--words 200000] [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from concdoctor.program.recorder import Recorder, calibrate

WORDS = ("alpha", "Beta", "gamma", "DELTA", "epsilon", "zeta", "Eta", "theta")


def normalize(word: str) -> str:
    return word.strip().lower()


def is_vowel_word(word: str) -> bool:
    return word[:1] in "aeiou"


def weight(word: str) -> int:
    return len(word) + (2 if is_vowel_word(word) else 1)


def count(words: int) -> dict[str, int]:
    """The program: one loop of small calls, each making one or two more."""
    totals: dict[str, int] = {}
    for index in range(words):
        word = normalize(WORDS[index % len(WORDS)])
        totals[word] = totals.get(word, 0) + weight(word)
    return totals


def timed(words: int, recorder: Recorder | None) -> tuple[float, int, int]:
    """Seconds of one run, and the recorder's recorded calls and events in it."""
    if recorder is not None:
        recorder.install()
    started = time.perf_counter()
    try:
        count(words)
    finally:
        seconds = time.perf_counter() - started
        if recorder is not None:
            recorder.uninstall()
    if recorder is None:
        return seconds, 0, 0
    return seconds, recorder.calls(), recorder.events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    cost = calibrate()
    overheads, noise, estimates = [], [], []
    for _ in range(args.reps):
        before, _, _ = timed(args.words, None)
        recorded, calls, events = timed(args.words, Recorder())
        after, _, _ = timed(args.words, None)
        bare = (before + after) / 2
        overheads.append(recorded / bare - 1)
        noise.append(abs(after / before - 1))
        # the program only runs Python: all of its recorded time is bytecode time
        estimate = min(cost.seconds(calls, events, recorded), 0.95 * recorded)
        estimates.append(estimate / (recorded - estimate))
    backend = Recorder().backend
    print(f"Python {sys.version.split()[0]}, recorder on {backend}, {args.words:,} words "
          f"({3 * args.words:,} calls), {args.reps} rounds")
    print(f"{'measured overhead':>20} {'noise floor':>12} {'run estimate':>13}")
    print(f"{statistics.median(overheads):>20.1%} {statistics.median(noise):>12.1%} "
          f"{statistics.median(estimates):>13.1%}")


if __name__ == "__main__":
    main()
