"""Session behaviour, driven through ``SessionPair`` on both codecs."""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import JSON, MSGPACK, AnyCodec
from protocol.errors import (
    BadFrame,
    HelloRequired,
    InvalidField,
    InvalidState,
    NotSubscribed,
    SlowConsumer,
    TooManyErrors,
    TooManyRooms,
    UnexpectedMessage,
    UnsupportedFrame,
    UnsupportedVersion,
)
from protocol.messages import (
    Ack,
    Batch,
    Error,
    Event,
    Hello,
    Ping,
    PlaceBid,
    Pong,
    Reject,
    Snapshot,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from protocol.session import SessionStatistics
from protocol.states import SessionState, Trigger
from tests.protocol.pair import SessionPair


def state_of(pair: SessionPair) -> SessionState:
    """The session's state (a call, so mypy does not carry narrowing across steps)."""
    return pair.server.state


BID = PlaceBid(id="c1", room="lot-1", amount=1_500, currency="EUR")
WELCOME = Welcome(session_id="s1", version=1, server_time=1_000, user_id="u1")


@pytest.fixture(params=[MSGPACK, JSON], ids=["msgpack", "json"])
def pair(request: pytest.FixtureRequest) -> SessionPair:
    codec: AnyCodec = request.param
    return SessionPair(codec)


def test_handshake_moves_connecting_to_handshake_to_open(pair: SessionPair) -> None:
    assert state_of(pair) is SessionState.CONNECTING
    assert pair.client_sends(Hello(version=1, token="t")) == [Hello(version=1, token="t")]
    assert state_of(pair) is SessionState.HANDSHAKE
    assert pair.server.hello == Hello(version=1, token="t")
    pair.server.send(WELCOME)
    assert state_of(pair) is SessionState.OPEN
    pair.assert_sent(WELCOME)


def test_commands_pipelined_after_hello_are_surfaced_in_order(pair: SessionPair) -> None:
    events = pair.client_sends(Hello(version=1), Subscribe(room="lot-1", since=7), BID)
    assert events == [Hello(version=1), Subscribe(room="lot-1", since=7), BID]
    pair.server.send(WELCOME)
    pair.server.send(Ack(id="c1", room="lot-1", seq=8))
    pair.assert_sent(WELCOME, Ack(id="c1", room="lot-1", seq=8))


def test_command_before_hello_is_rejected_with_its_id(pair: SessionPair) -> None:
    [event] = pair.client_sends(BID)
    assert isinstance(event, HelloRequired)
    pair.assert_sent(Reject(id="c1", code="hello_required", message="place_bid before hello"))
    assert state_of(pair) is SessionState.CONNECTING


def test_message_without_id_before_hello_gets_an_error_frame(pair: SessionPair) -> None:
    [event] = pair.client_sends(Subscribe(room="lot-1"))
    assert isinstance(event, HelloRequired)
    pair.assert_sent(Error(code="hello_required", message="subscribe before hello"))


def test_ping_is_answered_in_any_open_state_and_not_surfaced(pair: SessionPair) -> None:
    assert pair.client_sends(Ping(nonce=1)) == []
    pair.assert_sent(Pong(nonce=1))
    pair.open()
    assert pair.client_sends(Ping(nonce=2)) == []
    pair.assert_sent(Pong(nonce=2))


def test_second_hello_is_unexpected(pair: SessionPair) -> None:
    pair.open()
    [event] = pair.client_sends(Hello(version=1))
    assert isinstance(event, UnexpectedMessage)
    assert [m.type for m in pair.client_receives()] == ["error"]
    assert state_of(pair) is SessionState.OPEN


def test_unsupported_version_closes_with_4001(pair: SessionPair) -> None:
    [event] = pair.client_sends(Hello(version=99))
    assert isinstance(event, UnsupportedVersion)
    [reply] = pair.client_receives()
    assert isinstance(reply, Error) and reply.code == "unsupported_version"
    assert state_of(pair) is SessionState.CLOSING
    assert (pair.server.close_code, pair.server.close_reason) == (4001, "unsupported_version")


def test_subscribe_and_unsubscribe_track_rooms(pair: SessionPair) -> None:
    pair.open("a", "b")
    assert pair.server.rooms == frozenset({"a", "b"})
    assert pair.client_sends(Unsubscribe(room="a")) == [Unsubscribe(room="a")]
    assert pair.server.rooms == frozenset({"b"})
    assert pair.server.is_subscribed("b") and not pair.server.is_subscribed("a")
    pair.server.leave("b")
    assert pair.server.rooms == frozenset()


def test_resubscribing_a_room_is_allowed_and_surfaced(pair: SessionPair) -> None:
    pair.open("a")
    assert pair.client_sends(Subscribe(room="a", since=3)) == [Subscribe(room="a", since=3)]
    assert pair.server.rooms == frozenset({"a"})


def test_unsubscribe_from_unknown_room_is_an_error(pair: SessionPair) -> None:
    pair.open()
    [event] = pair.client_sends(Unsubscribe(room="nope"))
    assert isinstance(event, NotSubscribed)
    assert pair.client_receives() == [Error(code="not_subscribed", message="not subscribed to 'nope'")]


def test_room_command_needs_a_subscription(pair: SessionPair) -> None:
    pair.open("other")
    [event] = pair.client_sends(BID)
    assert isinstance(event, NotSubscribed)
    [reply] = pair.client_receives()
    assert isinstance(reply, Reject) and (reply.id, reply.code) == ("c1", "not_subscribed")
    pair.client_sends(Subscribe(room="lot-1"))
    assert pair.client_sends(BID) == [BID]


def test_room_limit() -> None:
    pair = SessionPair(MSGPACK, max_rooms=2)
    pair.open("a", "b")
    [event] = pair.client_sends(Subscribe(room="c"))
    assert isinstance(event, TooManyRooms)
    assert pair.server.rooms == frozenset({"a", "b"})
    assert pair.client_receives()[0].type == "error"


def test_bad_frame_is_answered_and_the_session_continues(pair: SessionPair) -> None:
    pair.open("lot-1")
    garbage: bytes | str = b"\xc1" if pair.codec is MSGPACK else "{"
    [event] = pair.client_sends_raw(garbage)
    assert isinstance(event, BadFrame)
    [reply] = pair.client_receives()
    assert isinstance(reply, Error) and reply.code == "bad_frame"
    assert pair.client_sends(BID) == [BID]
    assert state_of(pair) is SessionState.OPEN


def test_invalid_field_is_rejected_with_the_command_id(pair: SessionPair) -> None:
    pair.open("lot-1")
    raw = {"type": "place_bid", "id": "c9", "room": "lot-1", "amount": True, "currency": "EUR"}
    frame = msgpack.packb(raw) if pair.codec is MSGPACK else json.dumps(raw)
    [event] = pair.client_sends_raw(frame)
    assert isinstance(event, InvalidField) and event.field == "amount"
    [reply] = pair.client_receives()
    assert isinstance(reply, Reject) and (reply.id, reply.code) == ("c9", "invalid_field")


def test_text_frame_on_msgpack_is_unsupported_but_not_fatal() -> None:
    pair = SessionPair(MSGPACK)
    [event] = pair.client_sends_raw('{"type":"hello","version":1}')
    assert isinstance(event, UnsupportedFrame)
    assert state_of(pair) is SessionState.CONNECTING


def test_too_many_errors_closes_with_1008() -> None:
    pair = SessionPair(JSON, max_errors=3)
    for _ in range(3):
        pair.client_sends_raw("nope")
    assert state_of(pair) is SessionState.CONNECTING
    events = pair.client_sends_raw("nope")
    assert [type(e) for e in events] == [BadFrame, TooManyErrors]
    assert pair.server.statistics().protocol_errors == 4
    codes = [m.code for m in pair.client_receives() if isinstance(m, Error)]
    assert codes == ["bad_frame"] * 4 + ["too_many_errors"]
    assert state_of(pair) is SessionState.CLOSING
    assert pair.server.close_code == 1008
    assert pair.client_sends(Hello(version=1)) == []  # dropped while closing
    assert pair.client_receives() == []


def test_send_rules_by_state(pair: SessionPair) -> None:
    with pytest.raises(InvalidState):
        pair.server.send(Ack(id="c1", room="r", seq=1))  # before hello
    with pytest.raises(InvalidState):
        pair.server.send(WELCOME)  # before hello
    pair.client_sends(Hello(version=1))
    with pytest.raises(InvalidState):
        pair.server.send(Snapshot(room="r", seq=1, state={}))  # before welcome
    pair.server.send(WELCOME)
    with pytest.raises(InvalidState):
        pair.server.send(WELCOME)  # twice
    assert isinstance(InvalidState("x"), AssertionError)


def test_send_frame_takes_pre_encoded_frames_of_its_codec(pair: SessionPair) -> None:
    frame = pair.codec.encode_event("lot-1", 5, "bid_accepted", 2_000, {"amount": 1_500})
    with pytest.raises(InvalidState):
        pair.server.send_frame(frame)  # not open yet
    pair.open("lot-1")
    pair.server.send_frame(frame)
    pair.server.send_frame(pair.codec.encode_batch("lot-1", [frame, frame]))
    event = Event(room="lot-1", seq=5, kind="bid_accepted", time=2_000, data={"amount": 1_500})
    pair.assert_sent(event, Batch(room="lot-1", events=(event, event)))
    other = JSON if pair.codec is MSGPACK else MSGPACK
    with pytest.raises(InvalidState):
        pair.server.send_frame(other.encode(event))


def test_sends_after_close_are_discarded(pair: SessionPair) -> None:
    pair.open("lot-1")
    pair.server.send(Ack(id="c1", room="lot-1", seq=1))
    pair.server.close(1001, "going away")
    pair.server.close(1000, "second close does not win")
    assert (pair.server.close_code, pair.server.close_reason) == (1001, "going away")
    pair.server.send(Ack(id="c2", room="lot-1", seq=2))
    pair.server.send_frame(pair.codec.encode(Pong(nonce=1)))
    pair.assert_sent(Ack(id="c1", room="lot-1", seq=1))  # queued before the close still goes out
    pair.server.connection_lost()
    assert state_of(pair) is SessionState.CLOSED
    pair.server.send(Ack(id="c3", room="lot-1", seq=3))
    pair.server.close()
    pair.server.connection_lost()
    assert state_of(pair) is SessionState.CLOSED
    with pytest.raises(InvalidState):
        pair.server.receive_data(pair.codec.encode(Ping(nonce=1)))


def test_send_queue_is_bounded_by_frames() -> None:
    pair = SessionPair(MSGPACK, max_queue_frames=3)
    pair.open("r")
    for seq in range(3):
        pair.server.send(Ack(id="c", room="r", seq=seq))
    with pytest.raises(SlowConsumer) as info:
        pair.server.send(Ack(id="c", room="r", seq=3))
    assert (info.value.code, info.value.close_code) == ("slow_consumer", 4008)
    assert [m.seq for m in pair.client_receives() if isinstance(m, Ack)] == [0, 1, 2]
    pair.server.send(Ack(id="c", room="r", seq=3))  # drained: room again


def test_send_queue_is_bounded_by_bytes() -> None:
    pair = SessionPair(JSON, max_queue_bytes=200)
    pair.open("r")
    half = Snapshot(room="r", seq=1, state={"blob": "x" * 60})
    pair.server.send(half)
    with pytest.raises(SlowConsumer):
        pair.server.send(half)
    assert pair.server.statistics().queued_frames == 1
    pair.client_receives()
    huge = Snapshot(room="r", seq=1, state={"blob": "x" * 1_000})
    pair.server.send(huge)  # an empty queue always takes one frame
    assert pair.client_receives() == [huge]


def test_a_full_queue_while_replying_closes_the_session() -> None:
    pair = SessionPair(MSGPACK, max_queue_frames=1)
    pair.client_sends(Ping(nonce=1))  # fills the queue
    events = pair.client_sends(Ping(nonce=2))
    assert [type(e) for e in events] == [SlowConsumer]
    assert state_of(pair) is SessionState.CLOSING
    assert pair.server.close_code == 4008


def test_statistics(pair: SessionPair) -> None:
    pair.open("a")
    pair.client_sends_raw(b"\xc1" if pair.codec is MSGPACK else "{")
    stats = pair.server.statistics()
    assert stats == SessionStatistics(
        state=SessionState.OPEN,
        rooms=1,
        frames_received=3,
        frames_sent=1,
        protocol_errors=1,
        queued_frames=1,
        queued_bytes=stats.queued_bytes,
    )
    assert stats.queued_bytes > 0
    assert pair.server.codec is pair.codec


room_names = st.sampled_from(["a", "b", "c", "d"])
actions = st.lists(st.tuples(st.sampled_from(["subscribe", "unsubscribe", "bid"]), room_names), max_size=30)


@settings(max_examples=60, deadline=None)
@given(script=actions)
def test_rooms_follow_a_model(script: list[tuple[str, str]]) -> None:
    pair = SessionPair(MSGPACK, max_rooms=3)
    pair.open()
    model: set[str] = set()
    for n, (action, room) in enumerate(script):
        if action == "subscribe":
            [event] = pair.client_sends(Subscribe(room=room))
            ok = room in model or len(model) < 3
            if ok:
                model.add(room)
        elif action == "unsubscribe":
            [event] = pair.client_sends(Unsubscribe(room=room))
            ok = room in model
            model.discard(room)
        else:
            [event] = pair.client_sends(PlaceBid(id=f"c{n}", room=room, amount=1, currency="EUR"))
            ok = room in model
        assert (not isinstance(event, Exception)) == ok
        assert pair.server.rooms == frozenset(model)
    assert state_of(pair) is SessionState.OPEN


def test_a_transition_outside_the_table_is_a_local_error() -> None:
    pair = SessionPair(MSGPACK)
    with pytest.raises(InvalidState):
        pair.server._transition(Trigger.SEND_WELCOME)  # the guard behind the tables
    assert state_of(pair) is SessionState.CONNECTING
