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
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import Rules, apply_rules, build_leaves, check_receipt, import_csv, merkle_root, verify_certificate
from draws.entries import _split_fast, _split_fast_pure, handles_pure
from draws.filters import first_occurrences, first_occurrences_pure, text_verdicts, text_verdicts_pure
from draws.leaves import ACCELERATED, build_leaves_pure, leaf_weights, leaf_weights_pure
from draws.merkle import merkle_root_pure
from tests.draws.helpers import make_draw

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


# ---- entries and filters helpers ----

FIELD = st.text(alphabet=st.sampled_from(list("ab Z09_@#é\t\x1c\u3000\u00a0x-")), max_size=8)


@needs_accel
@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(FIELD, min_size=1, max_size=4), max_size=12), st.booleans(), st.booleans())
def test_split_csv_equals_pure(rows: list[list[str]], trailing_newline: bool, strip: bool) -> None:
    """Random ragged rows: same columns (or the same refusal) as the pure split, stripped or not."""
    header = "a,b,c"
    text = header + "\n" + "\n".join(map(",".join, rows)) + ("\n" if trailing_newline else "")
    pure = _split_fast_pure(text)
    if pure is not None and strip:
        pure = (pure[0], [[v.strip() for v in column] for column in pure[1]])
    assert _split_fast(text, strip=strip) == pure


@needs_accel
def test_split_csv_edge_cases() -> None:
    for text in (
        "a,b",
        "a,b\n",
        "a,b\n1,2",
        "a,b\n1,2\n\n",
        "a\n\n\n",
        "a,b\n1,2,3\n",
        "a,b\n1\n",
        "é,b\n1,ü\n",
        "a,b\n🙂 , x\n1,🙂\n",
    ):
        assert _split_fast(text) == _split_fast_pure(text), text
        assert _split_fast(text, strip=True) == _split_fast_pure(text.replace(" ", "")), text
    wide = "a,b\n" + "🙂," * 2 + "x\n"
    assert _split_fast(wide) == _split_fast_pure(wide) is None
    long_row = "a,b\n" + "x" * 65_536 + ",y\n"
    assert _split_fast(long_row) is None and _split_fast_pure(long_row) is None


@needs_accel
def test_digits_to_ints_equals_int() -> None:
    assert _accel.digits_to_ints(["0", "007", "1700000000000", "9" * 18, "9" * 19, "1" * 40]) == [
        0, 7, 1_700_000_000_000, int("9" * 18), int("9" * 19), int("1" * 40),
    ]  # fmt: skip
    for bad in ([], [""], ["12", "1a"], ["١٢"], [" 1"], ["-1"], ["+1"]):
        assert _accel.digits_to_ints(bad) is None


TEXT = st.text(alphabet=st.sampled_from(list("#@aAbB_1 .éÉ\u00df\u0130giveawayGIVEAWAY")), max_size=30)


@needs_accel
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(TEXT, st.sampled_from(["", "a", "ab", "b_1", "é", "giveaway"])), max_size=20),
    st.lists(st.sampled_from(["a", "giveaway", "ab", "é", "ss"]), max_size=3, unique=True),
    st.integers(min_value=0, max_value=4),
)
def test_text_verdicts_equal_pure(rows: list[tuple[str, str]], tags: list[str], need: int) -> None:
    texts = [t for t, _ in rows]
    handles = [h for _, h in rows]
    assert text_verdicts(texts, handles, tags, need) == text_verdicts_pure(texts, handles, tags, need)


@needs_accel
def test_text_verdicts_cases() -> None:
    texts = [
        "#Giveaway @A @a @b",
        "#giveaway_x @a @b",
        "x#giveaway! @me @a",
        "#giveaway @ @a",
        "#GIVEAWAY @x@y",
    ]
    handles = ["zed", "zed", "me", "zed", "zed"]
    fast = text_verdicts(texts, handles, ["giveaway"], 2)
    assert fast == text_verdicts_pure(texts, handles, ["giveaway"], 2)
    assert fast == (b"\x01\x00\x01\x01\x01", b"\x01\x01\x00\x00\x01")
    many = text_verdicts(texts, handles, ["giveaway"], 65)  # beyond the C limit: the pure rule
    assert many == text_verdicts_pure(texts, handles, ["giveaway"], 65)


@needs_accel
@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "ig/id/1", "ig/id/é", "", "x" * 40]), max_size=30))
def test_first_occurrences_equal_pure(items: list[str]) -> None:
    assert first_occurrences(items) == first_occurrences_pure(items)


@needs_accel
def test_filters_and_import_equal_pure_on_a_mixed_export() -> None:
    """A whole import + filter run with the accelerator and without it (monkeypatched off)."""
    import draws.entries as entries_module
    import draws.filters as filters_module

    rows = ["platform,user_id,handle,text,created_at,weight"]
    for i in range(3000):
        text = ["Love #GiveAway @a @b", "élan #giveaway @ü @b", "#giveaway @a @a", "#giveaways @x @y"][i % 4]
        rows.append(f" Instagram ,{i % 2900}, @Fan{i} ,{text},{1_700_000_000_000 + i},{i % 5 + 1}")
    raw = ("\n".join(rows) + "\n").encode()
    rules = Rules(
        required_hashtags=("giveaway",), min_mentions=2, exclude=("@fan7",), window_end_ms=2 * 10**12
    )
    fast = apply_rules(import_csv(raw).entries, rules)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(entries_module, "_accel", None)
        mp.setattr(filters_module, "_accel", None)
        pure = apply_rules(import_csv(raw).entries, rules)
    assert fast == pure
    assert fast.waterfall.eligible > 0


@needs_accel
@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=30))
def test_leaf_weights_equal_pure(weights: list[int]) -> None:
    leaves = [hashlib.sha256(bytes([i % 256])).digest() + w.to_bytes(8, "big") for i, w in enumerate(weights)]
    assert leaf_weights(leaves) == leaf_weights_pure(leaves) == weights


@needs_accel
def test_leaf_weights_of_malformed_leaves_fail_like_the_pure_code() -> None:
    for bad in ([b"x" * 41], [b"x" * 40, b"y" * 39]):
        with pytest.raises(struct.error):
            leaf_weights(bad)
        with pytest.raises(struct.error):
            leaf_weights_pure(bad)


@needs_accel
@pytest.mark.parametrize("weighted", [False, True])
def test_whole_draw_is_the_same_without_the_accelerator(weighted: bool) -> None:
    """Certificate and leaves file byte for byte, and ``verify`` passes on both paths."""
    import draws.entries
    import draws.filters
    import draws.leaves
    import draws.merkle

    fast = make_draw(weighted=weighted, n=300)
    with pytest.MonkeyPatch.context() as mp:
        for module in (draws.entries, draws.filters, draws.leaves, draws.merkle):
            mp.setattr(module, "_accel", None)
        pure = make_draw(weighted=weighted, n=300)
        pure_report = verify_certificate(pure.cert_bytes, leaves=pure.leaves_file)
    assert fast.cert_bytes == pure.cert_bytes and fast.leaves_file == pure.leaves_file
    assert pure_report.ok and verify_certificate(fast.cert_bytes, leaves=fast.leaves_file).ok


@needs_accel
@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("@@aZ_9 éÉßİ\u0130K")), max_size=8), max_size=20))
def test_handles_equal_pure(values: list[str]) -> None:
    assert _accel.handles(values) == handles_pure(values)


@needs_accel
@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["ig/id/", "ïg/id/", ""]), st.lists(st.text(max_size=6), max_size=20))
def test_prefixed_equals_concatenation(prefix: str, values: list[str]) -> None:
    assert _accel.prefixed(prefix, values) == [prefix + v for v in values]
