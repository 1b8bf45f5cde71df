"""Multi-unit call auction: hand-computed clearings under the three price rules,
plus a Hypothesis property test of the allocation rules over random bids."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidding.base import Close, Stream, replay
from bidding.callauction import CALL_AUCTION, CallBid, CallState, WithdrawBid
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import seal
from bidding.transcript import make_transcript, verify_transcript


def auction(**params: Any) -> Stream[CallState]:
    return Stream.create(CALL_AUCTION, "call-1", params, 0)


def bid(s: Stream[CallState], bidder: str, bid_id: str, qty: int, price: int, now: int = 1) -> None:
    s.handle(CallBid(f"c-{bid_id}", bidder, bid_id, qty, price), now)


def close(s: Stream[CallState], now: int = 2) -> dict[str, Any]:
    (env,) = s.handle(Close("close", "host"), now)
    assert env.type == "auction_cleared"
    return dict(env.payload)


def standard(rule: str) -> Stream[CallState]:
    """10 units, reserve 50; bids A 4@100, B 3@90, C 5@90 (after B), D 2@80."""
    s = auction(units=10, reserve=50, price_rule=rule)
    bid(s, "alice", "A", 4, 100)
    bid(s, "bob", "B", 3, 90)
    bid(s, "carol", "C", 5, 90)
    bid(s, "dave", "D", 2, 80)
    return s


def test_uniform_lowest_accepted_with_partial_marginal_bid() -> None:
    s = standard("uniform")
    # A gets 4, B 3 (same price as C but earlier), C the last 3 of its 5; D nothing.
    assert close(s) == {
        "price": 90,
        "units_sold": 10,
        "allocations": [["A", "alice", 4, 90], ["B", "bob", 3, 90], ["C", "carol", 3, 90]],
    }
    assert [a.to_dict() for a in s.result() or []] == [
        {"bidder": "alice", "price": 90, "quantity": 4},
        {"bidder": "bob", "price": 90, "quantity": 3},
        {"bidder": "carol", "price": 90, "quantity": 3},
    ]
    assert CALL_AUCTION.exposure(s.state) == {"alice": 360, "bob": 270, "carol": 270}


def test_pay_as_bid_pays_own_limits() -> None:
    s = standard("pay_as_bid")
    assert close(s) == {
        "price": None,
        "units_sold": 10,
        "allocations": [["A", "alice", 4, 100], ["B", "bob", 3, 90], ["C", "carol", 3, 90]],
    }


def test_uniform_highest_rejected() -> None:
    # C's cut 2 units at 90 are the highest rejected.
    assert close(standard("uniform_rejected"))["price"] == 90
    # Exactly filled: the first loser sets the price.
    s = auction(units=5, reserve=10, price_rule="uniform_rejected")
    bid(s, "a", "A", 5, 100)
    bid(s, "b", "B", 2, 80)
    cleared = close(s)
    assert cleared["price"] == 80
    assert cleared["allocations"] == [["A", "a", 5, 80]]


def test_tie_at_the_margin_goes_to_the_earlier_bid() -> None:
    s = auction(units=5)
    bid(s, "y", "Y1", 3, 70, now=1)
    bid(s, "x", "X1", 3, 70, now=1)
    assert close(s)["allocations"] == [["Y1", "y", 3, 70], ["X1", "x", 2, 70]]


def test_undersubscribed_auction() -> None:
    for rule, price, alloc_prices in (
        ("uniform", 30, [30, 30]),
        ("uniform_rejected", 20, [20, 20]),
        ("pay_as_bid", None, [50, 30]),
    ):
        s = auction(units=10, reserve=20, price_rule=rule)
        bid(s, "p", "P", 2, 50)
        bid(s, "q", "Q", 3, 30)
        cleared = close(s)
        assert cleared["price"] == price
        assert cleared["units_sold"] == 5
        assert [a[3] for a in cleared["allocations"]] == alloc_prices


def test_no_bids_sells_nothing() -> None:
    s = auction(units=3, end=100)
    with pytest.raises(Rejected) as info:
        s.handle(Close("early"), 50)
    assert info.value.code == Code.TOO_EARLY
    assert s.next_deadline() == 100
    (env,) = s.handle(Close("timer"), 100)
    assert env.payload == {"price": None, "units_sold": 0, "allocations": []}
    assert s.next_deadline() is None
    assert s.result() == []


def test_withdrawn_bids_do_not_count_and_ids_are_not_reused() -> None:
    s = auction(units=4, max_per_bidder=4)
    bid(s, "a", "A", 4, 100)
    with pytest.raises(Rejected) as info:
        s.handle(WithdrawBid("w0", "b", "A"), 1)
    assert info.value.code == Code.FORBIDDEN
    s.handle(WithdrawBid("w1", "a", "A"), 1)
    for cmd, code in (
        (WithdrawBid("w2", "a", "A"), Code.NOT_FOUND),
        (CallBid("again", "a", "A", 1, 100), Code.INVALID_COMMAND),
    ):
        with pytest.raises(Rejected) as info:
            s.handle(cmd, 1)
        assert info.value.code == code
    bid(s, "a", "A2", 4, 60)  # the withdrawn 4 no longer count against the limit
    bid(s, "b", "B", 1, 70)
    assert close(s)["allocations"] == [["B", "b", 1, 60], ["A2", "a", 3, 60]]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (CallBid("k", "a", "x", 0, 100), Code.INVALID_COMMAND),
        (CallBid("k", "a", "x", 11, 100), Code.INVALID_COMMAND),
        (CallBid("k", "a", "x", 1, 105), Code.INVALID_COMMAND),  # tick 10
        (CallBid("k", "a", "x", 1, 40), Code.BID_TOO_LOW),
        (CallBid("k", "a", "x", 6, 100), Code.LIMIT_EXCEEDED),  # 1 already + 6 > 6
        (Close("k", "a"), Code.TOO_EARLY),
    ],
)
def test_rejections(command: Any, code: str) -> None:
    s = auction(units=10, reserve=50, tick=10, max_per_bidder=6, end=100)
    s.handle(CallBid("first", "a", "a0", 1, 100), 1)
    with pytest.raises(Rejected) as info:
        s.handle(command, 1)
    assert info.value.code == code


def test_open_window() -> None:
    s = auction(units=1, start=10, end=20)
    for now, code in ((5, Code.NOT_OPEN), (20, Code.CLOSED)):
        with pytest.raises(Rejected) as info:
            s.handle(CallBid(f"k{now}", "a", "x", 1, 5), now)
        assert info.value.code == code
    close(s, now=20)
    with pytest.raises(Rejected) as info:
        s.handle(Close("again", "host"), 21)
    assert info.value.code == Code.CLOSED


def test_params_are_validated() -> None:
    for params in (
        {},
        {"units": 0},
        {"units": 1, "price_rule": "dutch"},
        {"units": 1, "colour": "red"},
        {"units": 1, "start": 5, "end": 5},
        {"units": 1, "host": 7},
    ):
        with pytest.raises(InvalidParams):
            auction(**params)


def test_replay_refuses_a_forged_clearing() -> None:
    s = standard("uniform")
    close(s)
    assert s.log is not None
    assert replay(s.log).state_hash() == s.state_hash()
    last = s.log[-1]
    forged_payload = dict(last.payload, price=80)
    forged = seal(
        last.stream_id, last.seq, last.prev_hash, last.time, last.type,
        last.actor, last.command_id, forged_payload,
    )  # fmt: skip
    with pytest.raises(InvalidTransition):
        replay([*s.log[:-1], forged])


def test_commitment_and_exposure_before_clearing() -> None:
    s = standard("uniform")
    assert CALL_AUCTION.exposure(s.state)["carol"] == 450
    assert CALL_AUCTION.commitment(s.state, CallBid("k", "carol", "C2", 1, 60), 1) == 510
    assert CALL_AUCTION.commitment(s.state, Close("k"), 1) is None


bids_strategy = st.lists(
    st.tuples(st.sampled_from("abcd"), st.integers(1, 6), st.integers(1, 12)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    units=st.integers(1, 20),
    reserve=st.integers(1, 6),
    rule=st.sampled_from(("uniform", "uniform_rejected", "pay_as_bid")),
    bids=bids_strategy,
)
def test_clearing_properties(units: int, reserve: int, rule: str, bids: list[tuple[str, int, int]]) -> None:
    s = auction(units=units, reserve=reserve, price_rule=rule, max_per_bidder=1000)
    placed = []
    for i, (who, qty, price) in enumerate(bids):
        try:
            s.handle(CallBid(f"c{i}", who, f"b{i}", min(qty, units), price), 1)
            placed.append((i, who, min(qty, units), price))
        except Rejected as r:
            assert r.code == Code.BID_TOO_LOW and price < reserve
    cleared = close(s)
    got = {a[0]: a[2] for a in cleared["allocations"]}
    assert cleared["units_sold"] == sum(got.values()) <= units
    # Priority: a bid gets units only if every strictly better bid, and every
    # equal-priced earlier bid, is fully served.
    for i, _, qty, price in placed:
        served = got.get(f"b{i}", 0)
        if served < qty:
            for j, _, _, p2 in placed:
                if p2 < price or (p2 == price and j > i):
                    assert f"b{j}" not in got
    # Supply is exhausted unless every bid is fully served.
    if cleared["units_sold"] < units:
        assert all(got.get(f"b{i}") == q for i, _, q, _ in placed)
    limits = {f"b{i}": p for i, _, _, p in placed}
    for bid_id, _, qty, unit_price in cleared["allocations"]:
        assert qty > 0
        assert reserve <= unit_price <= limits[bid_id]
        if rule == "pay_as_bid":
            assert unit_price == limits[bid_id]
    if cleared["allocations"]:
        lowest_accepted = min(limits[a[0]] for a in cleared["allocations"])
        cut = [p for i, _, q, p in placed if got.get(f"b{i}", 0) < q]
        if rule == "uniform":
            assert cleared["price"] == lowest_accepted
        elif rule == "uniform_rejected":
            assert cleared["price"] == (max(cut) if cut else reserve) <= lowest_accepted
    assert s.log is not None
    assert replay(s.log).state_hash() == s.state_hash()


def test_transcript_verifies_after_a_json_round_trip() -> None:
    s = standard("pay_as_bid")
    close(s)
    doc = orjson.loads(orjson.dumps(make_transcript(s)))
    report = verify_transcript(doc)
    assert report.ok, report.errors
    assert [a["price"] for a in report.awards] == [100, 90, 90]
    doc["result"]["awards"][0]["quantity"] = 5
    assert not verify_transcript(doc).ok
