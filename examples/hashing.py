"""C work that releases the GIL: hashlib and zlib over large buffers. -> threads."""

from __future__ import annotations

import hashlib
import zlib

_BLOCK = bytes(range(256)) * 4096  # 1 MiB


def sha256_digest(megabytes: int) -> str:
    digest = hashlib.sha256()
    for _ in range(megabytes):
        digest.update(_BLOCK)
    return digest.hexdigest()


def compress(megabytes: int) -> int:
    return len(zlib.compress(_BLOCK * megabytes, 6))


INPUTS = [256] * 8
COMPRESS_INPUTS = [48] * 8
