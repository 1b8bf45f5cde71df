"""HMAC-SHA256 DRBG and unbiased integers by rejection sampling.

Why this construction: every verifier language has HMAC-SHA256, so the stream is trivial to
reimplement; rejection sampling (never ``x mod n`` alone) makes ``below(n)`` exactly
uniform. Never Python's ``random``: its output is not specified across versions.

Stream: block_c = HMAC-SHA256(seed, TAG || c as 8-byte big-endian), c = 0, 1, 2, ...
Each block is cut into four 8-byte big-endian unsigned integers, used in order.
below(n): n == 1 gives 0 and consumes nothing; otherwise take k = bit length of n - 1,
draw the next integer, keep its low k bits, return it if < n, else draw again.
"""

from __future__ import annotations

import hmac

DRBG_TAG = b"fairlot/drbg/v1"
MAX_BOUND = 2**64


class Drbg:
    """Deterministic random bit generator over a 32-byte seed; counts what it consumed."""

    __slots__ = ("_buffer", "_counter", "_seed", "draws")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("the DRBG seed is 32 bytes")
        self._seed = seed
        self._counter = 0
        self._buffer: list[int] = []
        self.draws = 0

    def __repr__(self) -> str:
        return f"Drbg(seed={self._seed.hex()}, blocks={self._counter}, draws={self.draws})"

    def block(self) -> bytes:
        """The next 32-byte HMAC block (advances the counter)."""
        out = hmac.digest(self._seed, DRBG_TAG + self._counter.to_bytes(8, "big"), "sha256")
        self._counter += 1
        return out

    def next_u64(self) -> int:
        """The next 64-bit unsigned integer of the stream."""
        if not self._buffer:
            b = self.block()
            self._buffer = [int.from_bytes(b[i : i + 8], "big") for i in (24, 16, 8, 0)]
        self.draws += 1
        return self._buffer.pop()

    def below(self, n: int) -> int:
        """Uniform integer in ``[0, n)`` by rejection sampling; 1 <= n <= 2**64."""
        if not 1 <= n <= MAX_BOUND:
            raise ValueError(f"below(n) needs 1 <= n <= 2**64, got {n}")
        if n == 1:
            return 0
        mask = (1 << (n - 1).bit_length()) - 1
        while True:
            x = self.next_u64() & mask
            if x < n:
                return x
