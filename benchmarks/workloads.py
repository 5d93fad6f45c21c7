"""Workloads the examples do not cover, for the accuracy benchmark.

Standard-library I/O (child processes, a loopback socket server), C code that releases
the GIL (pbkdf2, lzma, bz2), C code that keeps it (json, re), pure Python, coroutines
and tiny tasks. The socket workloads talk to ``ECHO_PORT`` (set by the benchmark).
"""

from __future__ import annotations

import asyncio
import bz2
import hashlib
import json
import lzma
import os
import re
import socket
import subprocess

_TEXT = " ".join(f"user{i}@example.com visited /page/{i % 97} at 12:{i % 60:02d}"
                 for i in range(40_000))
_DOC = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "price": i * 1.5}
                  for i in range(20_000)]}
_DATA = os.urandom(1 << 16) * 48


def child_process(_: int) -> int:
    return subprocess.run(["sleep", "0.1"], check=True).returncode


def socket_request(i: int) -> bytes:
    with socket.create_connection(("127.0.0.1", int(os.environ["ECHO_PORT"]))) as conn:
        conn.sendall(f"{i}\n".encode())
        return conn.recv(64)


async def socket_request_async(i: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(os.environ["ECHO_PORT"]))
    writer.write(f"{i}\n".encode())
    data = await reader.read(64)
    writer.close()
    await writer.wait_closed()
    return data


def pbkdf2(i: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", b"password", str(i).encode(), 150_000)


def lzma_compress(_: int) -> int:
    return len(lzma.compress(_DATA[: 1 << 20], preset=1))


def bz2_compress(_: int) -> int:
    return len(bz2.compress(_DATA[: 3 << 20], 9))


def json_roundtrip(_: int) -> int:
    return len(json.loads(json.dumps(_DOC)))


def regex_scan(_: int) -> int:
    return len(re.findall(r"(\w+)@(\w+)\.com visited (/page/\d+)", _TEXT))


def collatz(n: int) -> int:
    longest = 0
    for start in range(n, n + 60_000):
        steps, x = 0, start
        while x != 1:
            x = x // 2 if x % 2 == 0 else 3 * x + 1
            steps += 1
        longest = max(longest, steps)
    return longest


def tiny(i: int) -> int:
    return len(str(i))


def wait_ms(milliseconds: int) -> int:
    """A call that waits, as on a network: for the batch-size sweep."""
    import time

    time.sleep(milliseconds / 1000)
    return milliseconds


def spin(steps: int) -> int:
    """Pure-Python work of about ``steps`` microseconds: for the batch-size sweep."""
    total = 0
    for i in range(steps * 12):
        total += i * i
    return total


# -- mixed work: tasks that both wait and compute ----------------------------------------

def _python_ms(milliseconds: float) -> int:
    total = 0
    for i in range(int(milliseconds * 12_000)):
        total += i * i
    return total


def fetch_then_parse(i: int) -> int:
    """A 20 ms wait (a download), then about 20 ms of pure Python (parsing it)."""
    import time

    time.sleep(0.02)
    return _python_ms(20) + i


async def await_then_compute(i: int) -> int:
    """The same as a coroutine: await an answer, then compute on it."""
    await asyncio.sleep(0.02)
    return _python_ms(20) + i


def short_wait(i: int) -> int:
    """One of thousands of short requests: 30 ms of waiting, nothing else."""
    import time

    time.sleep(0.03)
    return i


_GZIP_INPUT = os.urandom(1 << 14) * 192  # 3 MiB that gzip -9 works at


def gzip_program(i: int) -> int:
    """Call a CPU-heavy program and wait for it: the interpreter idles, gzip computes."""
    return len(subprocess.run(["gzip", "-9", "-c"], input=_GZIP_INPUT, capture_output=True,
                              check=True).stdout) + i


def tiny_python(i: int) -> int:
    """About 35 µs of pure Python: too short to hand out one at a time."""
    total = 0
    for k in range(600):
        total += k * i
    return total
