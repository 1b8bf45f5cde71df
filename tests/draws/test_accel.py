"""The C accelerator (draws/_accel.c) gives byte for byte what the pure-Python code gives.

Why: the pure functions are the reference (docs/fairness.md, the committed vectors); the
extension is only a faster way to the same bytes. Each test compares the two on the same
inputs: salts, leaves, sorted order, identities, every Merkle level, the root and every
audit path, including the edge cases (no entry, 1, 2, 3, odd levels, duplicate leaves,
long and non-ASCII identities, long host secrets).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import build_leaves, check_receipt, merkle_root
from draws.leaves import ACCELERATED, build_leaves_pure
from draws.merkle import merkle_root_pure

try:
    from draws import _accel
except ImportError:  # pragma: no cover - test_accelerator_is_built reports it
    _accel = None  # type: ignore[assignment]

SECRET = hashlib.sha256(b"accel").digest()
needs_accel = pytest.mark.skipif(_accel is None, reason="draws._accel not built (see the first test)")


def test_accelerator_is_built() -> None:
    """``pip install -e .`` builds draws._accel; a silent build failure must show here."""
    assert _accel is not None, "draws._accel did not build: need gcc and OpenSSL 3 headers (libssl-dev)"
    assert ACCELERATED


def assert_same(secret: bytes, ids: list[str], weights: list[int]) -> None:
    fast = build_leaves(secret, ids, weights)
    pure = build_leaves_pure(secret, ids, weights)
    assert fast.leaves == pure.leaves
    assert fast.order == pure.order
    assert list(fast.salts) == list(pure.salts)
    assert list(fast.identities) == list(pure.identities)
    assert fast.salts == pure.salts and fast.identities == pure.identities
    assert fast.tree.levels == pure.tree.levels
    assert fast.root == pure.root == merkle_root_pure(pure.leaves)
    assert merkle_root(fast.leaves) == fast.root
    for i in range(len(ids)):
        assert fast.tree.audit_path(i) == pure.tree.audit_path(i)
        assert fast.receipt(i) == pure.receipt(i)
    assert fast == pure


@needs_accel
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 1000, 4097])
def test_sizes_and_odd_levels(n: int) -> None:
    assert_same(SECRET, [f"ig/id/{i * 7919 % (n + 1)}" for i in range(n)], [i % 4 + 1 for i in range(n)])


@needs_accel
def test_duplicate_leaves_keep_input_order() -> None:
    ids = ["ig/id/same"] * 50 + ["ig/id/other"] * 3 + ["ig/id/same"] * 7
    assert_same(SECRET, ids, [1] * len(ids))
    fast = build_leaves(SECRET, ids, [1] * len(ids))
    same = [i for i in fast.order if ids[i] == "ig/id/same"]
    assert same == sorted(same)


@needs_accel
def test_sorted_buckets_with_shared_prefixes() -> None:
    """Many leaves share their first bytes (the sort's buckets): 70,000 entries, ~1 per bucket."""
    ids = [f"tiktok/handle/user{i}" for i in range(70_000)]
    fast = build_leaves(SECRET, ids, [1] * len(ids))
    pure = build_leaves_pure(SECRET, ids, [1] * len(ids))
    assert fast.leaves == pure.leaves and fast.order == pure.order
    assert fast.tree.levels == pure.tree.levels


@needs_accel
def test_salts_are_rfc2104_hmac_for_any_key_length() -> None:
    ids = ["ig/id/1", "x/handle/élan", "🙂" * 40, ""]
    for key in (b"k" * 16, b"k" * 64, b"k" * 65, b"long" * 100):
        fast = build_leaves(key, ids, [1, 2, 3, 4])
        for position, j in enumerate(fast.order):
            assert fast.salts[position] == hmac.digest(key, ids[j].encode(), "sha256")
        assert_same(key, ids, [1, 2, 3, 4])


@needs_accel
def test_weights_at_the_edges() -> None:
    assert_same(SECRET, ["a", "b", "c"], [1, 2**63, 2**64 - 1])
    for bad in (-1, 2**64):
        with pytest.raises(OverflowError):
            build_leaves(SECRET, ["a"], [bad])
        with pytest.raises(OverflowError):
            build_leaves_pure(SECRET, ["a"], [bad])


@needs_accel
def test_bad_inputs_are_refused_like_the_pure_code() -> None:
    for builder in (build_leaves, build_leaves_pure):
        with pytest.raises(ValueError, match="16 bytes"):
            builder(b"short", ["a"], [1])
        with pytest.raises(ValueError, match="one weight per identity"):
            builder(SECRET, ["a", "b"], [1])
        with pytest.raises(UnicodeEncodeError):
            builder(SECRET, ["\ud800"], [1])


@needs_accel
def test_receipts_from_accelerated_leaves_check() -> None:
    ids = [f"ig/id/{i}" for i in range(11)]
    fast = build_leaves(SECRET, ids, [2] * 11)
    for position in range(11):
        assert check_receipt(fast.receipt(position), fast.root, 11)


@needs_accel
@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(min_size=16, max_size=100),
    entries=st.lists(
        st.tuples(st.text(max_size=80), st.integers(min_value=0, max_value=2**64 - 1)), max_size=40
    ),
)
def test_random_inputs_give_identical_bytes(secret: bytes, entries: list[tuple[str, int]]) -> None:
    ids = [i for i, _ in entries]
    weights = [w for _, w in entries]
    # repeat some entries so equal leaves occur and the index tie-break matters
    assert_same(secret, ids + ids[:3], weights + weights[:3])


@needs_accel
@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=70), max_size=70))
def test_merkle_root_equals_pure(leaves: list[bytes]) -> None:
    assert _accel.merkle_root(leaves) == merkle_root_pure(leaves)


@needs_accel
def test_merkle_root_refuses_non_bytes() -> None:
    with pytest.raises(TypeError):
        _accel.merkle_root(["not bytes"])  # type: ignore[list-item]
