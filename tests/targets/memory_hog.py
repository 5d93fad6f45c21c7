"""A task that holds a large buffer while it waits and computes: memory, not the CPU,
should bound how many run at once."""

import time


def hold(i: int) -> int:
    buffer = bytearray(160 << 20)  # 160 MiB, written so that it is resident
    for offset in range(0, len(buffer), 4096):
        buffer[offset] = 1
    time.sleep(0.02)
    total = sum(range(150_000))
    return total + i + buffer[4096]
