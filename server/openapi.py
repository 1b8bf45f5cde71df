"""The OpenAPI 3.1 document of the REST API, and a self-contained docs page.

Why written as data here and not generated from handlers: the handlers are plain
Starlette functions; one explicit document is easier to review than decorators, and a
test checks that every route of the app is in it (and nothing else). The docs page is
rendered from the same document on the server: no CDN, no JavaScript.
"""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from server.draws_openapi import DRAW_PATHS, DRAW_SCHEMAS

__all__ = ["SPEC", "render_docs", "routes"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "A typed error: stable code and a message.")
AUTH: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
ID_PARAM = {
    "name": "auction_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): ERROR for s in statuses}


def _op(summary: str, responses: dict[str, Any], *, secured: bool = False, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if secured:
        op["security"] = AUTH
    return op


CREATE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": _ref("CreateAuction")}},
}
SALE_BODY = {"required": True, "content": {"application/json": {"schema": _ref("CreateSale")}}}
RETRACT_BODY = {"required": True, "content": {"application/json": {"schema": _ref("Retract")}}}
WEBHOOK_BODY = {"required": True, "content": {"application/json": {"schema": _ref("CreateWebhook")}}}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "fairlot",
        "version": "1",
        "description": (
            "Real-time auctions, flash sales and provably-fair draws. Live rooms use the "
            "WebSocket protocol at /ws (docs/protocol.md); this is the REST side. Money is "
            "integer minor units with an ISO 4217 currency; times are integer ms UTC."
        ),
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "`fairlot token USER --role host`"},
            "apiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "a host API key (POST /apikeys) or a token",
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "retry_after_ms": {"type": "integer"},
                        },
                    }
                },
            },
            "CreateAuction": {
                "type": "object",
                "properties": {
                    "format": {
                        "type": "string",
                        "enum": ["english", "dutch", "sealed", "reverse", "orderbook", "callauction"],
                        "default": "english",
                    },
                    "params": {"type": "object", "description": "format parameters (docs/formats.md)"},
                },
            },
            "CreateSale": {
                "type": "object",
                "properties": {
                    "params": {
                        "type": "object",
                        "description": "price, currency, stock, per_buyer_limit, hold_ttl_ms, start, end",
                    }
                },
            },
            "AuctionView": {
                "type": "object",
                "required": ["id", "format", "seq", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "format": {"type": "string"},
                    "seq": {"type": "integer"},
                    "head": {"type": "string"},
                    "currency": {"type": "string"},
                    "status": {"type": "string"},
                    "price": {"type": ["integer", "null"]},
                    "leader": {"type": ["string", "null"]},
                    "end": {"type": ["integer", "null"]},
                },
            },
            "AuctionSummary": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "format": {"type": "string"},
                    "status": {"type": "string"},
                    "currency": {"type": ["string", "null"]},
                    "price": {"type": ["integer", "null"]},
                    "seq": {"type": "integer"},
                },
            },
            "PublicEvent": {
                "type": "object",
                "required": ["seq", "type", "time", "data"],
                "properties": {
                    "seq": {"type": "integer"},
                    "type": {"type": "string"},
                    "time": {"type": "integer"},
                    "data": {"type": "object"},
                },
            },
            "Transcript": {
                "type": "object",
                "required": ["version", "stream_id", "events", "head", "result"],
                "description": "Verifiable with bidding.verify_transcript (docs/formats.md).",
            },
            "Retract": {
                "type": "object",
                "required": ["bidder", "reason"],
                "additionalProperties": False,
                "properties": {
                    "bidder": {"type": "string", "minLength": 1, "maxLength": 128},
                    "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                },
            },
            "CreateWebhook": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "format": "uri", "maxLength": 2048},
                    "events": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "enum": ["auction.closed", "sale.sold_out", "draw.completed"],
                        },
                    },
                },
            },
            "Webhook": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "url": {"type": "string"},
                    "events": {"type": "array", "items": {"type": "string"}},
                    "secret": {"type": "string", "description": "only in the answer to POST"},
                },
            },
        },
    },
    "paths": {
        "/healthz": {"get": _op("The process is alive.", {"200": _json({"type": "object"}, "ok")})},
        "/readyz": {
            "get": _op(
                "Redis and Postgres answer and the schema is current.",
                {"200": _json({"type": "object"}, "ready"), "503": _json({"type": "object"}, "not ready")},
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics (text exposition 0.0.4).",
                {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/auctions": {
            "post": _op(
                "Create an auction (host).",
                {"201": _json(_ref("AuctionView"), "created"), **_errors(400, 401, 403, 413, 422, 429)},
                secured=True,
                requestBody=CREATE_BODY,
            ),
            "get": _op(
                "List auctions.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"auctions": {"type": "array", "items": _ref("AuctionSummary")}},
                        },
                        "auctions",
                    )
                },
                parameters=[
                    {"name": "format", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                ],
            ),
        },
        "/auctions/{auction_id}": {
            "get": _op(
                "An auction's public view.",
                {"200": _json(_ref("AuctionView"), "the auction"), **_errors(404)},
                parameters=[ID_PARAM],
            )
        },
        "/auctions/{auction_id}/close": {
            "post": _op(
                "Close an auction (its host, or an admin); the format's rules apply.",
                {"200": _json(_ref("AuctionView"), "closed"), **_errors(401, 403, 404, 409, 429)},
                secured=True,
                parameters=[ID_PARAM],
            )
        },
        "/auctions/{auction_id}/retract": {
            "post": _op(
                "Retract a bid (the auction's host, with a reason kept in the log); the price "
                "is recomputed from the remaining bids.",
                {
                    "200": _json(_ref("AuctionView"), "retracted"),
                    **_errors(400, 401, 403, 404, 409, 422, 429),
                },
                secured=True,
                parameters=[ID_PARAM],
                requestBody=RETRACT_BODY,
            )
        },
        "/auctions/{auction_id}/events": {
            "get": _op(
                "Public history after `since` (proxy maxima and reserves redacted).",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"events": {"type": "array", "items": _ref("PublicEvent")}},
                        },
                        "events",
                    ),
                    **_errors(400, 404),
                },
                parameters=[
                    ID_PARAM,
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
            )
        },
        "/auctions/{auction_id}/transcript": {
            "get": _op(
                "The full transcript, once the auction is over.",
                {"200": _json(_ref("Transcript"), "transcript"), **_errors(404, 409)},
                parameters=[ID_PARAM],
            )
        },
        "/sales": {
            "post": _op(
                "Create a flash sale (host).",
                {"201": _json(_ref("AuctionView"), "created"), **_errors(400, 401, 403, 413, 422, 429)},
                secured=True,
                requestBody=SALE_BODY,
            ),
            "get": _op(
                "List flash sales.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"sales": {"type": "array", "items": _ref("AuctionSummary")}},
                        },
                        "sales",
                    )
                },
                parameters=[{"name": "status", "in": "query", "schema": {"type": "string"}}],
            ),
        },
        "/sales/{auction_id}": {
            "get": _op(
                "A flash sale's public view and waiting-room figures.",
                {"200": _json(_ref("AuctionView"), "the sale"), **_errors(404)},
                parameters=[ID_PARAM],
            )
        },
        "/sales/{auction_id}/close": {
            "post": _op(
                "Close a flash sale (its host, or an admin).",
                {"200": _json(_ref("AuctionView"), "closed"), **_errors(401, 403, 404, 409, 429)},
                secured=True,
                parameters=[ID_PARAM],
            )
        },
        "/sales/{auction_id}/events": {
            "get": _op(
                "A sale's public history after `since`.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"events": {"type": "array", "items": _ref("PublicEvent")}},
                        },
                        "events",
                    ),
                    **_errors(400, 404),
                },
                parameters=[
                    ID_PARAM,
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
            )
        },
        "/webhooks": {
            "post": _op(
                "Subscribe a URL to signed event POSTs (host).",
                {
                    "201": _json(_ref("Webhook"), "subscribed; keep the secret"),
                    **_errors(400, 401, 403, 422, 429),
                },
                secured=True,
                requestBody=WEBHOOK_BODY,
            ),
            "get": _op(
                "Your webhook subscriptions.",
                {"200": _json({"type": "object"}, "subscriptions"), **_errors(401, 403, 429)},
                secured=True,
            ),
        },
        "/webhooks/{webhook_id}": {
            "delete": _op(
                "Remove a subscription.",
                {"204": {"description": "removed"}, **_errors(401, 403, 404, 429)},
                secured=True,
                parameters=[
                    {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
        "/webhooks/{webhook_id}/deliveries": {
            "get": _op(
                "Recent deliveries and every attempt (time, status or error, duration).",
                {"200": _json({"type": "object"}, "deliveries"), **_errors(401, 403, 404, 429)},
                secured=True,
                parameters=[
                    {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            )
        },
        "/openapi.json": {"get": _op("This document.", {"200": _json({"type": "object"}, "OpenAPI 3.1")})},
        "/docs": {
            "get": _op(
                "Human-readable API docs.",
                {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            )
        },
    },
}

SPEC["components"]["schemas"].update(DRAW_SCHEMAS)
SPEC["paths"].update(DRAW_PATHS)

_SPEC_BYTES = orjson.dumps(SPEC)


def render_docs(spec: dict[str, Any]) -> str:
    """A plain HTML page listing every operation, its parameters and responses."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{esc(spec['info']['title'])} API</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code,pre{background:#f4f4f4;padding:.1rem .3rem}h3{margin-bottom:.2rem}"
        ".m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}</style></head><body>",
        f"<h1>{esc(spec['info']['title'])} REST API</h1><p>{esc(spec['info']['description'])}</p>",
        "<p>Machine-readable: <a href=/openapi.json>/openapi.json</a>. WebSocket protocol: "
        "<code>/ws</code>, see docs/protocol.md.</p>",
    ]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            parts.append(f"<h3><span class=m>{esc(method)}</span><code>{esc(path)}</code></h3>")
            parts.append(f"<p>{esc(op['summary'])}")
            if op.get("security"):
                parts.append(" <em>(needs a token)</em>")
            parts.append("</p><ul>")
            for p in op.get("parameters", []):
                parts.append(f"<li>{esc(p['in'])} <code>{esc(p['name'])}</code></li>")
            body = op.get("requestBody")
            if body:
                for media, content in body["content"].items():
                    schema = content.get("schema", {})
                    ref = schema.get("$ref", "").rsplit("/", 1)[-1]
                    name = ref or media
                    if ref:
                        schema = spec["components"]["schemas"][ref]
                    shown = esc(orjson.dumps(schema).decode())
                    parts.append(f"<li>body <code>{esc(name)}</code>: <pre>{shown}</pre></li>")
            for status, resp in op["responses"].items():
                parts.append(f"<li>{esc(status)}: {esc(resp['description'])}</li>")
            parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


_DOCS = render_docs(SPEC)


async def openapi_json(request: Request) -> Response:
    return Response(_SPEC_BYTES, media_type="application/json")


async def docs(request: Request) -> Response:
    return HTMLResponse(_DOCS)


routes = [Route("/openapi.json", openapi_json), Route("/docs", docs)]
