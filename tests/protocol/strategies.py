"""Hypothesis strategies for every protocol message, written from the documented limits.

They are spelled out per field rather than derived from the field rules, so that the
round-trip tests check the decoders against the documentation, not against themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from protocol import limits
from protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    Batch,
    Event,
    Message,
)

ids = st.text(min_size=1, max_size=limits.MAX_ID_LEN)
rooms = st.text(min_size=1, max_size=limits.MAX_ROOM_LEN)
codes = st.text(min_size=1, max_size=limits.MAX_CODE_LEN)
safe_ints = st.integers(min_value=0, max_value=limits.MAX_SAFE_INT)
amounts = st.integers(min_value=1, max_value=limits.MAX_AMOUNT)
currencies = st.sampled_from(["EUR", "USD", "GBP", "JPY", "CHF"]) | st.from_regex(r"\A[A-Z]{3}\Z")
hex_pairs = st.binary(min_size=1, max_size=limits.MAX_NONCE_HEX_LEN // 2).map(bytes.hex)

# Payloads are what the server puts in events and snapshots: JSON-like, no floats.
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=5)

FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "id": ids,
    "room": rooms,
    "version": st.integers(min_value=1, max_value=limits.MAX_VERSION),
    "token": st.none() | st.text(min_size=1, max_size=limits.MAX_TOKEN_LEN),
    "since": st.none() | safe_ints,
    "amount": amounts,
    "max_amount": amounts,
    "currency": currencies,
    "quantity": st.integers(min_value=1, max_value=limits.MAX_QUANTITY),
    "hold_id": ids,
    "commitment": st.binary(min_size=32, max_size=32).map(bytes.hex),
    "tickets": st.integers(min_value=1, max_value=limits.MAX_TICKETS),
    "session_id": ids,
    "server_time": safe_ints,
    "user_id": st.none() | ids,
    "seq": safe_ints,
    "code": codes,
    "message": st.text(max_size=limits.MAX_MESSAGE_LEN),
    "retry_after_ms": st.none() | safe_ints,
    "kind": codes,
    "time": safe_ints,
    "data": json_objects,
    "state": json_objects,
}
# Same name, different meaning: Ping/Pong nonces are integers, a sealed reveal's is hex.
PER_CLASS_FIELDS: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("ping", "nonce"): safe_ints,
    ("pong", "nonce"): safe_ints,
    ("sealed_reveal", "nonce"): hex_pairs,
}


def events_of(room: str) -> st.SearchStrategy[Event]:
    return st.builds(
        Event,
        room=st.just(room),
        seq=safe_ints,
        kind=codes,
        time=safe_ints,
        data=json_objects,
    )


def batches() -> st.SearchStrategy[Batch]:
    return rooms.flatmap(
        lambda room: st.lists(events_of(room), max_size=8).map(lambda evs: Batch(room, tuple(evs)))
    )


def messages_of(cls: type[Any]) -> st.SearchStrategy[Any]:
    """A strategy of valid instances of one message class."""
    if cls is Batch:
        return batches()
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        strategy = PER_CLASS_FIELDS.get((cls.type, f.name), FIELD_STRATEGIES.get(f.name))
        if strategy is None:
            raise LookupError(f"no strategy for {cls.__name__}.{f.name}")
        kwargs[f.name] = strategy
    return st.builds(cls, **kwargs)


client_messages: st.SearchStrategy[Message] = st.one_of([messages_of(cls) for cls in CLIENT_MESSAGE_TYPES])
server_messages: st.SearchStrategy[Message] = st.one_of([messages_of(cls) for cls in SERVER_MESSAGE_TYPES])
