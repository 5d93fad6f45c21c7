"""A task that holds a large buffer while it mostly waits: memory, not the CPU, should
bound how many run at once.

Making the buffer resident costs CPU with the GIL held (a page fault per 4 KiB), so the
buffer is kept modest and the wait long: the batch reads as waiting on every Python and
under a busy machine, and a thread pool's own count (many) is what memory cuts to 2."""

import time

BUFFER_BYTES = 64 << 20


def hold(i: int) -> int:
    buffer = bytearray(b"\x01") * BUFFER_BYTES  # written, so that it is resident
    time.sleep(0.3)
    return i + buffer[4096]
