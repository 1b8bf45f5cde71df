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
