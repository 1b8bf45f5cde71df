"""The C accelerator (draws/_accel.c) gives byte for byte what the pure-Python code gives.

Why: the pure functions are the reference (docs/fairness.md, the committed vectors); the
extension is only a faster way to the same bytes. Each test compares the two on the same
inputs: salts, leaves, sorted order, identities, every Merkle level, the root and every
audit path, including the edge cases (no entry, 1, 2, 3, odd levels, duplicate leaves,
long and non-ASCII identities, long host secrets).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import struct
from itertools import compress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import (
    EntryImportError,
    Rules,
    apply_rules,
    build_leaves,
    check_receipt,
    import_csv,
    merkle_root,
    verify_certificate,
)
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


# ---- the one-pass ASCII import, masks and column selection ----

ASCII_FIELD = st.text(alphabet=st.sampled_from(list("aaZZ09_@@#  \t\x1c\x0b-:.+")), max_size=7)
HEADERS = [
    "platform,user_id,handle,text,created_at,weight",
    " Platform ,USER_ID,handle,text,created_at,weight,extra",
    "user_id,text,weight",
    "handle,created_at",
    "\ufeffplatform,user_id,handle,text,created_at,weight",
    "user_id,user_id",
]


def _import_outcome(raw: bytes) -> object:
    """The import's result, or its error (type, message, row)."""
    try:
        return import_csv(raw)
    except (EntryImportError, ValueError) as exc:
        return (type(exc), str(exc), getattr(exc, "row", None))


def assert_import_paths_agree(raw: bytes) -> None:
    """One-pass C import == the general path with the accelerator == the pure code."""
    import draws.entries as entries_module

    fast = _import_outcome(raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(entries_module, "_import_ascii", lambda raw: None)
        general = _import_outcome(raw)
        mp.setattr(entries_module, "_accel", None)
        pure = _import_outcome(raw)
    assert fast == general == pure


@needs_accel
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HEADERS), st.data(), st.sampled_from(["", "\n", "\n", "\n", "\n\n", "\r\n"]))
def test_ascii_import_equals_general_path(header: str, data: st.DataObject, tail: str) -> None:
    """Random fields (spaces, '@', odd digits, a non-ASCII byte, a ragged row...): same entries or error."""
    names = [name.strip().lower() for name in header.split(",")]
    flaw = data.draw(st.sampled_from(["", "", "", "ragged", "non-ascii", "any value"]))
    numbers = st.from_regex(r"[ ]?[1-9][0-9]{0,2}[ ]?", fullmatch=True)
    platform = st.text(alphabet=st.sampled_from(list("aZ09_.- ")), max_size=4)
    special = {"created_at": numbers, "weight": numbers, "\ufeffplatform": platform, "platform": platform}
    fields = [ASCII_FIELD if flaw == "any value" else special.get(name, ASCII_FIELD) for name in names]
    rows = data.draw(st.lists(st.tuples(*fields).map(list), max_size=8))
    if flaw == "ragged":
        rows.insert(data.draw(st.integers(0, len(rows))), data.draw(st.lists(ASCII_FIELD, max_size=7)))
    if flaw == "non-ascii" and rows:
        rows[-1][0] += "é"
    assert_import_paths_agree((header + "\n" + "\n".join(map(",".join, rows)) + tail).encode())


@needs_accel
def test_ascii_import_cases() -> None:
    head = "platform,user_id,handle,text,created_at,weight\n"
    for body in (
        "ig,1,@@A b,#win @x,1700000000000,3\n",  # handle: strip, lstrip '@', lower-case
        "ig,1,@a,t,2024-01-01T00:00:00Z,1\nig,2,@b,t,1700000000000,2\n",  # ISO time: strings again
        "ig,1,@a,t,17,\n",  # empty weight is 1: the weight column as strings
        "ig,1,@a,t,17,0\n",  # weight out of range: the general error, same row
        "ig,1,@a,t,17,1000000001\n",
        "ig,1,@a,t,17,0007\n",
        "ig,1,@a,t,1234567890123456789,1\n",  # 19 digits: beyond the C integers
        "ig,1,@a,t," + "9" * 5000 + ",1\n",  # beyond int()'s digit limit
        "ig,1,@a,t,,1\n",
        "IG,1,@a,t,1,1\nig,2,@b,t,1,1\n",
        "bad platform!,1,@a,t,1,1\n",
        "ig,,,t,1,1\n",  # neither id nor handle
        "ig,1,@a,t,1,1\nig,2,@b,t,1\n",  # short row
        "ig,1,@a,\x1ct\x1f ,1,1\n",
        'ig,1,@a,"q",1,1\n',
        "ig,1,@a,t,1,1\r\n",
        "ig,1,@a,café,1,1\n",
        "ig,1,@a," + "x" * 70_000 + ",1,1\n",  # longer than MAX_ROW_CHARS
        "",
    ):
        assert_import_paths_agree((head + body).encode())
    for raw in (b"user_id", b"user_id\n", b"a,b\n1,2\n", b"\xff\n1\n", b"user_id\n\xff\n", b"user_id\n1\n2"):
        assert_import_paths_agree(raw)
    assert_import_paths_agree(make_csv_bytes(5000))


def make_csv_bytes(n: int) -> bytes:
    rows = ["platform,user_id,handle,text,created_at,weight"]
    for i in range(n):
        uid, ts = i - (i % 7 == 1), 1_700_000_000_000 + i
        rows.append(f"instagram,{uid},@Fan_{i},Love #giveaway @a{i % 5} @b,{ts},{i % 5 + 1}")
    return ("\n".join(rows) + "\n").encode()


@needs_accel
def test_split_ascii_reports_the_digest_and_refuses_bad_arguments() -> None:
    raw = b"a,b\n1,x\n"
    assert _accel.split_ascii(raw, 4, b"is", 100, True) == (hashlib.sha256(raw).digest(), [(1,), ("x",)])
    assert _accel.split_ascii(raw, 4, b"-h", 100, False) == (None, [None, ("x",)])
    for kinds, start in ((b"", 4), (b"ix", 4), (b"ss", -1), (b"ss", 99)):
        with pytest.raises(ValueError):
            _accel.split_ascii(raw, start, kinds, 100, False)


@needs_accel
@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "ig/id/1", "ig/id/é", ""]), st.booleans()), max_size=30))
def test_first_occurrences_among_alive_equal_pure(pairs: list[tuple[str, bool]]) -> None:
    items = [item for item, _ in pairs]
    alive = bytes(flag for _, flag in pairs)
    assert first_occurrences(items, alive) == first_occurrences_pure(items, alive)
    assert first_occurrences(items, alive.replace(b"\x01", b"\x07")) == first_occurrences_pure(items, alive)
    with pytest.raises(ValueError, match="one per item"):
        _accel.first_occurrences(items, alive + b"\x01")


@needs_accel
@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers() | st.text(max_size=3) | st.none(), st.integers(0, 3)), max_size=30))
def test_select_equals_compress(pairs: list[tuple[object, int]]) -> None:
    column = [value for value, _ in pairs]
    mask = bytes(m for _, m in pairs)
    picked = _accel.select([column, tuple(column)], mask)
    assert picked == [tuple(compress(column, mask))] * 2
    assert not gc.is_tracked(picked[0]) or not picked[0]
    mixed = _accel.select([[[1], "x"]], b"\x01\x01")[0]
    assert gc.is_tracked(mixed)  # a list inside: left to the GC
    with pytest.raises(ValueError, match="differ in length"):
        _accel.select([column], mask + b"\x01")


@needs_accel
def test_selected_entries_equal_pure() -> None:
    import draws.entries as entries_module

    entries = import_csv(make_csv_bytes(300)).entries
    for mask in (b"\x01" * 300, bytes(300), bytes(i % 3 != 0 for i in range(300))):
        fast = entries.select(mask, entries.identities())
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(entries_module, "_accel", None)
            pure = entries.select(mask, entries.identities())
        assert fast == pure and fast.identities() == pure.identities()
        assert fast.rows == tuple(compress(entries.rows, mask))
    with pytest.raises(ValueError, match="one mask byte"):
        entries.select(b"\x01")
