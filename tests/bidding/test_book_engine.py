"""Matching engine examples with hand-computed expectations.

Each test builds a tiny book whose outcome can be worked out on paper, so a
wrong priority, a taker-priced trade or a half-executed FOK shows up as a
concrete mismatch.
"""

from __future__ import annotations

from typing import Any

from bidding.book_engine import FOK, GTC, IOC, Book


def place(book: Book, oid: Any, side: str, price: int, qty: int, tif: int = GTC) -> Any:
    """Submit one order; return ``(fills, unfilled)`` with fills as ``(maker, price, qty)``."""
    out: list[Any] = []
    left = book.limit(oid, f"own-{oid}", side == "buy", price, qty, tif, out)
    return [(m, p, q) for _, m, p, q in out], left


def test_trade_is_at_the_makers_price_both_ways() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 5)
    assert place(book, "b1", "buy", 120, 5) == ([("s1", 100, 5)], 0)
    place(book, "b2", "buy", 90, 5)
    assert place(book, "s2", "sell", 80, 5) == ([("b2", 90, 5)], 0)


def test_price_then_time_priority() -> None:
    book = Book()
    place(book, "a", "sell", 101, 1)
    place(book, "b", "sell", 100, 1)
    place(book, "c", "sell", 100, 1)
    place(book, "d", "sell", 99, 1)
    fills, left = place(book, "t", "buy", 101, 4)
    # 99 first, then 100 in arrival order (b before c), then 101.
    assert fills == [("d", 99, 1), ("b", 100, 1), ("c", 100, 1), ("a", 101, 1)]
    assert left == 0
    assert len(book) == 0


def test_partial_fill_keeps_queue_position_and_remainder_rests() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 10)
    place(book, "s2", "sell", 100, 10)
    assert place(book, "b1", "buy", 100, 4) == ([("s1", 100, 4)], 0)
    # s1 still first at 100 with 6 left.
    assert place(book, "b2", "buy", 100, 8) == ([("s1", 100, 6), ("s2", 100, 2)], 0)
    # Taker bigger than the book: 8 left at 100 on s2, then 4 rest as a bid at 105.
    assert place(book, "b3", "buy", 105, 12) == ([("s2", 100, 8)], 4)
    assert book.best_bid() == 105
    assert book.best_ask() is None
    assert book.get("b3") == ("own-b3", True, 105, 4)


def test_limit_stops_at_the_takers_price() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 3)
    place(book, "s2", "sell", 102, 3)
    fills, left = place(book, "b1", "buy", 101, 10)
    assert fills == [("s1", 100, 3)]
    assert left == 7
    assert (book.best_bid(), book.best_ask()) == (101, 102)


def test_ioc_trades_what_it_can_and_never_rests() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 3)
    assert place(book, "b1", "buy", 100, 10, IOC) == ([("s1", 100, 3)], 7)
    assert len(book) == 0
    assert place(book, "b2", "buy", 100, 10, IOC) == ([], 10)
    assert book.best_bid() is None


def test_fok_is_all_or_nothing() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 5)
    place(book, "s2", "sell", 101, 5)
    place(book, "s3", "sell", 103, 5)
    # 10 available at <= 101, 11 wanted: nothing at all happens.
    assert place(book, "b1", "buy", 101, 11, FOK) == ([], 11)
    assert book.depth(False) == [(100, 5), (101, 5), (103, 5)]
    # 10 wanted: fills across two levels.
    assert place(book, "b2", "buy", 101, 10, FOK) == ([("s1", 100, 5), ("s2", 101, 5)], 0)
    assert place(book, "b3", "buy", 90, 1, FOK) == ([], 1)
    assert len(book) == 1


def test_fok_counts_only_live_quantity() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 5)
    place(book, "s2", "sell", 100, 5)
    assert book.cancel("s1") == 5
    assert place(book, "b1", "buy", 100, 6, FOK) == ([], 6)
    assert place(book, "b2", "buy", 100, 5, FOK) == ([("s2", 100, 5)], 0)


def test_cancel_removes_only_the_open_remainder() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 10)
    place(book, "b1", "buy", 100, 4)
    assert book.cancel("s1") == 6
    assert book.cancel("s1") == 0
    assert book.cancel("nope") == 0
    assert book.cancel("b1") == 0  # fully filled on arrival, never rested
    assert place(book, "b2", "buy", 100, 1) == ([], 1)


def test_cancelled_orders_are_skipped_in_priority() -> None:
    book = Book()
    for i in range(5):
        place(book, f"s{i}", "sell", 100, 1)
    book.cancel("s0")
    book.cancel("s2")
    book.cancel("s4")
    fills, left = place(book, "b", "buy", 100, 5)
    assert fills == [("s1", 100, 1), ("s3", 100, 1)]
    assert left == 3
    assert book.best_ask() is None
    assert book.best_bid() == 100


def test_preview_matches_limit_and_changes_nothing() -> None:
    book = Book()
    place(book, "s1", "sell", 100, 5)
    place(book, "s2", "sell", 101, 5)
    before = list(book.resting(False))
    preview = book.preview(True, 101, 7, GTC)
    assert preview == [["s1", 100, 5], ["s2", 101, 2]]
    assert book.preview(True, 101, 11, FOK) == []
    assert book.preview(True, 99, 1, GTC) == []
    assert list(book.resting(False)) == before
    fills, _ = place(book, "b", "buy", 101, 7)
    assert [list(f) for f in fills] == preview


def test_compaction_keeps_priority_and_bounds_memory() -> None:
    book = Book()
    # Many orders at levels never touched, most cancelled: tombstones get swept.
    for i in range(10_000):
        place(book, i, "buy", 50 + i % 7, 1)
    for i in range(10_000):
        if i % 10:
            book.cancel(i)
    assert len(book) == 1000
    stored = sum(len(q) for q in book._bid_levels.values())
    assert stored < 1000 + 4097 + 1
    fills, _ = place(book, "t", "sell", 1, 3)
    # Highest price 56 first (i % 7 == 6, i % 10 == 0): i = 20, 90, 160.
    assert fills == [(20, 56, 1), (90, 56, 1), (160, 56, 1)]


def test_reads_report_live_book() -> None:
    book = Book()
    place(book, "b1", "buy", 98, 2)
    place(book, "b2", "buy", 99, 3)
    place(book, "b3", "buy", 99, 4)
    place(book, "s1", "sell", 101, 1)
    assert book.depth(True) == [(99, 7), (98, 2)]
    assert book.depth(False) == [(101, 1)]
    assert list(book.resting(True)) == [
        ("b2", "own-b2", 99, 3),
        ("b3", "own-b3", 99, 4),
        ("b1", "own-b1", 98, 2),
    ]
    assert book.available(False, 98) == 9
    assert book.available(True, 100) == 0
    assert "b1" in book
    assert book.get("zz") is None
    book.cancel("b2")
    book.cancel("b3")
    assert book.best_bid() == 98
    assert book.depth(True) == [(98, 2)]
