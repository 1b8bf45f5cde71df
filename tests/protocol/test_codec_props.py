"""Property tests: every message type round-trips through both codecs."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import JSON, MSGPACK, AnyCodec
from protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES, Batch, Event
from protocol.wire import to_wire
from tests.protocol.strategies import events_of, messages_of, rooms

CODECS = [pytest.param(MSGPACK, id="msgpack"), pytest.param(JSON, id="json")]
PROPS = settings(max_examples=30, deadline=None)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("cls", CLIENT_MESSAGE_TYPES, ids=lambda c: c.type)
@PROPS
@given(data=st.data())
def test_client_message_round_trips(codec: AnyCodec, cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(messages_of(cls))
    frame = codec.encode(msg)
    assert type(frame) is (bytes if codec.binary else str)
    decoded = codec.decode(frame)
    assert type(decoded) is cls
    assert decoded == msg


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("cls", SERVER_MESSAGE_TYPES, ids=lambda c: c.type)
@PROPS
@given(data=st.data())
def test_server_message_round_trips(codec: AnyCodec, cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(messages_of(cls))
    decoded = codec.decode_server(codec.encode(msg))
    assert type(decoded) is cls
    assert decoded == msg


@pytest.mark.parametrize("cls", [*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES], ids=lambda c: c.type)
@PROPS
@given(data=st.data())
def test_both_codecs_carry_the_same_wire_object(cls: type[Any], data: st.DataObject) -> None:
    msg = data.draw(messages_of(cls))
    from_msgpack = msgpack.unpackb(MSGPACK.encode(msg), raw=False)
    from_json = orjson.loads(JSON.encode(msg))
    assert from_msgpack == from_json
    assert from_json["type"] == cls.type
    assert next(iter(from_json)) == "type"


@pytest.mark.parametrize("codec", CODECS)
@PROPS
@given(room=rooms, data=st.data())
def test_spliced_batch_equals_encoded_batch(codec: AnyCodec, room: str, data: st.DataObject) -> None:
    events: list[Event] = data.draw(st.lists(events_of(room), max_size=20))
    frames = [codec.encode_event(e.room, e.seq, e.kind, e.time, e.data) for e in events]
    assert frames == [codec.encode(e) for e in events]
    spliced = codec.encode_batch(room, frames)
    batch = Batch(room, tuple(events))
    assert spliced == codec.encode(batch)
    assert codec.decode_server(spliced) == batch


@PROPS
@given(msg=st.one_of([messages_of(cls) for cls in CLIENT_MESSAGE_TYPES]))
def test_wire_object_has_exactly_the_dataclass_fields(msg: Any) -> None:
    wire = to_wire(msg)
    assert set(wire) == {"type", *(f.name for f in dataclasses.fields(msg))}
