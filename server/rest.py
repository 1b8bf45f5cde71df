"""REST endpoints (JSON): health, auctions, flash sales, history, transcripts, metrics.

Why thin: handlers validate input, hand a command to the engine and render its answer;
rules live in bidding/, durability in engine/. Every client mistake is an ``ApiError``
or a rejection with a stable code and a 4xx status (``server.errors``); the OpenAPI
document (``server.openapi``) describes exactly these routes, and a schemathesis run
against it must find no 5xx.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bidding import (
    BiddingError,
    Close,
    Envelope,
    Rejected,
    Retract,
    get_format,
    make_transcript,
    replay,
    verify_transcript,
)
from bidding.errors import TranscriptError
from engine.errors import EngineError, NotFound
from engine.projection import event_redactor, public_view
from server import draws_rest
from server.auth import AuthError, Identity, identity_of
from server.errors import ApiError, error_body, rejection_status

MAX_BODY = 64 * 1024
SALE_FORMAT = "flash"
DRAW_FORMAT = "draw"  # draws have their own routes (server.draws_rest)


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError("payload_too_large", f"body exceeds {MAX_BODY} bytes", 413)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError("bad_json", f"body is not valid JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise ApiError("bad_json", "body must be a JSON object", 400)
    return data


def identify(request: Request) -> Identity | None:
    """The verified identity from ``Authorization: Bearer`` or ``X-API-Key``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        token = request.headers.get("x-api-key", "").strip()
        if not token:
            return None
    elif scheme.lower() != "bearer" or not token:
        raise ApiError("unauthorized", "use 'Authorization: Bearer <token>'", 401)
    try:
        return identity_of(request.app.state, token)
    except AuthError as exc:
        raise ApiError(exc.code, exc.message, 401) from None


def require(request: Request, role: str) -> Identity:
    """The caller's verified identity, which must hold at least ``role``; rate-limited."""
    identity = identify(request)
    if identity is None:
        raise ApiError("unauthorized", "a bearer token (or X-API-Key) is required", 401)
    if not identity.can(role):
        raise ApiError("forbidden", f"this needs the {role} role", 403)
    client = request.client
    limited = request.app.state.limiter.check(
        identity.user_id, client.host if client else None, request.app.state.clock.now()
    )
    if limited is not None:
        raise ApiError("rate_limited", f"too many requests per {limited.scope}", 429, limited.retry_after_ms)
    return identity


async def healthz(request: Request) -> Response:
    return ORJSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    report = await request.app.state.stores.readiness()
    return ORJSONResponse(report, status_code=200 if report["ready"] else 503)


async def metrics(request: Request) -> Response:
    return PlainTextResponse(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")


# ---------------------------------------------------------------------- auctions


async def _create(request: Request, kind: str, params: Any) -> Response:
    identity = require(request, "host")
    if not isinstance(kind, str) or not isinstance(params, dict):
        raise ApiError("invalid_params", "format must be a string and params an object", 422)
    try:
        get_format(kind)
    except (TranscriptError, KeyError):
        raise ApiError("unknown_format", f"no auction format {kind[:64]!r}", 422) from None
    stream_id = f"a_{secrets.token_hex(8)}"
    params = {**params, "host": identity.user_id}
    if kind == "sealed":  # commitments bind the auction id, so the host cannot pick another
        params["auction"] = stream_id
    try:
        actor = await request.app.state.registry.create(
            kind, params, actor=identity.user_id, stream_id=stream_id
        )
    except (BiddingError, TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise ApiError("invalid_params", str(exc)[:500] or type(exc).__name__, 422) from None
    return ORJSONResponse(public_view(actor.stream, actor.created), status_code=201)


async def create_auction(request: Request) -> Response:
    data = await read_json(request)
    kind = data.get("format", "english")
    if kind == SALE_FORMAT:
        raise ApiError("unknown_format", "flash sales are created with POST /sales", 422)
    return await _create(request, kind, data.get("params", {}))


async def create_sale(request: Request) -> Response:
    data = await read_json(request)
    return await _create(request, SALE_FORMAT, data.get("params", {}))


async def _actor(request: Request, sale: bool | None = None) -> Any:
    auction_id = request.path_params["auction_id"]
    try:
        actor = await request.app.state.registry.get(auction_id)
    except NotFound:
        raise ApiError("not_found", f"no such id {auction_id[:128]!r}", 404) from None
    if actor.stream.fmt.kind == DRAW_FORMAT or (
        sale is not None and (actor.stream.fmt.kind == SALE_FORMAT) != sale
    ):
        raise ApiError("not_found", f"no {'sale' if sale else 'auction'} {auction_id[:128]!r}", 404)
    return actor


def _view(actor: Any) -> dict[str, Any]:
    view = public_view(actor.stream, actor.created)
    view["state_hash"] = actor.stream.state_hash()
    view["durable_seq"] = actor.durable_version
    return view


async def get_auction(request: Request) -> Response:
    return ORJSONResponse(_view(await _actor(request, sale=False)))


async def get_sale(request: Request) -> Response:
    actor = await _actor(request, sale=True)
    view = _view(actor)
    waiting = getattr(request.app.state, "waiting", None)
    if waiting is not None:
        view["waiting_room"] = waiting.describe(actor.stream_id)
    return ORJSONResponse(view)


async def _list(request: Request, sale: bool) -> Response:
    kind = request.query_params.get("format")
    status = request.query_params.get("status")
    rows = await request.app.state.stores.records.list_auctions()
    out = []
    for r in rows:
        if (r["format"] == SALE_FORMAT) != sale or r["format"] == DRAW_FORMAT:
            continue
        if kind is not None and r["format"] != kind:
            continue
        if status is not None and r["status"] != status:
            continue
        out.append({k: r[k] for k in ("id", "format", "status", "currency", "price", "seq")})
    return ORJSONResponse({"sales" if sale else "auctions": out})


async def list_auctions(request: Request) -> Response:
    return await _list(request, sale=False)


async def list_sales(request: Request) -> Response:
    return await _list(request, sale=True)


async def _close(request: Request, sale: bool) -> Response:
    identity = require(request, "host")
    actor = await _actor(request, sale=sale)
    host = public_host(actor)
    if identity.user_id != host and not identity.can("admin"):
        raise ApiError("forbidden", "only this auction's host (or an admin) may close it", 403)
    command = Close(command_id=f"rest-close:{secrets.token_hex(6)}", actor=identity.user_id)
    try:
        await actor.submit(command)
    except Rejected as rejection:
        return rejection_response(rejection)
    return ORJSONResponse(_view(actor))


def public_host(actor: Any) -> str | None:
    created = actor.created
    params = created.payload.get("params") if created is not None else None
    host = params.get("host") if isinstance(params, dict) else None
    return host if isinstance(host, str) else None


async def retract_bid(request: Request) -> Response:
    """Host retraction: the bid's removal and its reason become an event of the log."""
    identity = require(request, "host")
    data = await read_json(request)
    bidder, reason = data.get("bidder"), data.get("reason")
    if set(data) - {"bidder", "reason"}:
        raise ApiError("invalid_params", "only bidder and reason are accepted", 422)
    if not isinstance(bidder, str) or not 0 < len(bidder) <= 128:
        raise ApiError("invalid_params", "bidder must be a non-empty string", 422)
    if not isinstance(reason, str) or not 0 < len(reason) <= 500:
        raise ApiError("invalid_params", "reason must be a non-empty string of at most 500 characters", 422)
    actor = await _actor(request)
    if identity.user_id != public_host(actor):
        raise ApiError("forbidden", "only this auction's host may retract its bids", 403)
    command = Retract(
        command_id=f"rest-retract:{secrets.token_hex(6)}",
        actor=identity.user_id,
        bidder=bidder,
        reason=reason,
    )
    try:
        await actor.submit(command)
    except Rejected as rejection:
        return rejection_response(rejection)
    return ORJSONResponse(_view(actor))


async def close_auction(request: Request) -> Response:
    return await _close(request, sale=False)


async def close_sale(request: Request) -> Response:
    return await _close(request, sale=True)


async def _raw_events(request: Request, auction_id: str, since: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = await request.app.state.registry.load_events(auction_id, since)
    if not events and since == 0:
        raise ApiError("not_found", f"no auction {auction_id[:128]!r}", 404)
    if not events:
        await _actor(request)  # 404 for an unknown id; an empty page for a known one
    return events


async def auction_events(request: Request) -> Response:
    """Public history: what live viewers saw (proxy maxima and reserves redacted)."""
    auction_id = request.path_params["auction_id"]
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        raise ApiError("bad_request", "since must be an integer", 400) from None
    if since < 0 or since > 2**53:
        raise ApiError("bad_request", "since must be in [0, 2^53]", 400)
    events = await _raw_events(request, auction_id, since)
    actor = await request.app.state.registry.get(auction_id)  # its format decides what is public
    redact = event_redactor(actor.stream, actor.created)
    out = []
    for e in events:
        env = Envelope.from_dict(e, verify=False)
        out.append({"seq": env.seq, "type": env.type, "time": env.time, "data": redact(env)})
    return ORJSONResponse({"events": out})


async def auction_transcript(request: Request) -> Response:
    """The full, verifiable transcript; only once the auction is over (it holds maxima)."""
    auction_id = request.path_params["auction_id"]
    events = await _raw_events(request, auction_id, 0)
    stream = replay(Envelope.from_dict(e, verify=False) for e in events)
    if stream.result() is None:
        raise ApiError("not_closed", "the transcript is published once the auction is over", 409)
    transcript = make_transcript(stream)
    report = verify_transcript(transcript)
    if not report.ok:  # the log itself is damaged: say so rather than publish it
        raise EngineError("the stored log does not verify: " + "; ".join(report.errors))
    return ORJSONResponse(transcript)


def rejection_response(rejection: Rejected) -> Response:
    return ORJSONResponse(
        error_body(str(rejection.code), rejection.message), status_code=rejection_status(str(rejection.code))
    )


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
    Route("/auctions", create_auction, methods=["POST"]),
    Route("/auctions", list_auctions, methods=["GET"]),
    Route("/auctions/{auction_id}", get_auction),
    Route("/auctions/{auction_id}/close", close_auction, methods=["POST"]),
    Route("/auctions/{auction_id}/retract", retract_bid, methods=["POST"]),
    Route("/auctions/{auction_id}/events", auction_events),
    Route("/auctions/{auction_id}/transcript", auction_transcript),
    Route("/sales", create_sale, methods=["POST"]),
    Route("/sales", list_sales, methods=["GET"]),
    Route("/sales/{auction_id}", get_sale),
    Route("/sales/{auction_id}/close", close_sale, methods=["POST"]),
    Route("/sales/{auction_id}/events", auction_events),
    *draws_rest.routes,
]
