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

Why Postgres (migration 0004): a registered webhook is an acknowledged request, and a
delivery being retried when the server dies is a promise in flight; both must survive a
restart. Deliveries form an outbox: the row (with the exact body, so a resumed delivery
sends the same bytes and id) is written before the first attempt, each attempt is
recorded on it, and pending rows are resumed at start-up from their next due time. The
row's unique key (subscription, room, seq, kind) makes a re-detected event a no-op, so a
receiver gets each event once per subscription, barring a crash between a successful
POST and its record (then once more: receivers dedupe on ``X-Fairlot-Delivery``).
Finished deliveries are kept, ``MAX_RECORDS`` per subscription; older ones are deleted.

Why the listener only spawns a task: it runs inside the actor's publish path, so it must
neither block nor raise, or a Postgres outage would stall acks. If Postgres is down when
an event is detected, the outbox insert is retried in that task until Postgres answers
(backoff doubling up to ``MAX_RETRY_S``), not given up after a few tries: the engine keeps
acknowledging bids through an outage of minutes (the journal is Redis), so the events
to announce keep coming and must wait as long. We retry rather than re-detect because
re-detecting needs a durable per-stream cursor plus the state the detection reads (a
sale's stock, a room's host), that is a second projector; the price is that an event
still waiting for Postgres when the process dies or stops is not announced (logged,
as is anything beyond ``MAX_UNRECORDED`` waiting events). Subscriptions are loaded
before the registry recovers, since recovery arms timers that may close an auction at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.draw_service import STREAM_PREFIX
from engine.errors import Unavailable, unavailable_on
from engine.store_postgres import UNREACHABLE
from server.errors import ApiError
from server.rest import read_json, require

if TYPE_CHECKING:
    import asyncpg

    from bidding import Envelope
    from engine.registry import Registry

log = logging.getLogger("fairlot.webhooks")

__all__ = ["EVENT_TYPES", "Subscription", "WebhookStore", "Webhooks", "post", "routes", "sign"]

EVENT_TYPES = ("auction.closed", "sale.sold_out", "draw.completed")
CLOSING_EVENTS = frozenset({"closed", "lapsed", "book_closed", "auction_cleared", "bought"})
MAX_RECORDS = 200
MAX_SUBSCRIPTIONS = 1000
TIMEOUT_S = 5.0
#: Postgres down: the longest wait between two tries of an outbox insert, and how many
#: detected events may wait for it at once (closing events are rare; this is a fence).
MAX_RETRY_S = 30.0
MAX_UNRECORDED = 10_000


def sign(secret: str, timestamp_ms: int, body: bytes) -> str:
    """The ``X-Fairlot-Signature`` header value for ``body``."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_ms},v1={mac}"


@dataclass(slots=True)
class Subscription:
    id: str
    owner: str
    url: str
    events: tuple[str, ...]
    secret: str
    admin: bool = False
    base_url: str = ""

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": list(self.events)}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class WebhookStore:
    """The ``webhooks`` and ``webhook_deliveries`` tables; Postgres is the truth."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def subscriptions(self) -> list[Subscription]:
        with unavailable_on(UNREACHABLE, "Postgres"):
            rows = await self.pool.fetch("SELECT * FROM webhooks ORDER BY created_ms, id")
        return [
            Subscription(
                r["id"], r["owner"], r["url"], tuple(r["events"]), r["secret"], r["admin"], r["base_url"]
            )
            for r in rows
        ]

    async def add(self, sub: Subscription) -> None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "INSERT INTO webhooks (id, owner, url, events, secret, admin, base_url, created_ms)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                sub.id, sub.owner, sub.url, list(sub.events), sub.secret, sub.admin, sub.base_url, _now_ms(),
            )  # fmt: skip

    async def remove(self, sub_id: str) -> None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute("DELETE FROM webhooks WHERE id = $1", sub_id)

    async def add_delivery(
        self, sub_id: str, delivery_id: str, event: str, room: str, seq: int, body: bytes
    ) -> bool:
        """Write the outbox row; False if this event was already recorded for ``sub_id``."""
        now = _now_ms()
        with unavailable_on(UNREACHABLE, "Postgres"):
            inserted = await self.pool.fetchval(
                "INSERT INTO webhook_deliveries (id, webhook_id, event, room, seq, body, state, next_at_ms,"
                " created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)"
                " ON CONFLICT (webhook_id, room, seq, event) DO NOTHING RETURNING 1",
                delivery_id, sub_id, event, room, seq, body, now,
            )  # fmt: skip
        return inserted is not None

    async def record_attempt(
        self, delivery_id: str, attempt: dict[str, Any], state: str, next_at_ms: int
    ) -> None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "UPDATE webhook_deliveries SET attempts = attempts || $2::jsonb, state = $3, next_at_ms = $4"
                " WHERE id = $1",
                delivery_id, [attempt], state, next_at_ms,
            )  # fmt: skip

    async def pending(self) -> list[dict[str, Any]]:
        with unavailable_on(UNREACHABLE, "Postgres"):
            rows = await self.pool.fetch(
                "SELECT id, webhook_id, event, body, attempts, next_at_ms FROM webhook_deliveries"
                " WHERE state = 'pending' ORDER BY created_ms, id"
            )
        return [dict(r) for r in rows]

    async def deliveries(self, sub_id: str, limit: int = MAX_RECORDS) -> list[dict[str, Any]]:
        """The newest ``limit`` deliveries of ``sub_id``, oldest first."""
        with unavailable_on(UNREACHABLE, "Postgres"):
            rows = await self.pool.fetch(
                "SELECT id, event, room, state, attempts FROM webhook_deliveries WHERE webhook_id = $1"
                " ORDER BY created_ms DESC, id DESC LIMIT $2",
                sub_id, limit,
            )  # fmt: skip
        return [dict(r) for r in reversed(rows)]

    async def prune(self, sub_id: str, keep: int = MAX_RECORDS) -> None:
        """Delete finished deliveries of ``sub_id`` beyond the newest ``keep``."""
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND state <> 'pending' AND id IN"
                " (SELECT id FROM webhook_deliveries WHERE webhook_id = $1"
                "  ORDER BY created_ms DESC, id DESC OFFSET $2)",
                sub_id, keep,
            )  # fmt: skip


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
    """Subscriptions, event detection, and deliveries with retries (see module docstring)."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        attempts: int = 5,
        backoff_ms: int = 500,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.attempts = max(1, attempts)
        self.backoff_ms = max(0, backoff_ms)
        self.registry = registry
        #: A cache of the ``webhooks`` table (loaded at start, written through).
        self.subscriptions: dict[str, Subscription] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unrecorded = 0  # detected events whose outbox row is not written yet

    def pending(self) -> int:
        return len(self._tasks)

    async def load(self) -> None:
        """Read the subscriptions and resume every pending delivery (start-up)."""
        self.subscriptions = {sub.id: sub for sub in await self.store.subscriptions()}
        for row in await self.store.pending():
            sub = self.subscriptions.get(row["webhook_id"])
            if sub is not None:
                self._spawn(
                    self._deliver(
                        sub,
                        row["id"],
                        row["event"],
                        bytes(row["body"]),
                        len(row["attempts"]),
                        row["next_at_ms"],
                    )
                )

    async def subscribe(
        self, owner: str, url: str, events: Sequence[str], *, admin: bool = False, base_url: str = ""
    ) -> Subscription:
        """Register a webhook; durable (in Postgres) before this returns."""
        sub = Subscription(
            id=f"wh_{secrets.token_hex(8)}",
            owner=owner,
            url=url,
            events=tuple(events),
            secret=secrets.token_hex(32),
            admin=admin,
            base_url=base_url.rstrip("/"),
        )
        await self.store.add(sub)
        self.subscriptions[sub.id] = sub
        return sub

    async def unsubscribe(self, sub_id: str) -> None:
        await self.store.remove(sub_id)  # its deliveries go with it (ON DELETE CASCADE)
        self.subscriptions.pop(sub_id, None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
            delivery_id = f"dl_{secrets.token_hex(8)}"
            fields = dict(body_base)
            if kind == "draw.completed":
                fields["verify_url"] = f"{sub.base_url}/v/{fields['certificate_hash']}"
            body = orjson.dumps({"id": delivery_id, **fields})
            self._spawn(self._outbox(sub, delivery_id, kind, room, env.seq, body))

    async def _outbox(
        self, sub: Subscription, delivery_id: str, kind: str, room: str, seq: int, body: bytes
    ) -> None:
        """Write the delivery's row, then deliver; a duplicate event stops here.

        Postgres down: retried until it answers (backoff doubling up to ``MAX_RETRY_S``),
        at most ``MAX_UNRECORDED`` events waiting at once (see the module docstring)."""
        if self._unrecorded >= MAX_UNRECORDED:
            log.error("webhook %s: %s seq %d of %s dropped: %d events wait for Postgres",
                      sub.id, kind, seq, room, self._unrecorded)  # fmt: skip
            return
        self._unrecorded += 1
        try:
            delay = max(self.backoff_ms, 1) / 1000.0
            while True:
                try:
                    if not await self.store.add_delivery(sub.id, delivery_id, kind, room, seq, body):
                        return
                    break
                except Unavailable as exc:
                    log.warning("webhook %s: %s seq %d of %s not recorded yet, retry in %.1f s: %s",
                                sub.id, kind, seq, room, delay, exc)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_S)
        except asyncio.CancelledError:
            log.error("webhook %s: %s seq %d of %s never recorded (server stopping)", sub.id, kind, seq, room)
            raise
        finally:
            self._unrecorded -= 1
        await self._deliver(sub, delivery_id, kind, body, 0, _now_ms())

    async def _deliver(
        self, sub: Subscription, delivery_id: str, kind: str, body: bytes, done: int, due_ms: int
    ) -> None:
        """Attempts ``done + 1`` up to ``self.attempts``, the first of them at ``due_ms``;
        each recorded on the delivery's row."""
        wait = (due_ms - _now_ms()) / 1000.0
        if wait > 0:
            await asyncio.sleep(wait)
        for attempt in range(done + 1, self.attempts + 1):
            if sub.id not in self.subscriptions:  # deleted meanwhile (its rows went with it)
                return
            started = time.monotonic()
            stamp = _now_ms()
            record: dict[str, Any] = {"attempt": attempt, "at": stamp}
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "fairlot-webhooks/1",
                "X-Fairlot-Event": kind,
                "X-Fairlot-Delivery": delivery_id,
                "X-Fairlot-Signature": sign(sub.secret, stamp, body),
            }
            try:
                status = await post(sub.url, body, headers)
                record["status"] = status
            except (OSError, TimeoutError, ValueError, ConnectionError, ssl.SSLError) as exc:
                status = 0
                record["error"] = f"{type(exc).__name__}: {exc}"[:300]
            record["duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
            delay = self.backoff_ms / 1000.0 * 2 ** (attempt - 1)  # before the next attempt
            if 200 <= status < 300:
                state = "delivered"
            elif attempt == self.attempts:
                state = "failed"
            else:
                state = "pending"
            try:
                await self.store.record_attempt(delivery_id, record, state, _now_ms() + int(delay * 1000))
            except Unavailable as exc:  # the next start resends it (at least once)
                log.warning(
                    "webhook %s: attempt %d of %s not recorded: %s", sub.id, attempt, delivery_id, exc
                )
            if state != "pending":
                with contextlib.suppress(Unavailable):
                    await self.store.prune(sub.id)
                return
            await asyncio.sleep(delay)

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
    sub = await hooks.subscribe(identity.user_id, url, events, admin=identity.can("admin"), base_url=base)
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
    await _hooks(request).unsubscribe(sub.id)
    return Response(status_code=204)


async def webhook_deliveries(request: Request) -> Response:
    sub = _own(request)
    return JSONResponse({"deliveries": await _hooks(request).store.deliveries(sub.id)})


routes = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{webhook_id}/deliveries", webhook_deliveries, methods=["GET"]),
]
