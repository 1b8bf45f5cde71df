"""Differential test: our order book against two independent engines from PyPI.

The same seeded stream of 60,000 operations (about 42,000 GTC limit orders and
18,000 cancels, some of orders already filled) is played into

* liquibook 2.0.1 (C++ engine via SWIG; trades reported by ``on_fill``),
* pyorderbook 0.4.9 (pure Python, Decimal prices),
* our matching engine (:class:`bidding.book_engine.Book`), and
* our full event-sourced format (``Stream.handle`` -> decide/evolve, hash chain),

and every trade must be identical, in order: taker, maker, price, quantity.
IOC/FOK are not in the stream because liquibook-via-pip ignores time in force
(see ``benchmarks/_bench_book.py``); they are checked against a model in
``test_orderbook_props.py``.
"""

from __future__ import annotations

import pytest

from benchmarks._bench_book import (
    Op,
    Trade,
    make_stream,
    run_liquibook,
    run_ours,
    run_pyorderbook,
)
from bidding.base import Stream
from bidding.errors import Code, Rejected
from bidding.orderbook import ORDER_BOOK, BookState, CancelOrder, PlaceOrder

N_OPS = 60_000
SEED = 20_240_611


@pytest.fixture(scope="module")
def stream() -> list[Op]:
    return make_stream(N_OPS, SEED)


@pytest.fixture(scope="module")
def ours(stream: list[Op]) -> list[Trade]:
    trades = run_ours(stream)
    # A meaningful stream: many trades, many of them partial, several per taker.
    assert len(trades) > 15_000
    assert len({t[0] for t in trades}) < len(trades)
    return trades


def test_stream_has_cancels_of_live_and_dead_orders(stream: list[Op]) -> None:
    cancels = [op for op in stream if op[0] == 0]
    assert len(stream) >= 50_000
    assert len(cancels) > 15_000


def test_same_trades_as_liquibook(stream: list[Op], ours: list[Trade]) -> None:
    theirs = run_liquibook(stream)
    assert len(theirs) == len(ours)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"trade {i} differs: ours {a}, liquibook {b}"


def test_same_trades_as_pyorderbook(stream: list[Op], ours: list[Trade]) -> None:
    theirs = run_pyorderbook(stream)
    assert len(theirs) == len(ours)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"trade {i} differs: ours {a}, pyorderbook {b}"


def test_event_sourced_format_gives_the_same_trades(stream: list[Op], ours: list[Trade]) -> None:
    s: Stream[BookState] = Stream.create(ORDER_BOOK, "peer", {}, 0, keep_log=False)
    trades: list[Trade] = []
    not_found = 0
    for i, op in enumerate(stream):
        if op[0]:
            _, oid, is_buy, price, qty = op
            side = "buy" if is_buy else "sell"
            (env,) = s.handle(PlaceOrder(f"c{i}", "u", str(oid), side, price, qty), i)
            trades.extend((oid, int(m), p, q) for m, p, q in env.payload["fills"])
        else:
            try:
                s.handle(CancelOrder(f"c{i}", "u", str(op[1])), i)
            except Rejected as r:
                assert r.code == Code.NOT_FOUND
                not_found += 1
    assert not_found > 0
    assert trades == ours
