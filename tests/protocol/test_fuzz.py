"""Fuzzing the decoders: whatever arrives, only documented protocol errors escape.

Inputs: random bytes and text, truncated valid frames, deeply nested documents, random
JSON/msgpack structures, and valid messages with one field deleted, replaced or added.
Every call either returns a message of the catalogue or raises a
``RemoteProtocolError`` subclass; anything else fails the test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocol import JSON, MSGPACK, AnyCodec, RemoteProtocolError, Session, limits
from protocol.errors import InvalidMessage, MissingField, UnexpectedField
from protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES
from protocol.wire import to_wire
from tests.protocol.strategies import client_messages, server_messages

CODECS = [pytest.param(MSGPACK, id="msgpack"), pytest.param(JSON, id="json")]
FUZZ = settings(max_examples=150, deadline=None)
ALL_TYPES = (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)
FIELD_NAMES = sorted({f.name for cls in ALL_TYPES for f in dataclasses.fields(cls)})

# Anything msgpack can carry: floats, bytes, ext types, big ints, non-str keys.
any_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=70)
    | st.binary(max_size=16)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))
)
any_value = st.recursive(
    any_scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10) | st.binary(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
# Valid-looking objects: a real tag, real field names, random values.
looking_valid = st.fixed_dictionaries(
    {"type": st.sampled_from([cls.type for cls in ALL_TYPES])},
    optional={name: any_value for name in FIELD_NAMES},
)
looking_valid_json = st.fixed_dictionaries(
    {"type": st.sampled_from([cls.type for cls in ALL_TYPES])},
    optional={name: json_value for name in FIELD_NAMES},
)


def decode_all_ways(data: bytes | str) -> None:
    """Feed ``data`` to every decoder; only RemoteProtocolError may escape."""
    for codec in (MSGPACK, JSON):
        for decode in (codec.decode, codec.decode_server):
            try:
                msg = decode(data)
            except RemoteProtocolError as err:
                assert err.code and isinstance(err.close_code, int)
            else:
                assert type(msg) in ALL_TYPES


@FUZZ
@given(data=st.binary(max_size=300))
@example(b"")
@example(b"\x91" * 100_000)  # nesting bomb (msgpack)
@example(b"\xdd\xff\xff\xff\xff")  # array claiming 4 billion elements
@example(b"\xc1")  # never-used msgpack byte
@example(b"\x81\x01\x02")  # integer map key
@example(b'{"type":"ping","nonce":1}\xff')  # invalid UTF-8 after valid JSON
def test_random_bytes(data: bytes) -> None:
    decode_all_ways(data)


@FUZZ
@given(text=st.text(max_size=300))
@example("[" * 100_000)  # nesting bomb (JSON)
@example('{"type":"ping","nonce":1} x')
@example('"\ud800"')  # lone surrogate
@example("\ud800" * 5000)  # surrogate in a frame long enough to be measured in bytes
@example("é" * (limits.MAX_FRAME_BYTES // 2 + 1))  # few characters, too many bytes
def test_random_text(text: str) -> None:
    decode_all_ways(text)


@pytest.mark.parametrize("codec", CODECS)
@FUZZ
@given(msg=client_messages | server_messages, cut=st.integers(min_value=0))
def test_truncated_frames(codec: AnyCodec, msg: Any, cut: int) -> None:
    frame = codec.encode(msg)
    decode_all_ways(frame[: cut % max(len(frame), 1)])
    if isinstance(frame, str):
        decode_all_ways(frame.encode()[: cut % max(len(frame), 1)])


@FUZZ
@given(obj=any_value | looking_valid)
def test_random_msgpack_structures(obj: Any) -> None:
    decode_all_ways(msgpack.packb(obj, use_bin_type=True))


@FUZZ
@given(obj=json_value | looking_valid_json)
def test_random_json_structures(obj: Any) -> None:
    try:
        text = orjson.dumps(obj).decode()
    except TypeError:  # integers beyond 64 bits: not a JSON document orjson can write
        return
    decode_all_ways(text)


@pytest.mark.parametrize("codec", CODECS)
@FUZZ
@given(
    msg=client_messages,
    victim=st.sampled_from(FIELD_NAMES),
    pick=st.integers(min_value=0, max_value=10),
    value=any_value,
    action=st.sampled_from(["replace", "delete", "add"]),
)
def test_mutated_valid_messages(
    codec: AnyCodec, msg: Any, victim: str, pick: int, value: Any, action: str
) -> None:
    wire = to_wire(msg)
    fields = [name for name in wire if name != "type"]
    name = fields[pick % len(fields)] if fields else victim
    if action == "replace":
        wire[name] = value
    elif action == "delete":
        wire.pop(name, None)
    else:
        name = "x_" + victim
        wire[name] = value
    frame = msgpack.packb(wire, use_bin_type=True) if codec is MSGPACK else _json(wire)
    if frame is None:
        return
    try:
        decoded = codec.decode(frame)
    except InvalidMessage as err:
        if action == "add":
            assert isinstance(err, UnexpectedField)
        if action == "delete":
            assert isinstance(err, MissingField)
        assert err.field == name
        if "id" in wire and isinstance(msg, tuple(CLIENT_MESSAGE_TYPES)) and name != "id":
            assert err.command_id == wire["id"]
    else:
        assert action != "add"
        assert type(decoded) is type(msg)


def _json(wire: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(wire)
    except TypeError:  # bytes, ext types and big ints have no JSON form
        return None


@FUZZ
@given(frames=st.lists(st.binary(max_size=60) | client_messages.map(MSGPACK.encode), max_size=40))
def test_session_survives_any_frames(frames: list[bytes]) -> None:
    session = Session(MSGPACK)
    for frame in frames:
        if session.state.value == "closing":
            break
        session.receive_data(frame)
        for event in session.events_received():
            assert isinstance(event, (RemoteProtocolError, *CLIENT_MESSAGE_TYPES))
        for out in session.data_to_send():
            MSGPACK.decode_server(out)  # every reply is a valid server frame
