"""The draws, certificates and API-key part of the OpenAPI document (``server.openapi``)."""

from __future__ import annotations

from typing import Any

__all__ = ["DRAW_PATHS", "DRAW_SCHEMAS"]

AUTH: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
ERROR = {
    "description": "A typed error.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
DRAW_ID = {
    "name": "draw_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
CERT_HASH = {
    "name": "cert_hash",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): ERROR for s in statuses}


def _op(summary: str, responses: dict[str, Any], *, secured: bool = False, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if secured:
        op["security"] = AUTH
    return op


DRAW_SCHEMAS: dict[str, Any] = {
    "CreateDraw": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "winners": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
            "alternates": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 0},
            "weighted": {"type": "boolean", "default": False},
            "rules": {
                "type": "object",
                "description": "filters (docs/fairness.md): one_per_user, required_hashtags, min_mentions, "
                "exclude, window_start_ms, window_end_ms",
            },
            "beacon": {
                "type": "object",
                "description": "{kind: commit-reveal|drand, delay_ms, round (drand)}; the round is fixed "
                "at commit time when not given",
            },
            "reveal_interval_ms": {"type": "integer", "minimum": 0, "maximum": 3600000, "default": 1000},
            "close_ms": {"type": "integer", "minimum": 0, "description": "entries close (default: commit)"},
        },
    },
    "RunDraw": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "reveal_interval_ms": {"type": "integer", "minimum": 0, "maximum": 3600000},
            "beacon_value": {
                "type": "object",
                "description": "a drand round as published {kind: drand, round, signature, randomness}",
            },
        },
    },
    "Substitute": {
        "type": "object",
        "required": ["position", "reason"],
        "properties": {
            "position": {"type": "integer", "minimum": 0},
            "reason": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"},
        },
    },
    "DrawView": {
        "type": "object",
        "required": ["id", "room", "seq", "status"],
        "properties": {
            "id": {"type": "string"},
            "room": {"type": "string", "description": "the stage room: subscribe over /ws"},
            "seq": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["created", "imported", "committed", "scheduled", "revealing", "complete"],
            },
            "title": {"type": "string"},
            "host": {"type": "string"},
            "winners": {"type": "integer"},
            "alternates": {"type": "integer"},
            "entries": {
                "type": ["object", "null"],
                "description": "raw_sha256, format, size, rows, eligible, waterfall",
            },
            "commitment": {"type": ["object", "null"]},
            "commitment_hash": {"type": ["string", "null"]},
            "ready_at_ms": {"type": ["integer", "null"], "description": "when the beacon exists"},
            "reveal_interval_ms": {"type": "integer"},
            "revealed": {"type": "array", "items": {"type": "object"}, "description": "winners shown so far"},
            "next_reveal_ms": {"type": ["integer", "null"]},
            "certificate_hash": {"type": ["string", "null"]},
            "substitutions": {"type": "integer"},
            "excluded": {"type": "array", "items": {"type": "object"}, "description": "after an import"},
        },
    },
    "ApiKey": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "user_id": {"type": "string"},
            "role": {"type": "string"},
            "label": {"type": "string"},
            "created_ms": {"type": "integer"},
            "revoked_ms": {"type": ["integer", "null"]},
            "key": {"type": "string", "description": "only in the answer to POST /apikeys; keep it"},
        },
    },
}

_DRAW = _json(_ref("DrawView"), "the draw")
_CERT = _json({"type": "object"}, "the certificate (canonical JSON); verify with `fairlot verify`")
_UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "format": {"type": "string", "enum": ["csv", "json"]},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {}},
    },
}

DRAW_PATHS: dict[str, Any] = {
    "/draws": {
        "post": _op(
            "Create a draw (host). Then import entries, commit, run.",
            {"201": _json(_ref("DrawView"), "created"), **_errors(400, 401, 403, 413, 422, 429)},
            secured=True,
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("CreateDraw")}}},
        ),
        "get": _op(
            "List draws.",
            {"200": _json({"type": "object", "properties": {"draws": {"type": "array"}}}, "draws")},
            parameters=[
                {"name": "status", "in": "query", "schema": {"type": "string"}},
                {"name": "host", "in": "query", "schema": {"type": "string"}},
            ],
        ),
    },
    "/draws/{draw_id}": {
        "get": _op(
            "A draw's public view (no unrevealed winner).",
            {"200": _DRAW, **_errors(404)},
            parameters=[DRAW_ID],
        )
    },
    "/draws/{draw_id}/events": {
        "get": _op(
            "The draw's public history after `since`, as its stage room `draw:<id>` shows it: "
            "`drawn` without the certificate, winners only in their `revealed` events.",
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
                DRAW_ID,
                {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
        )
    },
    "/draws/{draw_id}/entries": {
        "post": _op(
            "Import entries (the draw's host): a multipart `file` (CSV or JSON) or the raw body "
            "(`?format=csv|json`). Replaces an earlier import until the commit. A bad file is a 422 "
            "naming its row; too big a 413 `upload_too_large`.",
            {"200": _DRAW, **_errors(400, 401, 403, 404, 409, 413, 422, 429)},
            secured=True,
            parameters=[
                DRAW_ID,
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "json"]}},
            ],
            requestBody=_UPLOAD,
        )
    },
    "/draws/{draw_id}/commit": {
        "post": _op(
            "Sign and publish the commitment (root, counts, rules, beacon round).",
            {"200": _DRAW, **_errors(401, 403, 404, 409, 422, 429, 503)},
            secured=True,
            parameters=[DRAW_ID],
        )
    },
    "/draws/{draw_id}/run": {
        "post": _op(
            "Draw at the beacon's time (now if it has passed): 200 once drawn, 202 while the stage "
            "counts down. Winners are then revealed one per `reveal_interval_ms` in room `draw:<id>`.",
            {"200": _DRAW, "202": _DRAW, **_errors(400, 401, 403, 404, 409, 413, 422, 429)},
            secured=True,
            parameters=[DRAW_ID],
            requestBody={"required": False, "content": {"application/json": {"schema": _ref("RunDraw")}}},
        )
    },
    "/draws/{draw_id}/substitute": {
        "post": _op(
            "Replace a winner by the next unused alternate (a signed, appended record).",
            {"200": _DRAW, **_errors(400, 401, 403, 404, 409, 413, 422, 429)},
            secured=True,
            parameters=[DRAW_ID],
            requestBody={"required": True, "content": {"application/json": {"schema": _ref("Substitute")}}},
        )
    },
    "/draws/{draw_id}/certificate": {
        "get": _op(
            "The certificate, once every winner is revealed.",
            {"200": _CERT, **_errors(404, 409)},
            parameters=[DRAW_ID],
        )
    },
    "/draws/{draw_id}/certificate.pdf": {
        "get": _op(
            "The certificate as a PDF with a verification QR code.",
            {
                "200": {
                    "description": "PDF",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_errors(404, 409),
            },
            parameters=[DRAW_ID],
        )
    },
    "/certificates/{cert_hash}": {
        "get": _op(
            "A published certificate by its hash.", {"200": _CERT, **_errors(404)}, parameters=[CERT_HASH]
        )
    },
    "/certificates/{cert_hash}/leaves": {
        "get": _op(
            "The public leaves file of a certificate (no identities).",
            {
                "200": {
                    "description": "leaves",
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                **_errors(404, 503),
            },
            parameters=[CERT_HASH],
        )
    },
    "/apikeys": {
        "post": _op(
            "Mint a host API key for yourself (shown once; only its hash is stored). Use it as "
            "`Authorization: Bearer <key>` or `X-API-Key: <key>`.",
            {"201": _json(_ref("ApiKey"), "the key"), **_errors(400, 401, 403, 409, 413, 422, 429)},
            secured=True,
            requestBody={
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"label": {"type": "string", "maxLength": 100}},
                        }
                    }
                },
            },
        ),
        "get": _op(
            "Your API keys (without the keys).",
            {
                "200": _json(
                    {"type": "object", "properties": {"keys": {"type": "array", "items": _ref("ApiKey")}}},
                    "keys",
                ),
                **_errors(401, 403, 429),
            },
            secured=True,
        ),
    },
    "/apikeys/{key_id}": {
        "delete": _op(
            "Revoke one of your API keys (an admin: anyone's).",
            {"200": _json(_ref("ApiKey"), "revoked"), **_errors(401, 403, 404, 429)},
            secured=True,
            parameters=[
                {
                    "name": "key_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 64},
                }
            ],
        )
    },
}
