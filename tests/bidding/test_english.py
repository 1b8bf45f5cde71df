"""English proxy auction: hand-computed examples, including brief section 4's pitfalls.

Amounts are US cents with the eBay US increment table (opening 100 = $1.00):
increment 5 below 100, 25 below 500, 50 below 2500, 100 below 10000, ...
"""

from __future__ import annotations

from typing import Any

import pytest

from bidding.base import Close, PlaceBid, Retract, Stream, replay
from bidding.english import ENGLISH, BuyNow, EnglishState
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import seal

END = 100_000


def auction(**params: Any) -> Stream[EnglishState]:
    base: dict[str, Any] = {"currency": "USD", "opening": 100, "start": 0, "end": END}
    base.update(params)
    return Stream.create(ENGLISH, "lot-1", base, 0)


_ids = iter(range(10**9))


def bid(stream: Stream[EnglishState], bidder: str, amount: int, now: int = 10) -> dict[str, Any]:
    (env,) = stream.handle(PlaceBid(f"c{next(_ids)}", bidder, amount), now)
    assert env.type == "bid"
    return dict(env.payload)


def refused(stream: Stream[EnglishState], command: Any, now: int = 10) -> str:
    version = stream.version
    end = stream.state.end
    with pytest.raises(Rejected) as info:
        stream.handle(command, now)
    assert stream.version == version, "a rejection must not add events"
    assert stream.state.end == end, "a rejection must never extend the close"
    return info.value.code


def test_proxy_bidding_walkthrough() -> None:
    s = auction()
    assert bid(s, "alice", 1000)["price"] == 100  # first bid: opening price
    # bob 500 loses to alice's max 1000; price = 500 + inc(500) = 550
    p = bid(s, "bob", 500)
    assert (p["price"], p["leader"]) == (550, "alice")
    # minimum next bid = 550 + 50 = 600
    assert bid(s, "bob", 600)["price"] == 650
    assert refused(s, PlaceBid("x1", "bob", 620)) == Code.BID_TOO_LOW  # min is 700
    # equal maxima: the earlier (alice) leads; price = min(1000, 1000 + 50)
    p = bid(s, "carol", 1000)
    assert (p["price"], p["leader"]) == (1000, "alice")
    # the leader raising their max does not raise the price
    p = bid(s, "alice", 2000)
    assert (p["price"], p["leader"]) == (1000, "alice")
    # carol 1500 (min 1050) loses; price = 1500 + inc(1500) = 1550
    assert bid(s, "carol", 1500)["price"] == 1550
    # dave beats alice's 2000: price = 2000 + inc(2000) = 2050
    p = bid(s, "dave", 3000)
    assert (p["price"], p["leader"]) == (2050, "dave")
    assert refused(s, PlaceBid("x2", "alice", 2050)) == Code.BID_TOO_LOW  # min 2100
    (closed,) = s.handle(Close("close"), END)
    assert closed.payload["awards"] == [{"bidder": "dave", "price": 2050, "quantity": 1}]
    assert [(a.bidder, a.price) for a in s.result() or []] == [("dave", 2050)]


def test_price_capped_by_leader_max() -> None:
    s = auction()
    bid(s, "alice", 1020)
    # bob 1000 loses; 1000 + inc(1000)=1050 exceeds alice's max: price = alice's max
    p = bid(s, "bob", 1000)
    assert (p["price"], p["leader"]) == (1020, "alice")


def test_challenger_just_above_leader_pays_own_max() -> None:
    s = auction()
    bid(s, "alice", 1000)
    # bob 1020 beats 1000 but 1000 + 50 > 1020: price = bob's max
    p = bid(s, "bob", 1020)
    assert (p["price"], p["leader"]) == (1020, "bob")


def test_leader_cannot_bid_against_themselves() -> None:
    s = auction()
    bid(s, "alice", 1000)
    bid(s, "bob", 500)
    assert s.state.price == 550
    assert refused(s, PlaceBid("x", "alice", 1000)) == Code.BID_TOO_LOW  # not a raise
    assert refused(s, PlaceBid("y", "alice", 900)) == Code.BID_TOO_LOW  # cannot lower
    p = bid(s, "alice", 5000)
    assert (p["price"], p["leader"]) == (550, "alice")
    assert ENGLISH.min_bid(s.state, "alice") == 5001
    assert ENGLISH.min_bid(s.state, "bob") == 600


def test_hidden_reserve_jump_when_leader_meets_it() -> None:
    s = auction(reserve=5000)
    p = bid(s, "alice", 1000)
    assert (p["price"], p["reserve_met"]) == (100, False)
    p = bid(s, "bob", 800)
    assert (p["price"], p["reserve_met"]) == (850, False)
    # alice raises to 6000: reserve now met, so the price jumps to the reserve
    p = bid(s, "alice", 6000)
    assert (p["price"], p["leader"], p["reserve_met"]) == (5000, "alice", True)
    # bob 5200 (min 5100) loses: 5200 + inc(5200) = 5300
    assert bid(s, "bob", 5200)["price"] == 5300
    view = ENGLISH.public_view(s.state)
    assert view["reserve_met"] is True and "reserve" not in view


def test_challenger_meeting_reserve_pays_at_least_reserve() -> None:
    s = auction(reserve=5000)
    bid(s, "alice", 1000)
    p = bid(s, "bob", 7000)
    # second-price would be 1000 + 50, but the reserve is met: price = 5000
    assert (p["price"], p["leader"], p["reserve_met"]) == (5000, "bob", True)


def test_reserve_not_met_means_no_sale() -> None:
    s = auction(reserve=5000)
    bid(s, "alice", 1000)
    (closed,) = s.handle(Close("close"), END)
    assert closed.payload == {"awards": [], "price": 100, "reserve_met": False}
    assert s.result() == []


def test_soft_close_add_mode_pitfalls() -> None:
    s = auction(close="soft", window=10_000, extension=10_000, cap=125_000)
    bid(s, "alice", 1000, now=50_000)
    assert s.state.end == END  # outside the window: no extension
    assert bid(s, "bob", 500, now=95_000)["end"] == 110_000  # price changed: +10 s
    # a rejected bid never extends (refused() also asserts the end did not move)
    assert refused(s, PlaceBid("low", "bob", 400), now=96_000) == Code.BID_TOO_LOW
    # after the ORIGINAL end, before the extended one: still open (current end is used)
    p = bid(s, "alice", 5000, now=105_000)
    assert p["end"] == 110_000  # leader raising max changes neither price nor leader
    assert bid(s, "carol", 700, now=108_000)["end"] == 120_000
    assert bid(s, "dave", 800, now=115_000)["end"] == 125_000  # capped (would be 130 s)
    assert bid(s, "erin", 900, now=124_000)["end"] == 125_000  # cap: no further
    assert refused(s, PlaceBid("late", "frank", 5000), now=125_000) == Code.CLOSED
    assert refused(s, Close("early"), now=124_999) == Code.TOO_EARLY
    assert ENGLISH.next_deadline(s.state) == 125_000
    (closed,) = s.handle(Close("close"), 125_000)
    assert closed.payload["awards"] == [{"bidder": "alice", "price": 950, "quantity": 1}]
    assert ENGLISH.next_deadline(s.state) is None


def test_soft_close_reset_mode() -> None:
    s = auction(close="soft", window=10_000, extension=5_000, extension_mode="reset")
    bid(s, "alice", 1000, now=1_000)
    assert bid(s, "bob", 500, now=95_000)["end"] == END  # 95 s + 5 s is not later
    assert bid(s, "bob", 700, now=97_000)["end"] == 102_000  # reset to now + 5 s
    assert bid(s, "bob", 800, now=101_000)["end"] == 106_000


def test_hard_close_never_extends() -> None:
    s = auction()
    bid(s, "alice", 1000, now=99_999)
    assert s.state.end == END
    assert refused(s, PlaceBid("x", "bob", 5000), now=END) == Code.CLOSED


def test_not_open_before_start_and_host_cannot_bid() -> None:
    s = auction(start=1_000)
    assert refused(s, PlaceBid("x", "alice", 500), now=999) == Code.NOT_OPEN
    assert refused(s, PlaceBid("y", "host", 500), now=1_000) == Code.FORBIDDEN
    assert refused(s, PlaceBid("z", "alice", 99), now=1_000) == Code.BID_TOO_LOW


def test_buy_now_until_first_bid() -> None:
    s = auction(buy_now=5000)
    bid(s, "alice", 200)
    assert refused(s, BuyNow("b", "bob")) == Code.BUY_NOW_UNAVAILABLE
    s2 = auction(buy_now=5000)
    (env,) = s2.handle(BuyNow("b", "bob"), 20)
    assert env.payload == {"bidder": "bob", "price": 5000}
    assert [(a.bidder, a.price) for a in s2.result() or []] == [("bob", 5000)]
    assert refused(s2, PlaceBid("late", "carol", 9000), now=30) == Code.CLOSED
    assert ENGLISH.exposure(s2.state) == {"bob": 5000}


def test_buy_now_until_reserve_met() -> None:
    s = auction(reserve=3000, buy_now=4000, buy_now_until="reserve_met")
    bid(s, "alice", 1000)  # below the reserve: buy-it-now still offered
    assert ENGLISH.public_view(s.state)["buy_now"] == 4000
    (env,) = s.handle(BuyNow("b", "bob"), 20)
    assert env.type == "bought"
    s2 = auction(reserve=3000, buy_now=4000, buy_now_until="reserve_met")
    bid(s2, "alice", 3500)  # reserve met: no more buy-it-now
    assert refused(s2, BuyNow("b", "bob")) == Code.BUY_NOW_UNAVAILABLE


def test_host_retraction_recomputes_from_remaining_maxima() -> None:
    s = auction()
    bid(s, "alice", 1000)
    bid(s, "bob", 600)  # price 650
    bid(s, "carol", 900)  # price min(1000, 950)
    assert s.state.price == 950
    assert refused(s, Retract("r0", "bob", "alice", "fraud")) == Code.FORBIDDEN
    assert refused(s, Retract("r1", "host", "alice", "")) == Code.INVALID_COMMAND
    assert refused(s, Retract("r2", "host", "zed", "fraud")) == Code.NOT_FOUND
    (env,) = s.handle(Retract("r3", "host", "alice", "shill bidding"), 20)
    # remaining: bob 600, carol 900 -> carol leads at 600 + inc(600) = 650
    assert env.payload == {
        "bidder": "alice",
        "reason": "shill bidding",
        "price": 650,
        "leader": "carol",
        "reserve_met": True,
    }
    s.handle(Retract("r4", "host", "carol", "duplicate account"), 21)
    assert (s.state.price, s.state.leader) == (100, "bob")  # single bid: opening
    s.handle(Retract("r5", "host", "bob", "withdrawn"), 22)
    assert (s.state.price, s.state.leader) == (0, None)
    assert replay(s.log or []).state_hash() == s.state_hash()


def test_idempotent_repeats() -> None:
    s = auction()
    cmd = PlaceBid("same", "alice", 1000)
    first = s.handle(cmd, 10)
    version = s.version
    assert s.handle(cmd, 11) == first  # same events, nothing added
    assert s.version == version
    low = PlaceBid("low", "bob", 1)
    with pytest.raises(Rejected) as one:
        s.handle(low, 12)
    bid(s, "carol", 2000)
    with pytest.raises(Rejected) as two:
        s.handle(low, 13)
    assert two.value is one.value  # the very same rejection
    with pytest.raises(Rejected) as dup:
        s.handle(PlaceBid("same", "alice", 5000), 14)
    assert dup.value.code == Code.DUPLICATE_COMMAND_ID


def test_replay_equal_state_hash_and_transcript_of_rules() -> None:
    s = auction(reserve=500, close="soft", window=5_000, extension=5_000)
    bid(s, "alice", 1000, now=10)
    bid(s, "bob", 700, now=96_000)
    s.handle(Close("c"), s.state.end)
    again = replay(s.log or [])
    assert again.state_hash() == s.state_hash()
    assert again.result() == s.result()


def test_forged_price_is_refused_on_replay() -> None:
    s = auction()
    bid(s, "alice", 1000)
    log = list(s.log or [])
    forged = seal(
        "lot-1",
        3,
        log[-1].hash,
        20,
        "bid",
        "bob",
        "f",
        {"bidder": "bob", "max": 500, "price": 500, "leader": "alice", "reserve_met": True, "end": END},
    )  # the right price is 550
    with pytest.raises(InvalidTransition):
        replay([*log, forged])


@pytest.mark.parametrize(
    "params",
    [
        {"opening": 0},
        {"end": 0},
        {"reserve": -1},
        {"buy_now": 50},
        {"buy_now_until": "never"},
        {"close": "sometimes"},
        {"close": "soft", "extension_mode": "double"},
        {"cap": 10},
        {"window": 5},
        {"increments": [[100, 5]]},
        {"increments": [[100, 5], [50, 10], [None, 20]]},
        {"colour": "red"},
        {"currency": "usd"},
    ],
)
def test_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        auction(**params)


def test_custom_increment_table_is_data() -> None:
    s = auction(increments=[[1000, 10], [None, 100]])
    assert s.state.params.increments.to_data() == [[1000, 10], [None, 100]]
    bid(s, "alice", 5000)
    assert bid(s, "bob", 990)["price"] == 1000  # 990 + 10
    assert bid(s, "bob", 1100)["price"] == 1200  # 1100 + 100
