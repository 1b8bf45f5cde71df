"""The ``orderbook`` format: commands, rejections, events, replay, results.

Hand-computed examples; the random-stream checks live in
``test_orderbook_props.py`` and ``test_orderbook_peer.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from bidding.base import Close, Stream, replay
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import seal
from bidding.orderbook import ORDER_BOOK, BookState, CancelOrder, PlaceOrder
from bidding.transcript import make_transcript, verify_transcript


def new_book(**params: Any) -> Stream[BookState]:
    return Stream.create(ORDER_BOOK, "lot-1", params, 0)


def order(
    stream: Stream[BookState],
    actor: str,
    oid: str,
    side: str,
    price: int,
    qty: int,
    tif: str = "gtc",
    now: int = 1,
) -> dict[str, Any]:
    (env,) = stream.handle(PlaceOrder(f"c-{oid}", actor, oid, side, price, qty, tif), now)
    assert env.type == "order_placed"
    return dict(env.payload)


def rejection(stream: Stream[BookState], command: Any, now: int = 1) -> str:
    with pytest.raises(Rejected) as info:
        stream.handle(command, now)
    return info.value.code


def test_two_sided_trading_at_maker_prices() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    order(s, "bob", "b1", "sell", 101, 5)
    placed = order(s, "carol", "c1", "buy", 101, 7)
    assert placed["fills"] == [["a1", 100, 5], ["b1", 101, 2]]
    assert placed["rested"] == 0
    # Bob has 3 left at 101. Dave's buy at 105 takes them at Bob's price 101 and
    # rests 2 at 105.
    placed = order(s, "dave", "d1", "buy", 105, 5)
    assert placed["fills"] == [["b1", 101, 3]]
    assert placed["rested"] == 2
    # A sell at 90 trades at the resting bid's price 105.
    placed = order(s, "erin", "e1", "sell", 90, 1)
    assert placed["fills"] == [["d1", 105, 1]]
    assert s.state.trades == [
        ("c1", "a1", 100, 5),
        ("c1", "b1", 101, 2),
        ("d1", "b1", 101, 3),
        ("d1", "e1", 105, 1),
    ]
    # Carol owes 5*100 + 2*101; Dave 3*101 bought + 105 bought + 105 still resting.
    assert ORDER_BOOK.exposure(s.state) == {"carol": 702, "dave": 303 + 105 + 105}


def test_ioc_and_fok_outcomes_are_recorded() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    order(s, "alice", "a2", "sell", 102, 5)
    killed = order(s, "bob", "b1", "buy", 101, 6, "fok")
    assert (killed["fills"], killed["rested"]) == ([], 0)
    assert s.state["asks"] == [["a1", "alice", 100, 5], ["a2", "alice", 102, 5]]
    partial = order(s, "bob", "b2", "buy", 101, 6, "ioc")
    assert (partial["fills"], partial["rested"]) == ([["a1", 100, 5]], 0)
    assert s.state["bids"] == []
    full = order(s, "bob", "b3", "buy", 102, 5, "fok")
    assert full["fills"] == [["a2", 102, 5]]
    assert s.state["asks"] == []


def test_cancel_rules() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    assert rejection(s, CancelOrder("x1", "mallory", "a1")) == Code.FORBIDDEN
    assert rejection(s, CancelOrder("x2", "alice", "zz")) == Code.NOT_FOUND
    order(s, "bob", "b1", "buy", 100, 2)
    (env,) = s.handle(CancelOrder("x3", "alice", "a1"), 2)
    assert env.payload == {"order_id": "a1", "qty": 3}
    assert rejection(s, CancelOrder("x4", "alice", "a1"), now=2) == Code.NOT_FOUND
    order(s, "carol", "c1", "sell", 100, 2, now=2)
    (env,) = s.handle(CancelOrder("x5", "host", "c1"), 3)
    assert env.payload == {"order_id": "c1", "qty": 2}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (PlaceOrder("k", "a", "o", "hold", 100, 1), Code.INVALID_COMMAND),
        (PlaceOrder("k", "a", "o", "buy", 100, 1, "day"), Code.INVALID_COMMAND),
        (PlaceOrder("k", "a", "o", "buy", 0, 1), Code.INVALID_COMMAND),
        (PlaceOrder("k", "a", "o", "buy", 105, 1), Code.INVALID_COMMAND),  # off tick 10
        (PlaceOrder("k", "a", "o", "buy", 100, 0), Code.INVALID_COMMAND),
        (PlaceOrder("k", "a", "o", "buy", 100, 1001), Code.INVALID_COMMAND),
        (PlaceOrder("k", "a", "o", "buy", True, 1), Code.INVALID_COMMAND),
        (Close("k", "alice"), Code.TOO_EARLY),
    ],
)
def test_invalid_commands_are_rejected(command: Any, code: str) -> None:
    s = new_book(tick=10, max_qty=1000, end=50)
    assert rejection(s, command) == code
    assert s.version == 1


def test_order_ids_are_never_reused() -> None:
    s = new_book()
    order(s, "alice", "o1", "sell", 100, 1)
    order(s, "bob", "o2", "buy", 100, 1)  # o1 is now gone from the book
    assert rejection(s, PlaceOrder("again", "carol", "o1", "buy", 100, 1)) == Code.INVALID_COMMAND


def test_open_window_and_close_by_timer() -> None:
    s = new_book(start=10, end=100)
    assert rejection(s, PlaceOrder("k1", "a", "o1", "buy", 100, 1), now=5) == Code.NOT_OPEN
    order(s, "alice", "o2", "buy", 100, 3, now=10)
    order(s, "bob", "o3", "sell", 120, 4, now=20)
    assert s.next_deadline() == 100
    assert rejection(s, Close("t0"), now=99) == Code.TOO_EARLY
    assert rejection(s, PlaceOrder("k2", "a", "o4", "buy", 100, 1), now=100) == Code.CLOSED
    (env,) = s.handle(Close("t1"), 100)
    assert env.type == "book_closed"
    assert env.payload == {"cancelled": [["o2", 3], ["o3", 4]]}
    assert s.next_deadline() is None
    assert s.result() == []
    assert ORDER_BOOK.exposure(s.state) == {}
    assert rejection(s, Close("t2"), now=101) == Code.CLOSED


def test_host_close_and_result_awards_buyers() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    order(s, "bob", "b1", "buy", 100, 2)
    order(s, "carol", "c1", "buy", 99, 1)
    order(s, "alice", "a2", "sell", 99, 2)  # takes carol's 1 at 99, rests 1
    assert s.result() is None
    s.handle(Close("end", "host"), 2)
    awards = [a.to_dict() for a in s.result() or []]
    assert awards == [
        {"bidder": "bob", "price": 100, "quantity": 2},
        {"bidder": "carol", "price": 99, "quantity": 1},
    ]


def test_idempotent_repeat_returns_first_outcome() -> None:
    s = new_book()
    cmd = PlaceOrder("same", "alice", "a1", "sell", 100, 5)
    first = s.handle(cmd, 1)
    assert s.handle(cmd, 2) == first
    assert s.version == 2
    with pytest.raises(Rejected) as info:
        s.handle(replace(cmd, price=101), 3)
    assert info.value.code == Code.DUPLICATE_COMMAND_ID


def test_replay_rebuilds_state_and_rejects_forged_fills() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    order(s, "bob", "b1", "buy", 100, 3)
    s.handle(CancelOrder("x", "alice", "a1"), 2)
    assert s.log is not None
    again = replay(s.log)
    assert again.state_hash() == s.state_hash()
    assert dict(again.state) == dict(s.state)

    # A log claiming a trade at the taker's price is refused on replay.
    bad = dict(s.log[2].payload)
    bad["fills"] = [["a1", 101, 3]]
    body = s.log[2]
    forged = seal(
        body.stream_id, body.seq, body.prev_hash, body.time, body.type, body.actor,
        body.command_id, bad,
    )  # fmt: skip
    with pytest.raises(InvalidTransition):
        replay([s.log[0], s.log[1], forged])


@pytest.mark.parametrize(
    "events",
    [
        [("order_cancelled", {"order_id": "nope", "qty": 1})],
        [("order_placed", {"order_id": "o", "side": "buy", "price": 1, "qty": 1,
                           "tif": "gtc", "fills": [], "rested": 0})],
        [("book_closed", {"cancelled": []}), ("book_closed", {"cancelled": []})],
        [("mystery", {})],
    ],
)  # fmt: skip
def test_evolve_refuses_impossible_events(events: list[tuple[str, dict[str, Any]]]) -> None:
    s = new_book()
    assert s.log is not None
    log = list(s.log)
    prev = log[0]
    for i, (type_, payload) in enumerate(events):
        prev = seal("lot-1", i + 2, prev.hash, 1, type_, "x", f"c{i}", payload)
        log.append(prev)
    with pytest.raises(InvalidTransition):
        replay(log)


def test_params_are_validated() -> None:
    with pytest.raises(InvalidParams):
        new_book(colour="red")
    with pytest.raises(InvalidParams):
        new_book(start=10, end=5)
    with pytest.raises(InvalidParams):
        new_book(host=3)
    with pytest.raises(InvalidParams):
        new_book(tick=0)


def test_commitment_and_non_book_commands() -> None:
    s = new_book()
    order(s, "alice", "a1", "buy", 100, 5)
    buy = PlaceOrder("k", "alice", "a2", "buy", 10, 3)
    sell = PlaceOrder("k", "alice", "a3", "sell", 10, 3)
    assert ORDER_BOOK.commitment(s.state, buy, 1) == 530
    assert ORDER_BOOK.commitment(s.state, sell, 1) == 500
    assert ORDER_BOOK.commitment(s.state, CancelOrder("k", "alice", "a1"), 1) is None

    class Other:
        command_id = "other"
        actor = "alice"

    assert rejection(s, Other()) == Code.INVALID_COMMAND


def test_transcript_verifies_after_a_json_round_trip() -> None:
    s = new_book()
    order(s, "alice", "a1", "sell", 100, 5)
    order(s, "bob", "b1", "buy", 101, 3, "ioc")
    s.handle(Close("end", "host"), 2)
    doc = orjson.loads(orjson.dumps(make_transcript(s)))
    report = verify_transcript(doc)
    assert report.ok, report.errors
    assert report.awards == [{"bidder": "bob", "price": 100, "quantity": 3}]
    assert report.state_hash == s.state_hash()
    doc["events"][2]["payload"]["fills"][0][1] = 101  # claim the taker's price
    assert not verify_transcript(doc).ok
