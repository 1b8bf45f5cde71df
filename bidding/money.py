"""Money as integer minor units, increment tables and basis-point arithmetic.

Amounts are ``int`` counts of the currency's minor unit (cents for USD/EUR); the
currency is an ISO 4217 code stored once per auction in its params. No floats:
every rounding below is explicit integer arithmetic.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from bidding.canonical import MAX_INT
from bidding.errors import InvalidParams

__all__ = [
    "EBAY_US",
    "IncrementTable",
    "bps_ceil",
    "check_amount",
    "check_currency",
]

#: eBay US bid increments in cents: (price below, increment); ``None`` = no upper bound.
#: <$1: 0.05; <$5: 0.25; <$25: 0.50; <$100: 1; <$250: 2.50; <$500: 5; <$1000: 10;
#: <$2500: 25; <$5000: 50; else 100.
EBAY_US: tuple[tuple[int | None, int], ...] = (
    (100, 5),
    (500, 25),
    (2500, 50),
    (10000, 100),
    (25000, 250),
    (50000, 500),
    (100000, 1000),
    (250000, 2500),
    (500000, 5000),
    (None, 10000),
)


def check_amount(value: object, name: str, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an int in ``[minimum, 2**53 - 1]``, else raise."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParams(f"{name} must be an integer number of minor units")
    if value < minimum or value > MAX_INT:
        raise InvalidParams(f"{name} must be in [{minimum}, {MAX_INT}]")
    return value


def check_currency(value: object) -> str:
    """Return ``value`` if it looks like an ISO 4217 code (three upper-case letters)."""
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper()):
        raise InvalidParams("currency must be an ISO 4217 code such as 'EUR'")
    return value


def bps_ceil(amount: int, bps: int) -> int:
    """``amount * bps / 10_000`` rounded up (a decrement is never rounded to nothing)."""
    return -((-amount * bps) // 10_000)


class IncrementTable:
    """Step function price -> minimum increment, looked up with ``bisect``.

    Built from ``(below, increment)`` rows sorted by ``below``; the last row has
    ``below=None`` and applies to every higher price. A price equal to a bound
    uses the next row (eBay: $1.00 bids in $0.25 steps).
    """

    __slots__ = ("bounds", "rows", "steps")

    def __init__(self, rows: Sequence[Sequence[int | None]]) -> None:
        if not rows:
            raise InvalidParams("increment table is empty")
        bounds: list[int] = []
        steps: list[int] = []
        for i, row in enumerate(rows):
            if len(row) != 2:
                raise InvalidParams("increment rows are [below, increment] pairs")
            below, step = row
            if step is None:
                raise InvalidParams("increment must be an integer")
            check_amount(step, "increment", minimum=1)
            last = i == len(rows) - 1
            if last:
                if below is not None:
                    raise InvalidParams("last increment row must have below = null")
            else:
                below = check_amount(below, "below", minimum=1)
                if bounds and below <= bounds[-1]:
                    raise InvalidParams("increment bounds must increase")
                bounds.append(below)
            steps.append(step)
        #: upper bounds (exclusive) of all rows but the last, and every row's increment;
        #: ``steps[bisect_right(bounds, price)]`` is the increment at ``price``.
        self.bounds: tuple[int, ...] = tuple(bounds)
        self.steps: tuple[int, ...] = tuple(steps)
        self.rows: tuple[tuple[int | None, int], ...] = tuple(
            (b, s) for b, s in zip((*bounds, None), steps, strict=True)
        )

    def increment(self, price: int) -> int:
        """The minimum raise over ``price``."""
        return self.steps[bisect_right(self.bounds, price)]

    def to_data(self) -> list[list[Any]]:
        """Plain form for params/events: ``[[below, increment], ..., [null, inc]]``."""
        return [[b, s] for b, s in self.rows]
