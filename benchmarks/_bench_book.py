"""Order-book stream, peer adapters and benchmark sections (order book, flash sale).

Shared by ``benchmarks/bench_core.py`` (figures) and
``tests/bidding/test_orderbook_peer.py`` (trade-for-trade differential), so the
stream that is timed is the stream that is checked.

A stream is a list of operations:

* ``(1, oid, is_buy, price, qty)``: a GTC limit order (``oid`` = 0, 1, 2, ...);
* ``(0, oid)``: cancel order ``oid`` (it may be filled already: then nothing happens).

Each ``run_*`` function plays a stream into one engine and returns the trades as
``(taker_oid, maker_oid, price, qty)`` in the order the engine reported them.

Peer quirks found by introspection (liquibook 2.0.1 via pip, pyorderbook 0.4.9):

* liquibook ``OrderListener.on_fill(order, matched_order, qty, price)``: the first
  argument is the *incoming* order (despite the README naming it "passive"), the
  fourth is the trade price per unit (not a cost); ``SimpleOrder.open_qty()`` is not
  updated unless the listener calls ``order.fill`` itself (the book tracks it
  internally, so matching is right). Order ids come from a process-wide counter,
  so we map them back to our ids.
* liquibook via pip ignores time in force: an ``oc_immediate_or_cancel`` order rests
  its remainder, and an ``oc_fill_or_kill`` order fills partially. So the
  differential stream uses GTC limit orders and cancels only; IOC/FOK are checked
  against a reference model in ``tests/bidding/test_orderbook_props.py``.
* pyorderbook ``Book.cancel`` raises ``KeyError`` for an order no longer in the
  book, so its adapter checks ``order_map`` first. Prices are ``Decimal``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bidding.book_engine import GTC, Book

Op = tuple[Any, ...]
Trade = tuple[int, int, int, int]


def make_stream(n: int, seed: int, cancel_ratio: float = 0.3) -> list[Op]:
    """A seeded random stream of ``n`` operations (limit orders and cancels).

    Prices wander around a drifting mid so that about one order in six crosses;
    quantities are 1..100; a cancel targets one of the last 1,000 orders (live,
    partly filled or already gone).
    """
    rng = random.Random(seed)
    ops: list[Op] = []
    mid = 10_000
    nxt = 0
    for _ in range(n):
        if nxt and rng.random() < cancel_ratio:
            ops.append((0, rng.randrange(max(0, nxt - 1000), nxt)))
        else:
            is_buy = rng.random() < 0.5
            off = rng.randint(-3, 20)
            price = mid - off if is_buy else mid + off
            ops.append((1, nxt, is_buy, price, rng.randint(1, 100)))
            nxt += 1
        if rng.random() < 0.1:
            mid += rng.choice((-1, 1))
    return ops


def run_ours(ops: list[Op]) -> list[Trade]:
    """Play the stream into :class:`bidding.book_engine.Book`."""
    book = Book()
    trades: list[Any] = []
    limit = book.limit
    cancel = book.cancel
    for op in ops:
        if op[0]:
            limit(op[1], "", op[2], op[3], op[4], GTC, trades)
        else:
            cancel(op[1])
    return trades


def run_liquibook(ops: list[Op]) -> list[Trade]:
    """Play the stream into liquibook's ``DepthOrderBook`` (C++ via SWIG)."""
    import liquibook as lb

    raw: list[tuple[int, int, int, int]] = []
    append = raw.append

    class Listener(lb.OrderListener):  # type: ignore[misc]
        def on_accept(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: Any) -> None:
            pass

        def on_fill(self, order: Any, matched: Any, qty: int, price: int) -> None:
            append((order.order_id_, matched.order_id_, price, qty))

        def on_cancel(self, order: Any) -> None:
            pass

        def on_cancel_reject(self, order: Any, reason: Any) -> None:
            pass

        def on_replace(self, *args: Any) -> None:
            pass

        def on_replace_reject(self, *args: Any) -> None:
            pass

    book = lb.DepthOrderBook()
    listener = Listener()
    book.set_order_listener(listener)
    simple = lb.SimpleOrder
    add = book.add
    cancel = book.cancel
    objs: list[Any] = []
    keep = objs.append
    for op in ops:
        if op[0]:
            o = simple(op[2], op[3], op[4])
            keep(o)
            add(o)
        else:
            cancel(objs[op[1]])
    ids = {o.order_id_: i for i, o in enumerate(objs)}
    return [(ids[t], ids[m], p, q) for t, m, p, q in raw]


def run_pyorderbook(ops: list[Op]) -> list[Trade]:
    """Play the stream into pyorderbook's ``Book`` (pure Python, Decimal prices)."""
    import pyorderbook as pob

    book = pob.Book()
    live = book.order_map
    match = book.match
    bid, ask = pob.bid, pob.ask
    objs: list[Any] = []
    blotters: list[Any] = []
    for op in ops:
        if op[0]:
            o = bid("X", op[3], op[4]) if op[2] else ask("X", op[3], op[4])
            objs.append(o)
            blotters.append(match(o))
        else:
            o = objs[op[1]]
            if o.id in live:
                book.cancel(o)
    ids = {o.id: i for i, o in enumerate(objs)}
    return [
        (ids[t.incoming_order_id], ids[t.standing_order_id], int(t.fill_price), t.fill_quantity)
        for b in blotters
        for t in b.trades
    ]


def _time(fn: Callable[[list[Op]], list[Trade]], ops: list[Op]) -> tuple[float, int]:
    t0 = time.perf_counter()
    trades = fn(ops)
    return time.perf_counter() - t0, len(trades)
