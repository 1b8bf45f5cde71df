"""The matching engine behind the order book: a fast, mutable, price-time book.

Why a separate module: :mod:`bidding.orderbook` is the event-sourced *format*
(commands, rejections, events, replay); this is the data structure it folds
events into. Keeping it free of envelopes and dataclasses lets the hot path stay
a handful of list and dict operations, which is what lets pure Python keep up
with a C++ engine (liquibook) driven from Python.

Rules (the same as liquibook's and pyorderbook's, which the differential test checks):

* price-time priority: better price first, then earlier arrival at that price;
* a trade happens at the *resting* (maker) order's price, never the taker's;
* partial fills: the taker walks levels until its limit or its quantity runs out;
  a resting order partly filled keeps its place in the queue;
* time in force: ``GTC`` rests the remainder, ``IOC`` drops it, ``FOK`` trades
  only if the whole quantity can trade right now (otherwise nothing happens).

Data structures, chosen by profiling:

* each side is a ``dict`` key -> ``deque`` of order records plus a sorted ``list``
  of keys with the best key *last* (``list.pop()`` is O(1)); bids are keyed by
  price, asks by ``-price``, so "best" is ``max`` on both sides and one loop
  serves both (crossing while ``keys[-1] >= bound``);
* an order record is a 5-item ``list`` ``[qty, oid, owner, price, is_buy]`` (cheaper to
  build and index than a slotted object);
* cancel is O(1): the record's quantity becomes 0 (a tombstone) and it leaves the
  id map; tombstones are skipped and dropped when they reach the front of their
  queue, and :meth:`Book._compact` sweeps them when they outnumber live orders, so
  memory stays proportional to the live book.

No clock, no I/O, no floats; prices and quantities are ``int``.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Hashable, Iterator
from typing import Any

__all__ = ["FOK", "GTC", "IOC", "TIFS", "Book", "Fill"]

#: Good till cancelled: the unfilled remainder rests in the book.
GTC = 0
#: Immediate or cancel: trade what can trade now, drop the rest.
IOC = 1
#: Fill or kill: trade the whole quantity now, or do nothing at all.
FOK = 2
#: Time-in-force names as used in commands and events.
TIFS: dict[str, int] = {"gtc": GTC, "ioc": IOC, "fok": FOK}

#: One fill as the engine reports it: ``(taker_order_id, maker_order_id, price, quantity)``.
Fill = tuple[Hashable, Hashable, int, int]

# Record layout (a plain list, see the module docstring).
_QTY = 0
_OID = 1
_OWNER = 2
_PRICE = 3
_IS_BUY = 4

#: Sweep tombstones once they exceed the live orders by this many.
_COMPACT_SLACK = 4096

Record = list[Any]


class Book:
    """A two-sided limit order book with price-time priority (mutable, single writer).

    Order ids are any hashable values chosen by the caller and must be unique
    among live orders (the format layer enforces uniqueness over all time).
    """

    __slots__ = ("_ask_keys", "_ask_levels", "_bid_keys", "_bid_levels", "_dead", "_orders")

    def __init__(self) -> None:
        self._bid_levels: dict[int, deque[Record]] = {}
        self._bid_keys: list[int] = []
        self._ask_levels: dict[int, deque[Record]] = {}
        self._ask_keys: list[int] = []
        self._orders: dict[Hashable, Record] = {}
        self._dead = 0

    # ------------------------------------------------------------------ writes

    def limit(
        self,
        oid: Hashable,
        owner: str,
        is_buy: bool,
        price: int,
        qty: int,
        tif: int,
        out: list[Fill],
    ) -> int:
        """Match a limit order, append its fills to ``out``, return the unfilled quantity.

        With ``GTC`` the unfilled quantity rests in the book under ``oid``; with
        ``IOC`` and ``FOK`` it is dropped. A ``FOK`` that cannot fill completely
        returns ``qty`` and leaves the book untouched.
        """
        if is_buy:
            keys = self._ask_keys
            levels = self._ask_levels
            bound = -price
            sign = -1
        else:
            keys = self._bid_keys
            levels = self._bid_levels
            bound = price
            sign = 1
        if keys and keys[-1] >= bound:
            if tif == FOK and _available(keys, levels, bound, qty) < qty:
                return qty
            orders = self._orders
            append = out.append
            while keys:
                key = keys[-1]
                if key < bound:
                    break
                level = levels[key]
                px = key * sign
                while level:
                    rec = level[0]
                    q = rec[0]
                    if q <= qty:
                        level.popleft()
                        if q:
                            del orders[rec[1]]
                            append((oid, rec[1], px, q))
                            qty -= q
                            if not qty:
                                break
                    else:
                        rec[0] = q - qty
                        append((oid, rec[1], px, qty))
                        qty = 0
                        break
                if not level:
                    keys.pop()
                    del levels[key]
                if not qty:
                    return 0
        elif tif == FOK:
            return qty
        if tif == GTC:
            rec = [qty, oid, owner, price, is_buy]
            if is_buy:
                queue = self._bid_levels.get(price)
                if queue is None:
                    self._bid_levels[price] = deque((rec,))
                    insort(self._bid_keys, price)
                else:
                    queue.append(rec)
            else:
                queue = self._ask_levels.get(-price)
                if queue is None:
                    self._ask_levels[-price] = deque((rec,))
                    insort(self._ask_keys, -price)
                else:
                    queue.append(rec)
            self._orders[oid] = rec
        return qty

    def cancel(self, oid: Hashable) -> int:
        """Remove a resting order; return its open quantity, or 0 if it is not live."""
        rec = self._orders.pop(oid, None)
        if rec is None:
            return 0
        q: int = rec[0]
        rec[0] = 0
        self._dead += 1
        if self._dead > len(self._orders) + _COMPACT_SLACK:
            self._compact()
        return q

    def _compact(self) -> None:
        """Drop every tombstone and every empty level (amortised O(1) per cancel)."""
        for levels, keys in (
            (self._bid_levels, self._bid_keys),
            (self._ask_levels, self._ask_keys),
        ):
            for key in list(keys):
                live = deque(r for r in levels[key] if r[0])
                if live:
                    levels[key] = live
                else:
                    del levels[key]
            keys[:] = sorted(levels)
        self._dead = 0

    # ------------------------------------------------------------------- reads

    def preview(self, is_buy: bool, price: int, qty: int, tif: int) -> list[list[Any]]:
        """The fills a :meth:`limit` call would produce now, without changing anything.

        Each fill is ``[maker_order_id, price, quantity]``. A ``FOK``
        that cannot fill completely previews no fills. Used by ``decide``, which
        must not mutate the state.
        """
        if is_buy:
            keys, levels, bound, sign = self._ask_keys, self._ask_levels, -price, -1
        else:
            keys, levels, bound, sign = self._bid_keys, self._bid_levels, price, 1
        fills: list[list[Any]] = []
        if not keys or keys[-1] < bound:
            return fills
        if tif == FOK and _available(keys, levels, bound, qty) < qty:
            return fills
        for i in range(len(keys) - 1, -1, -1):
            key = keys[i]
            if key < bound:
                break
            px = key * sign
            for rec in levels[key]:
                q = rec[0]
                if not q:
                    continue
                if q >= qty:
                    fills.append([rec[1], px, qty])
                    return fills
                fills.append([rec[1], px, q])
                qty -= q
        return fills

    def get(self, oid: Hashable) -> tuple[str, bool, int, int] | None:
        """``(owner, is_buy, price, open_qty)`` of a live order, else ``None``."""
        rec = self._orders.get(oid)
        if rec is None:
            return None
        return rec[_OWNER], rec[_IS_BUY], rec[_PRICE], rec[_QTY]

    def __contains__(self, oid: object) -> bool:
        return oid in self._orders

    def __len__(self) -> int:
        """Number of live (resting, unfilled) orders."""
        return len(self._orders)

    def best_bid(self) -> int | None:
        """Highest price with a live buy order, or ``None``."""
        for key in reversed(self._bid_keys):
            if any(r[0] for r in self._bid_levels[key]):
                return key
        return None

    def best_ask(self) -> int | None:
        """Lowest price with a live sell order, or ``None``."""
        for key in reversed(self._ask_keys):
            if any(r[0] for r in self._ask_levels[key]):
                return -key
        return None

    def depth(self, is_buy: bool) -> list[tuple[int, int]]:
        """Aggregated ``(price, total_qty)`` per live level, best first."""
        if is_buy:
            keys, levels, sign = self._bid_keys, self._bid_levels, 1
        else:
            keys, levels, sign = self._ask_keys, self._ask_levels, -1
        out: list[tuple[int, int]] = []
        for key in reversed(keys):
            total = sum(r[0] for r in levels[key])
            if total:
                out.append((key * sign, total))
        return out

    def resting(self, is_buy: bool) -> Iterator[tuple[Hashable, str, int, int]]:
        """Live orders of one side in priority order: ``(oid, owner, price, qty)``."""
        keys, levels = (self._bid_keys, self._bid_levels) if is_buy else (self._ask_keys, self._ask_levels)
        for key in reversed(keys):
            for r in levels[key]:
                if r[0]:
                    yield r[_OID], r[_OWNER], r[_PRICE], r[_QTY]

    def available(self, is_buy: bool, price: int) -> int:
        """Quantity a taker on side ``is_buy`` with limit ``price`` could trade now."""
        if is_buy:
            return _available(self._ask_keys, self._ask_levels, -price, -1)
        return _available(self._bid_keys, self._bid_levels, price, -1)


def _available(keys: list[int], levels: dict[int, deque[Record]], bound: int, need: int) -> int:
    """Live quantity at keys ``>= bound``, stopping early once ``need`` is reached.

    ``need < 0`` means "count everything".
    """
    total = 0
    for i in range(len(keys) - 1, -1, -1):
        key = keys[i]
        if key < bound:
            break
        for rec in levels[key]:
            total += rec[0]
        if 0 <= need <= total:
            break
    return total
