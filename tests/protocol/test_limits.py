"""Limits fit together: every valid message fits in a frame, integers stay JS-safe."""

from __future__ import annotations

from protocol import JSON, MSGPACK, limits
from protocol.messages import Hello, SealedReveal


def test_integer_caps_are_javascript_safe() -> None:
    assert limits.MAX_SAFE_INT == 2**53 - 1
    assert limits.MAX_AMOUNT <= limits.MAX_SAFE_INT
    assert limits.MAX_QUANTITY <= limits.MAX_SAFE_INT


def test_largest_valid_client_messages_fit_in_a_frame() -> None:
    hello = Hello(version=limits.MAX_VERSION, token="\u20ac" * limits.MAX_TOKEN_LEN)
    reveal = SealedReveal(
        id="\u20ac" * limits.MAX_ID_LEN,
        room="\u20ac" * limits.MAX_ROOM_LEN,
        amount=limits.MAX_AMOUNT,
        nonce="f" * limits.MAX_NONCE_HEX_LEN,
    )
    for codec in (MSGPACK, JSON):
        for msg in (hello, reveal):
            frame = codec.encode(msg)
            size = len(frame) if isinstance(frame, bytes) else len(frame.encode())
            assert size <= limits.MAX_FRAME_BYTES
            assert codec.decode(frame) == msg


def test_queue_and_batch_bounds_are_positive() -> None:
    assert limits.MAX_BATCH_EVENTS >= 50
    assert limits.SEND_QUEUE_MAX_FRAMES > limits.MAX_BATCH_EVENTS
    assert limits.SEND_QUEUE_MAX_BYTES >= limits.MAX_FRAME_BYTES
    assert limits.PROTOCOL_VERSION in limits.SUPPORTED_VERSIONS
