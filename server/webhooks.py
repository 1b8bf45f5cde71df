"""Webhooks: HMAC-signed POSTs on auction closed / sale sold out / draw completed.

Why signed: the receiver must be able to tell our POST from anyone's. Each subscription
gets its own secret (returned once, at registration); every delivery carries
``X-Fairlot-Signature: t=<ms>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, so a receiver
checks the MAC and rejects old timestamps (replays).

Why retries with backoff and recorded attempts: receivers go down. A delivery is tried
up to ``attempts`` times, waiting ``backoff_ms``, then twice that, and so on; anything but
a 2xx answer (or no answer within the timeout) is a failure. Every attempt is recorded
(time, status or error, duration) and listed by ``GET /webhooks/{id}/deliveries``.

Events are detected from the durable event batches (the registry's listener), so a
webhook is never sent for something that is not durable. ``draw.completed`` fires when a
draw's ``drawn`` event is durable (its certificate exists, signed, at that seq); its body
adds ``draw_id``, ``certificate_hash``, ``winners``, ``alternates``, ``verify_url`` and
``published_at_ms``: the certificate is published (the verify URL and
``GET /certificates/{hash}`` answer) once the stage has revealed every winner, at
``published_at_ms`` on the server's clock. The verify URL is built on the base URL the
subscription was registered through, so it names the server as the host reaches it.

Subscriptions and delivery records live in this process's memory (bounded: the last
``MAX_RECORDS`` deliveries per subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.draw_service import STREAM_PREFIX
from server.errors import ApiError
from server.rest import read_json, require

if TYPE_CHECKING:
    from bidding import Envelope
    from engine.registry import Registry

__all__ = ["EVENT_TYPES", "Delivery", "Subscription", "Webhooks", "post", "routes", "sign"]

EVENT_TYPES = ("auction.closed", "sale.sold_out", "draw.completed")
CLOSING_EVENTS = frozenset({"closed", "lapsed", "book_closed", "auction_cleared", "bought"})
MAX_RECORDS = 200
MAX_SUBSCRIPTIONS = 1000
TIMEOUT_S = 5.0


def sign(secret: str, timestamp_ms: int, body: bytes) -> str:
    """The ``X-Fairlot-Signature`` header value for ``body``."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_ms},v1={mac}"


@dataclass(slots=True)
class Delivery:
    """One event for one subscription, with its attempts."""

    id: str
    event: str
    room: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: str = "pending"  # pending, delivered, failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "room": self.room,
            "state": self.state,
            "attempts": self.attempts,
        }


@dataclass(slots=True)
class Subscription:
    id: str
    owner: str
    url: str
    events: tuple[str, ...]
    secret: str
    admin: bool = False
    base_url: str = ""
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=MAX_RECORDS))

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": list(self.events)}


async def post(url: str, body: bytes, headers: dict[str, str], limit_s: float = TIMEOUT_S) -> int:
    """POST ``body`` to ``url`` (HTTP/1.1, one connection); the response status.

    A few lines of asyncio instead of an HTTP client dependency: we only ever need one
    POST and its status line.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    head += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if secure else None
        )
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.split(b" ", 2)
            if len(fields) < 2 or not fields[0].startswith(b"HTTP/"):
                raise ConnectionError(f"not an HTTP response: {status_line[:60]!r}")
            return int(fields[1])
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.wait_for(exchange(), limit_s)


class Webhooks:
    """Subscriptions, event detection, and deliveries with retries."""

    def __init__(self, *, attempts: int = 5, backoff_ms: int = 500, registry: Registry | None = None) -> None:
        self.attempts = max(1, attempts)
        self.backoff_ms = max(0, backoff_ms)
        self.registry = registry
        self.subscriptions: dict[str, Subscription] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def pending(self) -> int:
        return len(self._tasks)

    def subscribe(
        self, owner: str, url: str, events: Sequence[str], *, admin: bool = False, base_url: str = ""
    ) -> Subscription:
        sub = Subscription(
            id=f"wh_{secrets.token_hex(8)}",
            owner=owner,
            url=url,
            events=tuple(events),
            secret=secrets.token_hex(32),
            admin=admin,
            base_url=base_url.rstrip("/"),
        )
        self.subscriptions[sub.id] = sub
        return sub

    # ------------------------------------------------------------------ detection

    def on_events(self, stream_id: str, envelopes: Sequence[Envelope]) -> None:
        """Registry listener: turn durable batches into webhook events."""
        if not self.subscriptions:
            return
        for env in envelopes:
            if stream_id.startswith(STREAM_PREFIX):
                if env.type == "drawn":
                    self.emit("draw.completed", stream_id, env, self._drawn(stream_id, env))
            elif env.type in CLOSING_EVENTS or (env.type == "sold" and env.payload.get("remaining") == 0):
                self.emit("auction.closed", stream_id, env)
            elif env.type == "purchased" and self._sold_out(stream_id):
                self.emit("sale.sold_out", stream_id, env)

    def _drawn(self, stream_id: str, env: Envelope) -> dict[str, Any]:
        """The draw.completed fields (the verify URL is added per subscription)."""
        body = env.payload.get("certificate", {}).get("body", {})
        winners = len(body.get("winners", ()))
        interval = 0
        if self.registry is not None and (actor := self.registry.peek(stream_id)) is not None:
            interval = int(getattr(actor.stream.state, "reveal_interval_ms", 0) or 0)
        return {
            "draw_id": stream_id.removeprefix(STREAM_PREFIX),
            "certificate_hash": env.payload.get("certificate_hash"),
            "winners": winners,
            "alternates": len(body.get("alternates", ())),
            # the stage's timer: one reveal every max(1, interval) ms after drawn
            "published_at_ms": env.time + max(1, interval) * winners,
        }

    def _sold_out(self, stream_id: str) -> bool:
        if self.registry is None:
            return False
        actor = self.registry.peek(stream_id)
        if actor is None:
            return False
        state = actor.stream.state
        params = getattr(state, "params", None)
        stock = params.get("stock") if isinstance(params, dict) else None
        return isinstance(stock, int) and getattr(state, "sold", -1) >= stock

    def _host_of(self, stream_id: str) -> str | None:
        if self.registry is None:
            return None
        actor = self.registry.peek(stream_id)
        created = actor.created if actor is not None else None
        params = created.payload.get("params") if created is not None else None
        host = params.get("host") if isinstance(params, dict) else None
        return host if isinstance(host, str) else None

    def emit(self, kind: str, room: str, env: Envelope, extra: dict[str, Any] | None = None) -> None:
        host = self._host_of(room)
        body_base = {"type": kind, "room": room, "seq": env.seq, "time": env.time, "kind": env.type}
        body_base.update(extra or {})
        for sub in list(self.subscriptions.values()):
            if kind not in sub.events or (not sub.admin and sub.owner != host):
                continue
            delivery = Delivery(id=f"dl_{secrets.token_hex(8)}", event=kind, room=room)
            sub.deliveries.append(delivery)
            fields = dict(body_base)
            if kind == "draw.completed":
                fields["verify_url"] = f"{sub.base_url}/v/{fields['certificate_hash']}"
            body = orjson.dumps({"id": delivery.id, **fields})
            task = asyncio.get_running_loop().create_task(self._deliver(sub, delivery, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: Subscription, delivery: Delivery, body: bytes) -> None:
        delay = self.backoff_ms / 1000.0
        for attempt in range(1, self.attempts + 1):
            started = time.monotonic()
            stamp = time.time_ns() // 1_000_000
            record: dict[str, Any] = {"attempt": attempt, "at": stamp}
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "fairlot-webhooks/1",
                "X-Fairlot-Event": delivery.event,
                "X-Fairlot-Delivery": delivery.id,
                "X-Fairlot-Signature": sign(sub.secret, stamp, body),
            }
            try:
                status = await post(sub.url, body, headers)
                record["status"] = status
            except (OSError, TimeoutError, ValueError, ConnectionError, ssl.SSLError) as exc:
                status = 0
                record["error"] = f"{type(exc).__name__}: {exc}"[:300]
            record["duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
            delivery.attempts.append(record)
            if 200 <= status < 300:
                delivery.state = "delivered"
                return
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        delivery.state = "failed"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# ---------------------------------------------------------------------- REST


def _hooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.webhooks
    return hooks


async def create_webhook(request: Request) -> Response:
    identity = require(request, "host")
    data = await read_json(request)
    url = data.get("url")
    events = data.get("events", list(EVENT_TYPES))
    if not isinstance(url, str) or len(url) > 2048:
        raise ApiError("invalid_params", "url must be a string of at most 2048 characters", 422)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError("invalid_params", "url must be an absolute http(s) URL", 422)
    try:
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise ApiError("invalid_params", "url has an invalid port", 422) from None
    if not isinstance(events, list) or not events or any(e not in EVENT_TYPES for e in events):
        raise ApiError("invalid_params", f"events must be a non-empty subset of {list(EVENT_TYPES)}", 422)
    hooks = _hooks(request)
    if len(hooks.subscriptions) >= MAX_SUBSCRIPTIONS:
        raise ApiError("too_many_webhooks", "webhook limit reached", 429)
    base = str(request.base_url)
    sub = hooks.subscribe(identity.user_id, url, events, admin=identity.can("admin"), base_url=base)
    return JSONResponse({**sub.public(), "secret": sub.secret}, status_code=201)


def _own(request: Request) -> Subscription:
    identity = require(request, "host")
    sub = _hooks(request).subscriptions.get(request.path_params["webhook_id"])
    if sub is None or (sub.owner != identity.user_id and not identity.can("admin")):
        raise ApiError("not_found", "no such webhook", 404)
    return sub


async def list_webhooks(request: Request) -> Response:
    identity = require(request, "host")
    subs = [s.public() for s in _hooks(request).subscriptions.values() if s.owner == identity.user_id]
    return JSONResponse({"webhooks": subs})


async def delete_webhook(request: Request) -> Response:
    sub = _own(request)
    del _hooks(request).subscriptions[sub.id]
    return Response(status_code=204)


async def webhook_deliveries(request: Request) -> Response:
    sub = _own(request)
    return JSONResponse({"deliveries": [d.to_dict() for d in sub.deliveries]})


routes = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{webhook_id}/deliveries", webhook_deliveries, methods=["GET"]),
]
