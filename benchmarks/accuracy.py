"""Is the recommended executor the fastest? Measured independently, side by side.

For each workload in ``workloads.py``: run the full diagnosis, then, in a fresh child,
measure every applicable executor at several worker counts and the recommended
configuration itself: one trial each, then four more rounds over those within 1.5x of
the best, median. The advice is right when its time is within 10 % of the fastest
configuration measured. The oracle times process pools at 1, 2, 4 and 8
times the cores, threads past 64 (up to one per task), chunked pools for short tasks,
and hybrid pools (P processes x T calls each).

    python benchmarks/accuracy.py            # every workload
    python benchmarks/accuracy.py --mixed    # the mixed-work ones only
    python benchmarks/accuracy.py collatz    # the workloads named
"""

from __future__ import annotations

import os
import socketserver
import statistics
import sys
import threading
import time
from pathlib import Path

from concdoctor import api, protocol, runner
from concdoctor.target import InputSpec, Job, TargetSpec

HERE = Path(__file__).resolve().parent
CASES = [
    ("child_process", list(range(8)), False),
    ("socket_request", list(range(16)), False),
    ("socket_request_async", list(range(120)), True),
    ("pbkdf2", list(range(8)), False),
    ("lzma_compress", list(range(8)), False),
    ("bz2_compress", list(range(6)), False),
    ("json_roundtrip", list(range(8)), False),
    ("regex_scan", list(range(8)), False),
    ("collatz", [1 + 60_000 * i for i in range(8)], False),
    ("tiny", list(range(500)), False),
]
MIXED = [
    ("fetch_then_parse", list(range(100)), False),
    ("await_then_compute", list(range(100)), True),
    ("short_wait", list(range(600)), False),
    ("gzip_program", list(range(40)), False),
    ("tiny_python", list(range(20_000)), False),
]
Config = tuple[str, int, int, int]
"""executor, workers, chunk size, calls per worker."""


def configs(tasks: int, cores: int, is_async: bool) -> list[Config]:
    """What the oracle times: plain pools at several sizes, past the cores and past 64
    threads, chunked when the batch is large, and hybrid shapes."""
    sizes = sorted({w for w in (2, 8, 32, 64, 256, tasks) if w <= tasks})
    chunk = max(1, tasks // (4 * cores)) if tasks >= 1000 else 1
    found: list[Config] = [("sequential", 1, 1, 1)]
    found += [("thread", w, 1, 1) for w in sizes]
    found += [("process", m * cores, chunk, 1) for m in (1, 2, 4, 8) if m * cores <= tasks]
    found += [("hybrid", p, max(t, tasks // (2 * p)), t) for p in (cores, 2 * cores)
              for t in (4, 16) if p * t <= tasks]
    return found + ([("asyncio", min(tasks, 1000), 1, 1)] if is_async else [])


class SlowEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = self.request.recv(64)
        time.sleep(0.05)  # a server that takes 50 ms to answer
        self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    request_queue_size = 512  # the default backlog of 5 drops bursts of connections


def start_server() -> None:
    server = Server(("127.0.0.1", 0), SlowEcho)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["ECHO_PORT"] = str(server.server_address[1])


def label(config: Config) -> str:
    executor, workers, chunksize, inner = config
    return (f"{executor}x{workers}" + (f"x{inner}" if inner > 1 else "")
            + (f"/{chunksize}" if chunksize > 1 else ""))


IN_THE_RUNNING = 1.5
"""After one trial each, configurations this much slower than the best get no more."""
ROUNDS = 5
"""Trials of each configuration in the running, one round over all of them at a time."""


def measure(name: str, items: list[int], todo: list[Config],
            advice: Config) -> dict[str, list[float]]:
    """Seconds of each trial per configuration: one trial each, then more rounds over
    those in the running (and always the advice)."""
    job = Job(TargetSpec.parse(f"workloads:{name}"), InputSpec(items=tuple(items)),
              extra_sys_path=(str(HERE),))
    seconds: dict[Config, list[float]] = {}
    with runner.spawn(job) as child:
        child.ask(None, protocol.Ready, 60)

        def trial(config: Config) -> None:
            executor, workers, chunksize, inner = config
            answer = child.ask(protocol.RunTrial(executor, workers, chunksize,
                                                 inner_workers=inner), protocol.TrialDone, 300)
            if answer.seconds is not None:
                seconds.setdefault(config, []).append(answer.seconds)

        for config in dict.fromkeys([*todo, advice]):
            trial(config)
        best = min(times[0] for times in seconds.values())
        running = [config for config, times in seconds.items()
                   if config == advice or times[0] <= IN_THE_RUNNING * best]
        # Round by round, not config by config: the host's slow and fast phases (they
        # last seconds to minutes here) then fall on every configuration alike.
        for _ in range(ROUNDS - 1):
            for config in running:
                trial(config)
    return {label(config): times for config, times in seconds.items()}


def spread(times: list[float]) -> str:
    """The median and, over several trials, their range."""
    median = f"{statistics.median(times):.3f}"
    return median if len(times) < 2 else f"{median} [{min(times):.3f}-{max(times):.3f}]"


def main() -> None:
    start_server()
    sys.path.insert(0, str(HERE))
    named = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    cases = MIXED if "--mixed" in sys.argv else CASES + MIXED
    cases = [case for case in cases if not named or case[0] in named]
    print("| workload | kind | advice | advice s | fastest measured | fastest s | regret |")
    print("|---|---|---|---|---|---|---|")
    right = 0
    for name, items, is_async in cases:
        diagnosis = api.profile(f"{HERE / 'workloads.py'}:{name}", inputs=items)
        rec = diagnosis.recommendation
        advice: Config = ((rec.executor, rec.workers, rec.chunksize, rec.inner_workers)
                          if rec else ("sequential", 1, 1, 1))
        cores = diagnosis.environment.cpu_count
        trials = measure(name, items, configs(len(items), cores, is_async), advice)
        times = {config: statistics.median(each) for config, each in trials.items()}
        key = label(advice)
        fastest = min(times, key=times.__getitem__)
        regret = times[key] / times[fastest]
        right += regret <= 1.1
        print(f"| {name} | {diagnosis.kind} | {key} | {spread(trials[key])} | {fastest} | "
              f"{spread(trials[fastest])} | {regret:.2f} |", flush=True)
    print(f"\n{right}/{len(cases)} recommendations within 10 % of the fastest measured")


if __name__ == "__main__":
    main()
