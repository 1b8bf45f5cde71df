"""REST endpoints (JSON): health, readiness, auctions.

Why thin: handlers validate input, hand a command to the engine and render its answer;
rules live in bidding/, durability in engine/.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bidding import InvalidParams, Rejected, get_format
from bidding.errors import TranscriptError
from engine.errors import NotFound
from engine.projection import public_view
from server.auth import AuthError, Identity
from server.errors import ApiError, error_body, rejection_status

MAX_BODY = 64 * 1024


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


def require(request: Request, role: str) -> Identity:
    """The caller's verified identity, which must hold at least ``role``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError("unauthorized", "a bearer token is required", 401)
    try:
        identity: Identity = request.app.state.signer.check(token.strip(), request.app.state.clock.now())
    except AuthError as exc:
        raise ApiError(exc.code, exc.message, 401) from None
    if not identity.can(role):
        raise ApiError("forbidden", f"this needs the {role} role", 403)
    return identity


async def healthz(request: Request) -> Response:
    return ORJSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    report = await request.app.state.stores.readiness()
    return ORJSONResponse(report, status_code=200 if report["ready"] else 503)


async def create_auction(request: Request) -> Response:
    identity = require(request, "host")
    data = await read_json(request)
    kind = data.get("format", "english")
    params = data.get("params", {})
    if not isinstance(kind, str) or not isinstance(params, dict):
        raise ApiError("invalid_params", "format must be a string and params an object", 422)
    try:
        get_format(kind)
    except TranscriptError:
        raise ApiError("unknown_format", f"no auction format {kind!r}", 422) from None
    params = {**params, "host": identity.user_id}
    try:
        actor = await request.app.state.registry.create(kind, params, actor=identity.user_id)
    except InvalidParams as exc:
        raise ApiError("invalid_params", str(exc), 422) from None
    return ORJSONResponse(public_view(actor.stream, actor.created), status_code=201)


async def get_auction(request: Request) -> Response:
    auction_id = request.path_params["auction_id"]
    try:
        actor = await request.app.state.registry.get(auction_id)
    except NotFound:
        raise ApiError("not_found", f"no auction {auction_id!r}", 404) from None
    view = public_view(actor.stream, actor.created)
    view["state_hash"] = actor.stream.state_hash()
    view["durable_seq"] = actor.durable_version
    return ORJSONResponse(view)


async def list_auctions(request: Request) -> Response:
    rows = await request.app.state.stores.records.list_auctions()
    return ORJSONResponse(
        {
            "auctions": [
                {k: r[k] for k in ("id", "format", "status", "currency", "price", "seq")} for r in rows
            ]
        }
    )


async def auction_events(request: Request) -> Response:
    auction_id = request.path_params["auction_id"]
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        raise ApiError("bad_request", "since must be an integer", 400) from None
    events = await request.app.state.registry.load_events(auction_id)
    if not events:
        raise ApiError("not_found", f"no auction {auction_id!r}", 404)
    return ORJSONResponse({"events": [e for e in events if e["seq"] > since]})


def rejection_response(rejection: Rejected) -> Response:
    return ORJSONResponse(
        error_body(str(rejection.code), rejection.message), status_code=rejection_status(str(rejection.code))
    )


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/auctions", create_auction, methods=["POST"]),
    Route("/auctions", list_auctions, methods=["GET"]),
    Route("/auctions/{auction_id}", get_auction),
    Route("/auctions/{auction_id}/events", auction_events),
]
