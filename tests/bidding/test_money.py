"""Increment tables, amounts and basis points."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.errors import InvalidParams
from bidding.money import EBAY_US, IncrementTable, bps_ceil, check_amount, check_currency


def test_ebay_us_boundaries() -> None:
    table = IncrementTable(EBAY_US)
    cases = {
        0: 5, 99: 5, 100: 25, 499: 25, 500: 50, 2499: 50, 2500: 100, 9999: 100,
        10000: 250, 24999: 250, 25000: 500, 49999: 500, 50000: 1000, 99999: 1000,
        100000: 2500, 249999: 2500, 250000: 5000, 499999: 5000, 500000: 10000, 10**9: 10000,
    }  # fmt: skip
    assert {price: table.increment(price) for price in cases} == cases
    assert table.to_data()[-1] == [None, 10000]


@given(st.integers(0, 10**7))
def test_increment_matches_linear_scan(price: int) -> None:
    expected = next(step for below, step in EBAY_US if below is None or price < below)
    assert IncrementTable(EBAY_US).increment(price) == expected


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [[None, 0]],
        [[10, 1]],
        [[10, 1], [5, 1], [None, 1]],
        [[10, None], [None, 1]],
        [[10, 1, 2], [None, 1]],
    ],
)
def test_bad_tables(rows: list[list[int | None]]) -> None:
    with pytest.raises(InvalidParams):
        IncrementTable(rows)


def test_bps_rounds_up_and_amount_checks() -> None:
    assert bps_ceil(9999, 250) == 250
    assert bps_ceil(10000, 250) == 250
    assert bps_ceil(1, 1) == 1
    assert bps_ceil(0, 500) == 0
    assert check_amount(5, "x") == 5
    for bad in (True, 1.0, "5", -1, 2**53):
        with pytest.raises(InvalidParams):
            check_amount(bad, "x")
    assert check_currency("EUR") == "EUR"
    for cur in ("eur", "EURO", 978):
        with pytest.raises(InvalidParams):
            check_currency(cur)
