"""Canonical encoding: sorted keys, no whitespace, integers only; strict validation."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

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
