"""Inputs that make the examples' batches long enough to be sampled (for prediction.py)."""

from __future__ import annotations

from examples.factorize import INPUTS as _PRIMES

WAITS = [0.01] * 2000          # 2,000 waits of 10 ms: 20 s sequentially
HASHES = [16] * 400            # 400 sha256 of 16 MB: about 10 s
PRIMES = list(_PRIMES) * 25    # 200 trial divisions of about 70 ms: about 14 s
