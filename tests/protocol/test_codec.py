"""Codec edge cases: strict decoding, frame limits, encode errors, subprotocol choice."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from protocol import (
    DEFAULT_SUBPROTOCOL,
    JSON,
    MSGPACK,
    SUBPROTOCOLS,
    AnyCodec,
    JsonCodec,
    MsgpackCodec,
    codec_for_subprotocol,
    limits,
    select_subprotocol,
)
from protocol.errors import (
    BadFrame,
    BatchTooLarge,
    EncodeError,
    FrameTooLarge,
    InvalidField,
    InvalidMessage,
    MissingField,
    UnexpectedField,
    UnknownType,
    UnsupportedFrame,
    UnsupportedSubprotocol,
)
from protocol.messages import Ack, Batch, Event, Hello, PlaceBid, Snapshot, Subscribe

CODECS = [pytest.param(MSGPACK, id="msgpack"), pytest.param(JSON, id="json")]
BID = {"type": "place_bid", "id": "c1", "room": "r", "amount": 100, "currency": "EUR"}
COMMIT = {"type": "sealed_commit", "id": "c", "room": "r", "commitment": "ab" * 32}
REVEAL = {"type": "sealed_reveal", "id": "c", "room": "r", "amount": 1, "nonce": "00ff"}


def frame_of(codec: AnyCodec, obj: Any) -> bytes | str:
    """Encode a raw wire object with the codec's format (bypassing message checks)."""
    return msgpack.packb(obj, use_bin_type=True) if codec is MSGPACK else json.dumps(obj)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", True),  # bool is not int
        ("amount", 100.0),  # float is not int
        ("amount", 0),  # below the minimum
        ("amount", limits.MAX_AMOUNT + 1),
        ("amount", "100"),
        ("amount", None),  # null for a required field
        ("currency", "eur"),
        ("currency", "EURO"),
        ("room", ""),
        ("room", "r" * (limits.MAX_ROOM_LEN + 1)),
        ("id", "i" * (limits.MAX_ID_LEN + 1)),
    ],
)
def test_invalid_fields_are_typed(codec: AnyCodec, field: str, value: Any) -> None:
    with pytest.raises(InvalidField) as info:
        codec.decode(frame_of(codec, {**BID, field: value}))
    assert info.value.field == field
    assert (info.value.code, info.value.close_code) == ("invalid_field", 1008)
    assert info.value.command_id == ("c1" if field != "id" else None)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("obj", "error", "field"),
    [
        ({**BID, "extra": 1}, UnexpectedField, "extra"),
        ({k: v for k, v in BID.items() if k != "currency"}, MissingField, "currency"),
        ({"type": "teleport"}, UnknownType, "type"),
        ({"type": "ack", "id": "c1", "room": "r", "seq": 1}, UnknownType, "type"),  # server-only
        ({"id": "c1"}, InvalidMessage, "type"),
        ({"type": 7}, InvalidMessage, "type"),
        ([BID], InvalidMessage, None),
        (
            {"type": "sealed_commit", "id": "c", "room": "r", "commitment": "AB" * 32},
            InvalidField,
            "commitment",
        ),
        (
            {"type": "sealed_reveal", "id": "c", "room": "r", "amount": 1, "nonce": "abc"},
            InvalidField,
            "nonce",
        ),
        ({"type": "hello", "version": 1, "token": "t" * (limits.MAX_TOKEN_LEN + 1)}, InvalidField, "token"),
    ],
)
def test_malformed_messages(codec: AnyCodec, obj: Any, error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as info:
        codec.decode(frame_of(codec, obj))
    assert getattr(info.value, "field", None) == field


@pytest.mark.parametrize("codec", CODECS)
def test_fields_with_defaults_may_be_omitted_or_null(codec: AnyCodec) -> None:
    assert codec.decode(frame_of(codec, {"type": "hello", "version": 1})) == Hello(version=1)
    explicit = {"type": "subscribe", "room": "r", "since": None}
    assert codec.decode(frame_of(codec, explicit)) == Subscribe(room="r")


@pytest.mark.parametrize("codec", CODECS)
def test_unknown_type_message_is_bounded(codec: AnyCodec) -> None:
    with pytest.raises(UnknownType) as info:
        codec.decode(frame_of(codec, {"type": "x" * 5000}))
    assert len(info.value.message) < 200


def test_msgpack_rejects_text_frames_and_trailing_bytes() -> None:
    with pytest.raises(UnsupportedFrame) as info:
        MSGPACK.decode('{"type":"ping","nonce":1}')
    assert info.value.close_code == 1003
    with pytest.raises(BadFrame) as bad:
        MSGPACK.decode(msgpack.packb({"type": "ping", "nonce": 1}) + b"\x00")
    assert bad.value.close_code == 1007


def test_json_accepts_binary_frames_of_utf8_json() -> None:
    assert JSON.decode(b'{"type":"ping","nonce":5}').type == "ping"
    with pytest.raises(BadFrame):
        JSON.decode(b'{"type":"ping","nonce":5}\xff')


@pytest.mark.parametrize("codec", CODECS)
def test_frame_size_is_checked_before_parsing(codec: AnyCodec) -> None:
    padding = "x" * limits.MAX_FRAME_BYTES
    obj = {"type": "hello", "version": 1, "token": padding}
    with pytest.raises(FrameTooLarge) as info:
        codec.decode(frame_of(codec, obj))
    assert info.value.close_code == 1009


def test_json_frame_size_counts_utf8_bytes_not_characters() -> None:
    small = JsonCodec(max_frame_bytes=100)
    text = json.dumps({"type": "hello", "version": 1, "token": "é" * 40}, ensure_ascii=False)
    assert len(text) < 100 < len(text.encode())
    with pytest.raises(FrameTooLarge):
        small.decode(text)
    assert small.decode(json.dumps({"type": "hello", "version": 1}))


def test_server_frames_have_their_own_larger_limit() -> None:
    big = Snapshot(room="r", seq=1, state={"blob": "x" * (limits.MAX_FRAME_BYTES * 2)})
    for codec in (MSGPACK, JSON):
        assert codec.decode_server(codec.encode(big)) == big
    tight = MsgpackCodec(max_server_frame_bytes=64)
    with pytest.raises(FrameTooLarge):
        tight.decode_server(MSGPACK.encode(big))


@pytest.mark.parametrize("codec", CODECS)
def test_unencodable_values_raise_encode_error_and_the_codec_recovers(codec: AnyCodec) -> None:
    with pytest.raises(EncodeError) as info:
        codec.encode(Event(room="r", seq=1, kind="k", time=1, data={"n": 2**70}))
    assert info.value.code == "encode_error" and not info.value.fatal
    with pytest.raises(EncodeError):
        codec.encode_event("r", 1, "k", 1, {"n": 2**70})
    with pytest.raises(EncodeError):
        codec.encode("not a message")  # type: ignore[arg-type]
    ack = Ack(id="c", room="r", seq=1)
    assert codec.decode_server(codec.encode(ack)) == ack


@pytest.mark.parametrize("codec", CODECS)
def test_batch_limits_and_frame_kind(codec: AnyCodec) -> None:
    frame = codec.encode_event("r", 1, "k", 1, {})
    with pytest.raises(BatchTooLarge) as info:
        codec.encode_batch("r", [frame] * (limits.MAX_BATCH_EVENTS + 1))
    assert info.value.code == "batch_too_large"
    wrong = b"{}" if isinstance(frame, str) else "{}"
    with pytest.raises(EncodeError):
        codec.encode_batch("r", [frame, wrong])
    assert codec.decode_server(codec.encode_batch("r", [])) == Batch(room="r", events=())


@pytest.mark.parametrize("codec", CODECS)
def test_decoded_batch_events_must_share_its_room(codec: AnyCodec) -> None:
    event = {"type": "event", "room": "other", "seq": 1, "kind": "k", "time": 1, "data": {}}
    with pytest.raises(InvalidField) as info:
        codec.decode_server(frame_of(codec, {"type": "batch", "room": "r", "events": [event]}))
    assert info.value.field == "events"
    too_many = [{**event, "room": "r"}] * (limits.MAX_BATCH_EVENTS + 1)
    with pytest.raises(InvalidField):
        codec.decode_server(frame_of(codec, {"type": "batch", "room": "r", "events": too_many}))
    with pytest.raises(InvalidField):
        codec.decode_server(frame_of(codec, {"type": "batch", "room": "r", "events": [{**event, "seq": -1}]}))


def test_subprotocols() -> None:
    assert SUBPROTOCOLS == ("fairlot.v1.msgpack", "fairlot.v1.json")
    assert codec_for_subprotocol("fairlot.v1.msgpack") is MSGPACK
    assert codec_for_subprotocol("fairlot.v1.json") is JSON
    assert codec_for_subprotocol(None) is JSON
    assert JSON.subprotocol == DEFAULT_SUBPROTOCOL
    with pytest.raises(UnsupportedSubprotocol) as info:
        codec_for_subprotocol("fairlot.v0.xml")
    assert info.value.fatal
    assert select_subprotocol(["fairlot.v1.json", "fairlot.v1.msgpack"]) == "fairlot.v1.msgpack"
    assert select_subprotocol(["fairlot.v1.json"]) == "fairlot.v1.json"
    assert select_subprotocol(["chat"]) is None
    assert (MSGPACK.binary, JSON.binary) == (True, False)


def test_msgpack_frames_are_compact_maps() -> None:
    frame = MSGPACK.encode(PlaceBid(id="c1", room="r", amount=100, currency="EUR"))
    assert msgpack.unpackb(frame) == BID
    assert len(frame) < len(JSON.encode(PlaceBid(id="c1", room="r", amount=100, currency="EUR")))
