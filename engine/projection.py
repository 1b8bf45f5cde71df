"""The ``auctions`` projection row, derived from a stream after each durable batch.

Why derived here and not stored by the cores: the projection is a read model for lists
and REST; it must never feed back into decisions, so it is computed from the state the
cores produced, and rewritten (never moved backwards) as events land.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bidding import Envelope, Stream
from bidding.canonical import to_plain


def public_view(stream: Stream[Any], created: Envelope | None = None) -> dict[str, Any]:
    """What anyone may see of an auction: no hidden maxima, no reserve amount."""
    state = stream.state
    params = _params(stream, created)
    view: dict[str, Any] = {
        "id": stream.stream_id,
        "format": stream.fmt.kind,
        "seq": stream.version,
        "head": stream.head,
        "currency": params.get("currency", ""),
        "status": _status(stream),
        "price": getattr(state, "price", None),
        "leader": getattr(state, "leader", None),
        "end": stream.next_deadline(),
    }
    format_view = getattr(stream.fmt, "public_view", None)
    if format_view is not None:
        view.update(format_view(state))
    result = stream.result()
    if result is not None:
        view["result"] = [a.to_dict() for a in result]
    return view


def _params(stream: Stream[Any], created: Envelope | None = None) -> dict[str, Any]:
    """The normalised params, as recorded in the ``created`` event."""
    if created is not None:
        params = created.payload.get("params")
        if isinstance(params, dict):
            return dict(params)
    if stream.log:
        params = stream.log[0].payload.get("params")
        if isinstance(params, dict):
            return dict(params)
    plain = to_plain(getattr(stream.state, "params", None))
    return plain if isinstance(plain, dict) else {}


def _status(stream: Stream[Any]) -> str:
    state = stream.state
    for name in ("status", "phase"):
        value = getattr(state, name, None)
        if isinstance(value, str):
            return value
    return "closed" if stream.result() is not None else "open"


def auction_row(stream: Stream[Any], last: Envelope, created: Envelope | None = None) -> dict[str, Any]:
    """The ``auctions`` projection row after ``last`` (on the hot path: no copies, and
    only the format's own public view, not the full one)."""
    if created is None and stream.log:
        created = stream.log[0]
    params = created.payload.get("params") if created is not None else None
    if not isinstance(params, dict):
        params = _params(stream, created)
    state = stream.state
    format_view = getattr(stream.fmt, "public_view", None)
    view: Mapping[str, Any] = format_view(state) if format_view is not None else {}
    status = view.get("status")
    if not isinstance(status, str):
        status = _status(stream)
    return {
        "id": stream.stream_id,
        "format": stream.fmt.kind,
        "params": params,
        "status": status,
        "currency": params.get("currency", ""),
        "price": view.get("price", getattr(state, "price", None)),
        "leader": view.get("leader", getattr(state, "leader", None)),
        "seq": stream.version,
        "created_ms": created.time if created is not None else last.time,
        "updated_ms": last.time,
    }


RowBuilder = Callable[[Stream[Any], Envelope], dict[str, Any]]


def row_builder(stream: Stream[Any], created: Envelope | None) -> RowBuilder:
    """``auction_row`` for one auction, with what never changes built once.

    Why: an actor attaches a row to a batch every VIEW_EVERY events or VIEW_INTERVAL_S
    (engine.actor), and when that was every batch, at 1-3 events per batch, building
    the row and encoding its params (the increment table...) again each time was ~10%
    of the engine's instructions per bid. The
    params ride as an ``orjson.Fragment`` of their canonical JSON: the journal encodes
    the row with orjson, which copies the fragment's bytes. Same JSON as
    ``auction_row`` (tests/engine/test_projection.py keeps it so)."""
    if created is None:
        return lambda s, last: auction_row(s, last, None)
    first = auction_row(stream, created, created)
    fixed = {
        "id": first["id"],
        "format": first["format"],
        "params": orjson.Fragment(orjson.dumps(first["params"], option=orjson.OPT_SORT_KEYS)),
        "currency": first["currency"],
        "created_ms": first["created_ms"],
    }
    format_view = getattr(stream.fmt, "public_view", None)

    def build(s: Stream[Any], last: Envelope) -> dict[str, Any]:
        state = s.state
        view: Mapping[str, Any] = format_view(state) if format_view is not None else {}
        status = view.get("status")
        if not isinstance(status, str):
            status = _status(s)
        row = dict(fixed)
        row["status"] = status
        row["price"] = view.get("price", getattr(state, "price", None))
        row["leader"] = view.get("leader", getattr(state, "leader", None))
        row["seq"] = s.version
        row["updated_ms"] = last.time
        return row

    return build


# Event payload fields that must never reach viewers: proxy maxima, sealed amounts
# before the reveal, nonces, hidden reserves. Transcripts (for verifiers, after the
# close) carry everything; live rooms carry only this public part.
PRIVATE_FIELDS = frozenset({"max", "max_amount", "max_bid", "maximum", "nonce", "reserve", "limit"})


def public_event_data(
    env: Envelope, fmt: Any = None, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The part of an event that everyone watching the room may see.

    A format that knows more (reverse offers, sealed call-auction bids) says so with its
    optional ``public_event(params, event)``; otherwise the fields in PRIVATE_FIELDS are
    removed, also from the params of the ``created`` event.
    """
    format_public = getattr(fmt, "public_event", None)
    if format_public is not None:
        shown = format_public(params or {}, env)
        if shown is not None:
            return dict(shown)
    payload = env.payload
    if env.type == "created":
        params_in = payload.get("params")
        if isinstance(params_in, dict) and PRIVATE_FIELDS.intersection(params_in):
            return {**payload, "params": {k: v for k, v in params_in.items() if k not in PRIVATE_FIELDS}}
    if not PRIVATE_FIELDS.intersection(payload):
        return dict(payload)
    return {k: v for k, v in payload.items() if k not in PRIVATE_FIELDS}


def event_redactor(stream: Stream[Any] | None, created: Envelope | None) -> Any:
    """``public_event_data`` bound to one auction's format and params."""
    fmt = stream.fmt if stream is not None else None
    params = created.payload.get("params") if created is not None else None
    params = params if isinstance(params, dict) else None

    def redact(env: Envelope) -> dict[str, Any]:
        return public_event_data(env, fmt, params)

    return redact
