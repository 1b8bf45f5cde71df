"""Canonical encoding: sorted keys, no whitespace, integers only; strict validation."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import pytest

from bidding.canonical import MAX_INT, check, digest, encode, sha256_hex, to_plain
from bidding.errors import TranscriptError
from bidding.money import IncrementTable


@dataclass
class Point:
    x: int
    tags: set[str]


def test_encode_is_sorted_and_compact() -> None:
    assert encode({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    assert digest({"a": 1}) == sha256_hex(b'{"a":1}')


def test_to_plain_is_deterministic() -> None:
    value = {"p": Point(3, {"z", "a"}), "q": deque([1, 2]), "t": (1, "x"), "f": frozenset({2, 1})}
    assert to_plain(value) == {"p": {"x": 3, "tags": ["a", "z"]}, "q": [1, 2], "t": [1, "x"], "f": [1, 2]}
    assert to_plain(IncrementTable([[10, 1], [None, 2]])) == [[10, 1], [None, 2]]
    with pytest.raises(TypeError):
        to_plain(1.5)
    with pytest.raises(TypeError):
        to_plain({1: "x"})
    with pytest.raises(TypeError):
        to_plain(object())


@pytest.mark.parametrize("bad", [1.0, {"a": 0.5}, [2**53], -(2**53), {1: 2}, b"x", (1,)])
def test_check_rejects_non_canonical(bad: object) -> None:
    with pytest.raises(TranscriptError):
        check(bad)


def test_check_accepts_canonical() -> None:
    check({"a": [1, "x", None, True, {"b": MAX_INT}], "c": -MAX_INT})


def _reference_to_plain(obj: object) -> object:
    """The plain generic conversion ``to_plain``'s fast paths must agree with."""
    import dataclasses
    from collections.abc import Mapping

    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        raise TypeError("float")
    to_data = getattr(obj, "to_data", None)
    if to_data is not None:
        return _reference_to_plain(to_data())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _reference_to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("key")
        return {k: _reference_to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | deque):
        return [_reference_to_plain(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted((_reference_to_plain(v) for v in obj), key=encode)
    raise TypeError(type(obj).__name__)


@dataclass
class _Holder:
    value: object
    table: IncrementTable


def state_like(*, floats: bool = False, points: bool = False) -> Any:
    """Nested values of the kinds states hold (tuples, dicts with non-str keys now and
    then, deques, sets, dataclasses, to_data objects); ``floats`` adds float leaves,
    ``points`` a dataclass holding a set."""
    from hypothesis import strategies as st

    atoms = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=5)

    def containers(inner: Any) -> Any:
        out = (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), inner, max_size=4)
            | st.builds(deque, st.lists(inner, max_size=3))
            | st.frozensets(atoms.filter(lambda a: a is not None), max_size=3)
            | st.builds(_Holder, inner, st.just(IncrementTable([[100, 5], [None, 10]])))
        )
        if points:
            out = out | st.builds(Point, st.integers(0, 9), st.sets(st.text(max_size=3), max_size=3))
        return out

    return st.recursive(atoms | st.floats(allow_nan=False) if floats else atoms, containers, max_leaves=12)


def test_to_plain_fast_paths_agree_with_the_generic_conversion() -> None:
    from hypothesis import given, settings

    values = state_like(floats=True)

    @settings(max_examples=400, deadline=None)
    @given(values)
    def check_one(value: object) -> None:
        try:
            expected = _reference_to_plain(value)
        except TypeError:
            with pytest.raises(TypeError):
                to_plain(value)
            return
        got = to_plain(value)
        assert got == expected and encode(got) == encode(expected)

    check_one()


def test_digest_state_equals_the_digest_of_to_plain() -> None:
    """digest_state lets orjson walk the state and calls back only for what it cannot
    encode itself: the bytes must be to_plain's for every value to_plain accepts."""
    from hypothesis import given, settings

    from bidding.canonical import digest_state

    values = state_like(points=True)

    @settings(max_examples=400, deadline=None)
    @given(values)
    def check_one(value: object) -> None:
        try:
            expected = digest(to_plain(value))
        except TypeError:
            with pytest.raises(TypeError):
                digest_state(value)
            return
        assert digest_state(value) == expected

    check_one()


def test_english_state_hash_is_the_digest_of_to_plain() -> None:
    """A real state (an English auction after 50 bids: params, maxima of 7 bidders)
    hashes the same through digest_state as through to_plain: stored snapshots stay
    valid."""
    from bidding import Stream
    from bidding.base import PlaceBid, get_format

    stream = Stream.create(get_format("english"), "a1", {"currency": "EUR", "opening": 100, "end": 10**9}, 1)
    for i in range(50):
        stream.handle(PlaceBid(f"c{i}", f"u{i % 7}", 200 * (i + 1)), 2)
    body = {"kind": "english", "stream_id": "a1", "version": stream.version, "head": stream.head}
    assert stream.state_hash() == digest({**body, "state": to_plain(stream.state)})
