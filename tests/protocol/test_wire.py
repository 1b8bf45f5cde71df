"""Wire objects: the codec-independent layer shared by both codecs."""

from __future__ import annotations

import pytest

from protocol.errors import EncodeError, InvalidMessage, UnknownType
from protocol.messages import Batch, Event, Hello, Ping, PlaceBid
from protocol.wire import client_from_wire, event_to_wire, make_decoder, server_from_wire, to_wire

EVENT = Event(room="r", seq=3, kind="bid_accepted", time=9, data={"amount": 5})


def test_to_wire_puts_the_tag_first_and_nests_batch_events() -> None:
    wire = to_wire(Batch(room="r", events=(EVENT,)))
    assert list(wire) == ["type", "room", "events"]
    assert wire["events"] == [event_to_wire(EVENT)] == [to_wire(EVENT)]
    with pytest.raises(EncodeError):
        to_wire(object())  # type: ignore[arg-type]


def test_sides_do_not_mix() -> None:
    assert client_from_wire({"type": "ping", "nonce": 1}) == Ping(nonce=1)
    with pytest.raises(UnknownType):
        server_from_wire({"type": "ping", "nonce": 1})
    with pytest.raises(UnknownType):
        client_from_wire(to_wire(EVENT))
    assert server_from_wire(to_wire(EVENT)) == EVENT


def test_decoded_message_equals_constructed_one() -> None:
    decode = make_decoder(PlaceBid)
    wire = {"type": "place_bid", "id": "c", "room": "r", "amount": 7, "currency": "EUR"}
    decoded = decode(wire)
    assert decoded == PlaceBid(id="c", room="r", amount=7, currency="EUR")
    assert hash(decoded) == hash(PlaceBid(id="c", room="r", amount=7, currency="EUR"))
    assert make_decoder(Hello)({"type": "hello", "version": 2}) == Hello(version=2)


def test_batch_elements_must_be_events() -> None:
    with pytest.raises(InvalidMessage):
        server_from_wire({"type": "batch", "room": "r", "events": [{"type": "pong", "nonce": 1}]})
    with pytest.raises(InvalidMessage):
        server_from_wire({"type": "batch", "room": "r", "events": ["event"]})
    with pytest.raises(InvalidMessage):
        server_from_wire({"type": "batch", "room": "r", "events": {"type": "event"}})
