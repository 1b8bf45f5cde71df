"""DRBG and below(n): exact stream layout, rejection sampling, uniformity."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import Drbg
from draws.rng import DRBG_TAG
from tests.draws.stats import chi_square, critical

SEED = hashlib.sha256(b"rng tests").digest()


def test_stream_is_hmac_blocks_cut_in_u64() -> None:
    d = Drbg(SEED)
    values = [d.next_u64() for _ in range(8)]
    stream = b"".join(
        hmac.new(SEED, DRBG_TAG + c.to_bytes(8, "big"), hashlib.sha256).digest() for c in (0, 1)
    )
    assert values == [int.from_bytes(stream[i : i + 8], "big") for i in range(0, 64, 8)]
    assert "seed=" + SEED.hex() in repr(d)


def test_below_one_consumes_nothing_and_bounds_are_checked() -> None:
    d = Drbg(SEED)
    assert d.below(1) == 0 and d.draws == 0
    for bad in (0, -3, 2**64 + 1):
        with pytest.raises(ValueError):
            d.below(bad)
    with pytest.raises(ValueError):
        Drbg(b"short")


def test_rejection_sampling_rejects_above_n() -> None:
    """n = 2**40 + 1 masks to 41 bits, so about half the candidates are rejected."""
    d = Drbg(SEED)
    n = 2**40 + 1
    results = [d.below(n) for _ in range(400)]
    assert all(0 <= r < n for r in results)
    assert 600 < d.draws < 1000  # ~2 draws per result: rejections happen and are redrawn


def test_rejection_matches_independent_reference() -> None:
    d = Drbg(SEED)
    ref = Drbg(SEED)
    for n in (3, 5, 6, 1000, 2**33 + 7):
        mask = (1 << (n - 1).bit_length()) - 1
        while True:
            x = ref.next_u64() & mask
            if x < n:
                break
        assert d.below(n) == x


@given(st.binary(min_size=32, max_size=32), st.integers(min_value=1, max_value=2**64))
@settings(max_examples=200, deadline=None)
def test_below_in_range(seed: bytes, n: int) -> None:
    assert 0 <= Drbg(seed).below(n) < n


@pytest.mark.parametrize("n", [6, 7, 10])
def test_below_is_uniform(n: int) -> None:
    d = Drbg(SEED)
    counts = [0] * n
    draws = 3000 * n
    for _ in range(draws):
        counts[d.below(n)] += 1
    assert chi_square(counts, [draws / n] * n) < critical(n - 1)
