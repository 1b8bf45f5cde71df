"""Closing rules: the end moves forward only, never past the cap."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.errors import InvalidParams
from bidding.softclose import CloseRule, parse_close_params


def rule(**params: Any) -> CloseRule:
    return parse_close_params(params, {}, 100_000)


def test_add_reset_and_cap() -> None:
    add = rule(close="soft", window=10_000, extension=5_000, cap=112_000)
    assert add.extended_end(100_000, 80_000) == 100_000  # outside the window
    assert add.extended_end(100_000, 90_000) == 105_000
    assert add.extended_end(110_000, 109_000) == 112_000  # capped
    reset = rule(close="soft", window=10_000, extension=5_000, extension_mode="reset")
    assert reset.extended_end(100_000, 99_000) == 104_000
    assert reset.extended_end(100_000, 91_000) == 100_000  # never earlier
    hard = rule()
    assert hard.extended_end(100_000, 99_999) == 100_000


def test_normal_form() -> None:
    out: dict[str, Any] = {}
    parse_close_params({}, out, 5)
    assert out == {"close": "hard", "window": 0, "extension": 0, "extension_mode": "add", "cap": None}
    assert rule(**out) == rule()  # the normal form parses to the same rule


@pytest.mark.parametrize(
    "params",
    [{"close": "x"}, {"cap": 1}, {"window": 5}, {"extension_mode": "reset"}, {"close": "soft", "window": 0}],
)
def test_invalid(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        rule(**params)


@given(
    window=st.integers(1, 10_000),
    ext=st.integers(1, 10_000),
    reset=st.booleans(),
    cap=st.none() | st.integers(100_000, 120_000),
    end=st.integers(100_000, 120_000),
    before=st.integers(1, 20_000),
)
def test_end_only_moves_forward_within_cap(
    window: int, ext: int, reset: bool, cap: int | None, end: int, before: int
) -> None:
    r = rule(close="soft", window=window, extension=ext, extension_mode="reset" if reset else "add", cap=cap)
    if cap is not None and end > cap:
        return
    new = r.extended_end(end, end - before)
    assert new >= end
    assert cap is None or new <= cap
