"""Canonical JSON (RFC 8785 subset) and the strict reader."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import CanonicalJSONError, canonical, loads
from draws.canonical import MAX_SAFE_INT


def test_rfc8785_rules_for_our_subset() -> None:
    # keys sorted by UTF-16 code units: U+20AC (0x20AC) before U+1F600 (0xD83D...) is false:
    # 0x20AC < 0xD83D, so "€" sorts first; "\r" before "1" (0x0D < 0x31)
    value = {"\U0001f600": 1, "€": 2, "1": 3, "\r": 4, "é": [True, False, None]}
    assert canonical(value) == ('{"\\r":4,"1":3,"é":[true,false,null],"€":2,"\U0001f600":1}'.encode())
    assert canonical('\u0000\u001f\x7f"\\/') == b'"\\u0000\\u001f\x7f\\"\\\\/"'
    assert canonical([-0, 10**15]) == b"[0,1000000000000000]"


@pytest.mark.parametrize("bad", [1.5, 2**53, -(2**53), b"x", {1: 2}, "\ud800", object()])
def test_rejects_outside_the_subset(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical(bad)


@pytest.mark.parametrize("text", [b"1.0", b"NaN", b'{"a":1,"a":2}', b"\xff", b"9007199254740992", b"{"])
def test_strict_reader(text: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        loads(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_round_trip_and_agrees_with_sorted_json_dumps(value: object) -> None:
    try:
        data = canonical(value)
    except CanonicalJSONError:  # lone surrogates from st.text()
        return
    assert loads(data) == value
    assert loads(data.decode()) == value
    assert canonical(loads(data)) == data
