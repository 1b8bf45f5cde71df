"""Codecs: wire objects <-> frames, one per WebSocket subprotocol.

``MsgpackCodec`` (``fairlot.v1.msgpack``) produces ``bytes`` for binary frames;
``JsonCodec`` (``fairlot.v1.json``) produces ``str`` for text frames. Both are built once
(``MSGPACK``, ``JSON``) and reused: the msgpack ``Packer`` and the unpack options are
created in ``__init__``, not per message.

Fan-out encodes each event once per codec and sends the same frame to every viewer.
``encode_event`` builds an event frame without building an ``Event`` object, and
``encode_batch`` splices already-encoded event frames into a batch frame without
re-encoding them: a batch element is byte-identical to the standalone event frame.

Decoding is strict and only raises ``RemoteProtocolError`` subclasses: the size is
checked before parsing (``FrameTooLarge``), parse failures are ``BadFrame``, a text frame
on the binary subprotocol is ``UnsupportedFrame``, and ``protocol.wire`` checks the
message itself. Encoding raises ``EncodeError`` if a value cannot be represented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, TypeVar, cast

import msgpack
import orjson

from protocol import limits
from protocol.errors import (
    BadFrame,
    BatchTooLarge,
    EncodeError,
    FrameTooLarge,
    UnsupportedFrame,
    UnsupportedSubprotocol,
)
from protocol.messages import ClientMessage, Message, ServerMessage
from protocol.wire import client_from_wire, server_from_wire, to_wire

__all__ = [
    "DEFAULT_SUBPROTOCOL",
    "JSON",
    "JSON_SUBPROTOCOL",
    "MSGPACK",
    "MSGPACK_SUBPROTOCOL",
    "SUBPROTOCOLS",
    "AnyCodec",
    "Codec",
    "Frame",
    "JsonCodec",
    "MsgpackCodec",
    "codec_for_subprotocol",
    "select_subprotocol",
]

MSGPACK_SUBPROTOCOL: Final = "fairlot.v1.msgpack"
JSON_SUBPROTOCOL: Final = "fairlot.v1.json"
#: Supported subprotocols, in server preference order.
SUBPROTOCOLS: Final = (MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL)
#: Used when the client offers no subprotocol at all (plain browser ``new WebSocket(url)``).
DEFAULT_SUBPROTOCOL: Final = JSON_SUBPROTOCOL

#: A WebSocket frame payload: ``bytes`` for binary frames, ``str`` for text frames.
Frame = bytes | str
F_co = TypeVar("F_co", bytes, str, covariant=True)

_ENCODE_ERRORS: Final = (TypeError, ValueError, OverflowError, RecursionError)


class Codec(Protocol[F_co]):
    """What the session and the server need from a codec."""

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol this codec implements."""
        ...

    @property
    def binary(self) -> bool:
        """True if frames are binary (``bytes``), False if text (``str``)."""
        ...

    def encode(self, msg: Message) -> F_co:
        """Encode any message."""
        ...

    def encode_event(self, room: str, seq: int, kind: str, time: int, data: Mapping[str, Any]) -> F_co:
        """Encode an ``event`` frame directly from its fields."""
        ...

    def encode_batch(self, room: str, frames: Sequence[Frame]) -> F_co:
        """Splice encoded event frames of ``room`` (from this codec) into a ``batch``."""
        ...

    def decode(self, data: bytes | str) -> ClientMessage:
        """Decode a client -> server frame strictly."""
        ...

    def decode_server(self, data: bytes | str) -> ServerMessage:
        """Decode a server -> client frame (clients, tests, load generators)."""
        ...


def _check_batch_size(count: int) -> None:
    if count > limits.MAX_BATCH_EVENTS:
        raise BatchTooLarge(f"{count} events in one batch; the limit is {limits.MAX_BATCH_EVENTS}")


class MsgpackCodec:
    """msgpack codec: maps with string keys, binary frames."""

    __slots__ = ("_max_frame", "_max_server_frame", "_pack", "_packer")

    subprotocol: Final = MSGPACK_SUBPROTOCOL
    binary: Final = True

    def __init__(
        self,
        *,
        max_frame_bytes: int = limits.MAX_FRAME_BYTES,
        max_server_frame_bytes: int = limits.MAX_SERVER_FRAME_BYTES,
    ) -> None:
        self._max_frame = max_frame_bytes
        self._max_server_frame = max_server_frame_bytes
        self._packer = msgpack.Packer(use_bin_type=True)
        self._pack = self._packer.pack

    def encode(self, msg: Message) -> bytes:
        """Encode any message to a binary frame."""
        wire = to_wire(msg)
        try:
            return cast(bytes, self._pack(wire))
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode {msg.type}: {exc}") from exc

    def encode_event(self, room: str, seq: int, kind: str, time: int, data: Mapping[str, Any]) -> bytes:
        """Encode an ``event`` frame without building an ``Event``."""
        wire = {"type": "event", "room": room, "seq": seq, "kind": kind, "time": time, "data": data}
        try:
            return cast(bytes, self._pack(wire))
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode event: {exc}") from exc

    def encode_batch(self, room: str, frames: Sequence[Frame]) -> bytes:
        """Splice encoded event frames into a batch: header, then the frames as they are.

        ``frames`` must be this codec's event frames (``bytes``); a ``str`` among them
        raises ``EncodeError``.
        """
        _check_batch_size(len(frames))
        try:
            return b"".join(
                (
                    b"\x83\xa4type\xa5batch\xa4room",
                    self._pack(room),
                    b"\xa6events",
                    self._packer.pack_array_header(len(frames)),
                    *cast(Sequence[bytes], frames),
                )
            )
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode batch: {exc}") from exc

    def decode(self, data: bytes | str) -> ClientMessage:
        """Decode a client frame; only ``RemoteProtocolError`` subclasses escape."""
        return client_from_wire(self._loads(data, self._max_frame))

    def decode_server(self, data: bytes | str) -> ServerMessage:
        """Decode a server frame; only ``RemoteProtocolError`` subclasses escape."""
        return server_from_wire(self._loads(data, self._max_server_frame))

    @staticmethod
    def _loads(data: bytes | str, max_bytes: int) -> object:
        if isinstance(data, str):
            raise UnsupportedFrame("text frame on the binary subprotocol " + MSGPACK_SUBPROTOCOL)
        if len(data) > max_bytes:
            raise FrameTooLarge(f"frame of {len(data)} bytes; the limit is {max_bytes}")
        try:
            # unpackb caps every str/bin/array/map length at len(data) by itself.
            return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
            raise BadFrame(f"not a msgpack object: {type(exc).__name__}") from None


class JsonCodec:
    """JSON codec (orjson): objects, text frames; binary frames of UTF-8 JSON accepted."""

    __slots__ = ("_max_frame", "_max_server_frame")

    subprotocol: Final = JSON_SUBPROTOCOL
    binary: Final = False

    def __init__(
        self,
        *,
        max_frame_bytes: int = limits.MAX_FRAME_BYTES,
        max_server_frame_bytes: int = limits.MAX_SERVER_FRAME_BYTES,
    ) -> None:
        self._max_frame = max_frame_bytes
        self._max_server_frame = max_server_frame_bytes

    def encode(self, msg: Message) -> str:
        """Encode any message to a text frame."""
        wire = to_wire(msg)
        try:
            return orjson.dumps(wire).decode()
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode {msg.type}: {exc}") from exc

    def encode_event(self, room: str, seq: int, kind: str, time: int, data: Mapping[str, Any]) -> str:
        """Encode an ``event`` frame without building an ``Event``."""
        wire = {"type": "event", "room": room, "seq": seq, "kind": kind, "time": time, "data": data}
        try:
            return orjson.dumps(wire).decode()
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode event: {exc}") from exc

    def encode_batch(self, room: str, frames: Sequence[Frame]) -> str:
        """Splice encoded event frames into a batch without re-encoding them.

        ``frames`` must be this codec's event frames (``str``); ``bytes`` among them
        raise ``EncodeError``.
        """
        _check_batch_size(len(frames))
        try:
            return "".join(
                (
                    '{"type":"batch","room":',
                    orjson.dumps(room).decode(),
                    ',"events":[',
                    ",".join(cast(Sequence[str], frames)),
                    "]}",
                )
            )
        except _ENCODE_ERRORS as exc:
            raise EncodeError(f"cannot encode batch: {exc}") from exc

    def decode(self, data: bytes | str) -> ClientMessage:
        """Decode a client frame; only ``RemoteProtocolError`` subclasses escape."""
        return client_from_wire(self._loads(data, self._max_frame))

    def decode_server(self, data: bytes | str) -> ServerMessage:
        """Decode a server frame; only ``RemoteProtocolError`` subclasses escape."""
        return server_from_wire(self._loads(data, self._max_server_frame))

    @staticmethod
    def _loads(data: bytes | str, max_bytes: int) -> object:
        size = len(data)
        if isinstance(data, str) and size * 4 > max_bytes and size <= max_bytes:
            # Characters, not bytes: measure exactly only when it can matter.
            try:
                size = len(data.encode())
            except UnicodeEncodeError:
                raise BadFrame("text frame is not valid UTF-8 (lone surrogate)") from None
        if size > max_bytes:
            raise FrameTooLarge(f"frame of {size} bytes; the limit is {max_bytes}")
        try:
            return orjson.loads(data)
        except ValueError as exc:
            raise BadFrame(f"not a JSON document: {exc}"[: limits.MAX_MESSAGE_LEN]) from None


#: Shared codec instances; build once, reuse everywhere.
MSGPACK: Final = MsgpackCodec()
JSON: Final = JsonCodec()

AnyCodec = MsgpackCodec | JsonCodec

_BY_NAME: Final[dict[str, AnyCodec]] = {MSGPACK_SUBPROTOCOL: MSGPACK, JSON_SUBPROTOCOL: JSON}


def codec_for_subprotocol(name: str | None) -> AnyCodec:
    """The shared codec for a negotiated subprotocol (``None``: ``DEFAULT_SUBPROTOCOL``)."""
    if name is None:
        name = DEFAULT_SUBPROTOCOL
    codec = _BY_NAME.get(name)
    if codec is None:
        raise UnsupportedSubprotocol(f"unsupported subprotocol {name[:64]!r}")
    return codec


def select_subprotocol(offered: Sequence[str]) -> str | None:
    """Pick the server's preferred subprotocol among those a client offered, or None."""
    for name in SUBPROTOCOLS:
        if name in offered:
            return name
    return None
