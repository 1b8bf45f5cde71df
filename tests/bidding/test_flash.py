"""Flash sale: hand-computed examples (holds, TTL, waitlist, limits, no oversell)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bidding.base import Close, Stream, Tick, replay
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import seal
from bidding.flash import (
    FLASH_SALE,
    Confirm,
    FlashState,
    LeaveWaitlist,
    Release,
    Reserve,
    next_deadline,
)
from bidding.transcript import make_transcript, verify_transcript


def sale(**params: Any) -> Stream[FlashState]:
    base: dict[str, Any] = {"price": 500, "stock": 3, "per_buyer_limit": 2, "hold_ttl_ms": 100}
    base.update(params)
    return Stream.create(FLASH_SALE, "sale-1", base, 0)


def do(s: Stream[FlashState], command: Any, now: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, dict(e.payload)) for e in s.handle(command, now)]


def refused(s: Stream[FlashState], command: Any, now: int) -> str:
    with pytest.raises(Rejected) as info:
        s.handle(command, now)
    return info.value.code


def hold(hold_id: str, buyer: str, qty: int, expires: int, waitlist: bool = False) -> Any:
    return (
        "hold_placed",
        {
            "hold_id": hold_id,
            "buyer": buyer,
            "qty": qty,
            "expires": expires,
            "from_waitlist": waitlist,
        },
    )


def test_hold_then_confirm_sells_at_the_fixed_price() -> None:
    s = sale()
    assert do(s, Reserve("r1", "ann", 2), 10) == [hold("h1", "ann", 2, 110)]
    assert do(s, Confirm("c1", "ann", "h1"), 109) == [
        ("purchased", {"hold_id": "h1", "buyer": "ann", "qty": 2, "amount": 1000})
    ]
    assert (s.state.sold, s.state.held) == (2, 0)
    assert s.next_deadline() is None


def test_confirm_at_or_after_expiry_is_rejected_even_before_the_tick() -> None:
    s = sale()
    do(s, Reserve("r1", "ann", 1), 10)
    assert refused(s, Confirm("c1", "ann", "h1"), 110) == Code.HOLD_EXPIRED
    assert s.state.held == 1  # nothing changed until the timer runs
    assert s.next_deadline() == 110
    assert do(s, Tick("t1"), 110) == [("hold_released", {"hold_id": "h1", "reason": "expired"})]
    assert refused(s, Confirm("c2", "ann", "h1"), 111) == Code.NOT_FOUND
    assert (s.state.sold, s.state.held) == (0, 0)


def test_expiry_hands_units_to_the_waitlist_in_order_with_a_fresh_ttl() -> None:
    s = sale(stock=2)
    do(s, Reserve("r1", "ann", 2), 0)
    assert do(s, Reserve("r2", "bob", 1), 5) == [("waitlisted", {"buyer": "bob", "qty": 1})]
    assert do(s, Reserve("r3", "cat", 1), 6) == [("waitlisted", {"buyer": "cat", "qty": 1})]
    assert do(s, Tick("t"), 100) == [
        ("hold_released", {"hold_id": "h1", "reason": "expired"}),
        hold("h2", "bob", 1, 200, waitlist=True),
        hold("h3", "cat", 1, 200, waitlist=True),
    ]
    assert s.state.waitlist == []
    assert s.next_deadline() == 200


def test_reserve_applies_due_expiries_first() -> None:
    s = sale(stock=1)
    do(s, Reserve("r1", "ann", 1), 0)
    # The timer is late: at 150 the hold is stale, and Dan's reserve frees it itself.
    assert do(s, Reserve("r2", "dan", 1), 150) == [
        ("hold_released", {"hold_id": "h1", "reason": "expired"}),
        hold("h2", "dan", 1, 250),
    ]


def test_release_returns_stock_to_the_next_waiter() -> None:
    s = sale(stock=1)
    do(s, Reserve("r1", "ann", 1), 0)
    do(s, Reserve("r2", "bob", 1), 1)
    assert refused(s, Release("x", "bob", "h1"), 2) == Code.FORBIDDEN
    assert do(s, Release("x", "ann", "h1"), 3) == [
        ("hold_released", {"hold_id": "h1", "reason": "released"}),
        hold("h2", "bob", 1, 103, waitlist=True),
    ]


def test_strict_fifo_and_hopeless_waiters_leave() -> None:
    s = sale(stock=3)
    do(s, Reserve("r1", "ann", 2), 1)
    do(s, Reserve("r2", "bob", 2), 2)  # 1 unit free but not 2: waits
    # 1 unit is free, but Bob waits ahead of Cat: Cat queues behind him.
    assert do(s, Reserve("r3", "cat", 1), 3) == [("waitlisted", {"buyer": "cat", "qty": 1})]
    # Ann buys: only 1 unit can ever come back, so Bob (2) leaves; Cat gets it.
    assert do(s, Confirm("c", "ann", "h1"), 50) == [
        ("purchased", {"hold_id": "h1", "buyer": "ann", "qty": 2, "amount": 1000}),
        ("waitlist_left", {"buyer": "bob", "reason": "sold_out"}),
        hold("h2", "cat", 1, 150, waitlist=True),
    ]


def test_per_buyer_limit_is_across_the_whole_sale() -> None:
    s = sale(stock=10, per_buyer_limit=3)
    do(s, Reserve("r1", "ann", 2), 1)
    do(s, Confirm("c1", "ann", "h1"), 2)
    # 2 bought + 2 asked > 3, though each checkout alone is within the limit.
    assert refused(s, Reserve("r2", "ann", 2), 3) == Code.LIMIT_EXCEEDED
    do(s, Reserve("r3", "ann", 1), 3)
    assert refused(s, Reserve("r4", "ann", 1), 4) == Code.LIMIT_EXCEEDED
    assert FLASH_SALE.exposure(s.state) == {"ann": 1500}
    assert FLASH_SALE.commitment(s.state, Reserve("k", "bob", 2), 5) == 1000
    assert FLASH_SALE.commitment(s.state, Tick("k"), 5) is None


def test_sold_out_and_waitlist_rules() -> None:
    s = sale(stock=1, per_buyer_limit=1)
    do(s, Reserve("r1", "ann", 1), 1)
    do(s, Reserve("r2", "bob", 1), 1)
    assert refused(s, Reserve("r3", "bob", 1), 2) == Code.ALREADY_BID
    assert do(s, LeaveWaitlist("l1", "bob"), 3) == [("waitlist_left", {"buyer": "bob", "reason": "left"})]
    assert refused(s, LeaveWaitlist("l2", "bob"), 4) == Code.NOT_FOUND
    do(s, Confirm("c1", "ann", "h1"), 5)
    assert refused(s, Reserve("r4", "cat", 1), 6) == Code.SOLD_OUT


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (Reserve("k", "a", 0), Code.INVALID_COMMAND),
        (Reserve("k", "a", 4), Code.LIMIT_EXCEEDED),
        (Confirm("k", "a", "h9"), Code.NOT_FOUND),
        (Close("k", "a"), Code.TOO_EARLY),
        (LeaveWaitlist("k", "a"), Code.NOT_FOUND),
    ],
)
def test_rejections(command: Any, code: str) -> None:
    s = sale(end=1000)
    assert refused(s, command, 1) == code
    assert s.version == 1


def test_window_close_and_result() -> None:
    s = sale(start=10, end=500, stock=2)
    assert refused(s, Reserve("r0", "ann", 1), 5) == Code.NOT_OPEN
    do(s, Reserve("r1", "ann", 1), 10)
    do(s, Confirm("c1", "ann", "h1"), 20)
    do(s, Reserve("r2", "bob", 1), 450)
    do(s, Reserve("r3", "cat", 1), 460)
    assert s.next_deadline() == 500  # the end comes before Bob's hold expires (550)
    assert refused(s, Reserve("r4", "dan", 1), 500) == Code.CLOSED
    assert refused(s, Confirm("c2", "bob", "h2"), 500) == Code.CLOSED  # end passed
    assert do(s, Close("end"), 500) == [
        ("hold_released", {"hold_id": "h2", "reason": "closed"}),
        ("waitlist_left", {"buyer": "cat", "reason": "closed"}),
        ("sale_closed", {}),
    ]
    assert next_deadline(s.state) is None
    assert [a.to_dict() for a in s.result() or []] == [{"bidder": "ann", "price": 500, "quantity": 1}]
    for command in (Tick("t"), Close("again", "host"), Confirm("c", "bob", "h2")):
        assert refused(s, command, 501) == Code.CLOSED


def test_params_are_validated() -> None:
    for params in (
        {"price": 0},
        {"stock": -1},
        {"colour": "red"},
        {"start": 5, "end": 5},
        {"host": 1},
        {"hold_ttl_ms": 0},
    ):
        with pytest.raises(InvalidParams):
            sale(**params)
    with pytest.raises(InvalidParams):
        Stream.create(FLASH_SALE, "x", {"stock": 1}, 0)


def test_replay_and_forged_oversell_is_refused() -> None:
    s = sale(stock=1)
    do(s, Reserve("r1", "ann", 1), 1)
    do(s, Reserve("r2", "bob", 1), 2)
    assert s.log is not None
    assert replay(s.log).state_hash() == s.state_hash()
    # A forged log that gives Bob a hold directly (while Ann holds the only unit).
    prev = s.log[1]
    forged = seal(
        "sale-1", 3, prev.hash, 2, "hold_placed", "bob", "r2",
        {"hold_id": "h2", "buyer": "bob", "qty": 1, "expires": 102, "from_waitlist": False},
    )  # fmt: skip
    with pytest.raises(InvalidTransition):
        replay([s.log[0], s.log[1], forged])


def test_transcript_verifies_after_a_json_round_trip() -> None:
    s = sale(stock=2)
    do(s, Reserve("r1", "ann", 2), 0)
    do(s, Reserve("r2", "bob", 1), 1)
    do(s, Tick("t"), 100)
    do(s, Confirm("c", "bob", "h2"), 150)
    do(s, Close("end", "host"), 160)
    doc = orjson.loads(orjson.dumps(make_transcript(s)))
    report = verify_transcript(doc)
    assert report.ok, report.errors
    assert report.awards == [{"bidder": "bob", "price": 500, "quantity": 1}]
    assert report.state_hash == s.state_hash()
