"""What live rooms may see of each event: the format's own redaction, else the generic one."""

from __future__ import annotations

from typing import Any

from bidding import GENESIS, Envelope, seal
from bidding.callauction import CALL_AUCTION
from bidding.english import ENGLISH
from bidding.reverse import REVERSE
from engine.projection import public_event_data


def event(type_: str, payload: dict[str, Any]) -> Envelope:
    return seal("s", 2, GENESIS, 1, type_, "u", "c", payload)


def test_reverse_offers_never_show_who_offered_what() -> None:
    offer = event("offer", {"supplier": "acme", "amount": 900, "best": 900, "leader": "acme", "end": 5})
    assert public_event_data(offer, REVERSE, {"feedback": "rank_only"}) == {"end": 5}
    assert public_event_data(offer, REVERSE, {"feedback": "full"}) == {"end": 5, "best": 900}


def test_sealed_call_auction_bids_stay_hidden() -> None:
    bid = event("bid_placed", {"bid_id": "b1", "qty": 3, "price": 700})
    assert public_event_data(bid, CALL_AUCTION, {}) == {"bid_id": "b1"}


def test_generic_redaction_removes_proxy_maxima_and_reserves() -> None:
    bid = event("bid", {"bidder": "alice", "max": 9000, "price": 100})
    assert public_event_data(bid, ENGLISH, {}) == {"bidder": "alice", "price": 100}
    created = event("created", {"kind": "english", "params": {"reserve": 5000, "opening": 100}})
    shown = public_event_data(created)
    assert shown["params"] == {"opening": 100}


def test_row_builder_writes_the_same_json_as_auction_row() -> None:
    """The actors' cached row builder must put exactly auction_row's row in the journal
    (the projector upserts it as is), for several formats and states."""
    import orjson

    from bidding import Stream
    from bidding.base import Close, PlaceBid
    from bidding.dutch import DUTCH, Accept
    from engine.projection import auction_row, row_builder

    def check(stream: Stream[Any]) -> None:
        assert stream.log is not None
        created = stream.log[0]
        build = row_builder(stream, created)
        last = stream.log[-1]
        expected = auction_row(stream, last, created)
        got = build(stream, last)
        opt = orjson.OPT_SORT_KEYS
        assert orjson.dumps(got, option=opt) == orjson.dumps(expected, option=opt)
        assert orjson.loads(orjson.dumps(got)) == orjson.loads(orjson.dumps(expected, option=opt))

    english = Stream.create(
        ENGLISH, "e", {"currency": "EUR", "opening": 100, "end": 10_000, "reserve": 500, "buy_now": 9000}, 0
    )
    check(english)
    for i in range(6):
        english.handle(PlaceBid(f"b{i}", f"u{i % 3}", 150 * (i + 1)), i + 1)
        check(english)
    english.handle(Close("x"), 10_000)
    check(english)
    dutch = Stream.create(
        DUTCH, "d", {"start_price": 1000, "step": 10, "floor": 500, "tick_ms": 100, "quantity": 2}, 0
    )
    check(dutch)
    dutch.handle(Accept("a", "ann", 2), 250)
    check(dutch)
    reverse = Stream.create(REVERSE, "r", {"end": 100, "decrement": 5}, 0)
    reverse.handle(PlaceBid("1", "s1", 900), 1)
    check(reverse)
    reverse.handle(Close("x"), 100)
    check(reverse)
