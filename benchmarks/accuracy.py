"""Is the recommended executor the fastest? Measured independently, side by side.

For each workload in ``workloads.py``: run the full diagnosis, then, in a fresh child,
measure every applicable executor at several worker counts (3 trials each, median) and
the recommended configuration itself. The advice is right when its time is within 10 %
of the fastest configuration measured.

    python benchmarks/accuracy.py
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
CONFIGS = [("sequential", 1), ("thread", 2), ("thread", 8), ("thread", 32), ("process", 2),
           ("process", 4)]


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


def measure(name: str, items: list[int], configs: list[tuple[str, int]]) -> dict[str, float]:
    job = Job(TargetSpec.parse(f"workloads:{name}"), InputSpec(items=tuple(items)),
              extra_sys_path=(str(HERE),))
    times: dict[str, float] = {}
    with runner.spawn(job) as child:
        child.ask(None, protocol.Ready, 60)
        for executor, workers in configs:
            seconds = []
            for _ in range(3):
                answer = child.ask(protocol.RunTrial(executor, workers), protocol.TrialDone, 300)
                if answer.seconds is None:
                    break
                seconds.append(answer.seconds)
            if seconds:
                times[f"{executor}x{workers}"] = statistics.median(seconds)
    return times


def main() -> None:
    start_server()
    sys.path.insert(0, str(HERE))
    print("| workload | kind | advice | advice s | fastest measured | fastest s | within 10 % |")
    print("|---|---|---|---|---|---|---|")
    right = 0
    for name, items, is_async in CASES:
        diagnosis = api.profile(f"{HERE / 'workloads.py'}:{name}", inputs=items)
        advice = (diagnosis.executor or "sequential", diagnosis.workers or 1)
        configs = CONFIGS + ([("asyncio", 1000)] if is_async else [])
        times = measure(name, items, configs + [advice])
        key = f"{advice[0]}x{advice[1]}"
        fastest = min(times, key=times.__getitem__)
        ok = times[key] <= 1.1 * times[fastest]
        right += ok
        print(f"| {name} | {diagnosis.kind} | {key} | {times[key]:.3f} | {fastest} | "
              f"{times[fastest]:.3f} | {'yes' if ok else 'NO'} |", flush=True)
    print(f"\n{right}/{len(CASES)} recommendations within 10 % of the fastest measured")


if __name__ == "__main__":
    main()
