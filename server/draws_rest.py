"""REST for durable draws, certificates and host API keys.

Why thin, like ``server.rest``: each handler checks who is calling and what was sent, then
hands one step to the draw service (``engine.draw_service``), whose actor makes it durable;
every mistake is a typed 4xx: an upload that is too big names the limit, a bad file names
its row (the draws package's ``EntryImportError``), a step the draw's state does not allow
gets the state's code (``draw_state``, ``draw_committed``, ``draw_pending`` ...).

Who may do what: anyone reads draws and published certificates; the draw's host (or an
admin) imports, commits, runs and substitutes; a host (token or API key) creates draws
and mints API keys for itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bidding import BiddingError, Envelope, Rejected
from draws import DrawError, EntryImportError, certificate_bytes
from engine.draw_service import DrawRefused, DrawService, draw_id_of
from engine.draw_store import ApiKeyRow
from engine.projection import event_redactor
from server.auth import Identity
from server.errors import ApiError, rejection_status

__all__ = ["MAX_UPLOAD", "routes"]

#: Largest entries upload (a raw body or one multipart file), bytes.
MAX_UPLOAD = 16 * 1024 * 1024
MAX_JSON = 64 * 1024
FORMATS = ("csv", "json")
MAX_KEYS_PER_USER = 50


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _service(request: Request) -> DrawService:
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        raise ApiError("unavailable", "the server is starting", 503)
    service: DrawService = registry.draws
    return service


def _require(request: Request, role: str) -> Identity:
    from server.rest import require  # rest re-exports these routes: import late

    return require(request, role)


async def _body(request: Request, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    if len(raw) > MAX_JSON:
        raise ApiError("payload_too_large", f"body exceeds {MAX_JSON} bytes", 413)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError("bad_json", f"body is not valid JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise ApiError("bad_json", "body must be a JSON object", 400)
    return data


def view(actor: Any) -> dict[str, Any]:
    """A draw's public view: no unrevealed winner, no secret."""
    state = actor.stream.state
    out: dict[str, Any] = {
        "id": draw_id_of(actor.stream_id),
        "room": actor.stream_id,
        "seq": actor.durable_version,
        "state_hash": actor.stream.state_hash(),
        "created_ms": actor.created.time if actor.created is not None else None,
        **actor.stream.fmt.public_view(state),
    }
    del out["price"], out["leader"]
    return out


async def _draw(request: Request) -> Any:
    return await _service(request).actor(request.path_params["draw_id"])


def _check_host(identity: Identity, actor: Any) -> None:
    if actor.stream.state.params["host"] != identity.user_id and not identity.can("admin"):
        raise ApiError("forbidden", "only this draw's host (or an admin) may do this", 403)


async def _step(coro: Any) -> Any:
    """Await one service step, turning its refusals into typed 4xx answers."""
    try:
        return await coro
    except DrawRefused as exc:
        raise ApiError(exc.code, exc.message, exc.status) from None
    except EntryImportError as exc:
        raise ApiError("invalid_entries", str(exc)[:500], 422) from None
    except DrawError as exc:
        raise ApiError(getattr(exc, "code", "invalid_draw"), str(exc)[:500], 422) from None
    except Rejected as exc:
        raise ApiError(exc.code, exc.message, rejection_status(exc.code)) from None
    except BiddingError as exc:
        raise ApiError("invalid_params", str(exc)[:500], 422) from None


# ---------------------------------------------------------------------- draws


async def create_draw(request: Request) -> Response:
    identity = _require(request, "host")
    data = await _body(request)
    service = _service(request)
    if "host" in data:
        raise ApiError("invalid_params", "the host is the caller; do not send it", 422)
    try:
        actor = await service.create(identity.user_id, data)
    except (BiddingError, TypeError, ValueError) as exc:
        raise ApiError("invalid_params", str(exc)[:500] or type(exc).__name__, 422) from None
    return _json(view(actor), 201)


async def list_draws(request: Request) -> Response:
    status = request.query_params.get("status")
    host = request.query_params.get("host")
    rows = []
    for actor in _service(request).draws():
        state = actor.stream.state
        if (status is not None and state.status != status) or (
            host is not None and state.params["host"] != host
        ):
            continue
        rows.append(
            {
                "id": draw_id_of(actor.stream_id),
                "title": state.params["title"],
                "host": state.params["host"],
                "status": state.status,
                "seq": actor.durable_version,
                "commitment_hash": state.commitment_hash or None,
                "certificate_hash": state.certificate_hash or None,
                "ready_at_ms": state.ready_at_ms,
            }
        )
    rows.sort(key=lambda r: r["id"])
    return _json({"draws": rows})


async def get_draw(request: Request) -> Response:
    actor = await _draw(request)
    out = view(actor)
    out["server_time"] = request.app.state.clock.now()
    return _json(out)


async def draw_events(request: Request) -> Response:
    """The draw's public history: its events as the stage room shows them (``drawn``
    without the certificate; winners only as their ``revealed`` events), from ``since``."""
    raw_since = request.query_params.get("since", "0")
    if not raw_since.isdigit() or len(raw_since) > 16 or int(raw_since) > 2**53:
        raise ApiError("bad_request", "since must be an integer in [0, 2^53]", 400)
    actor = await _draw(request)
    events = await request.app.state.registry.load_events(actor.stream_id, int(raw_since))
    redact = event_redactor(actor.stream, actor.created)
    out = []
    for e in events:
        env = Envelope.from_dict(e, verify=False)
        out.append({"seq": env.seq, "type": env.type, "time": env.time, "data": redact(env)})
    return _json({"events": out})


def parse_multipart(body: bytes, boundary: bytes) -> dict[str, tuple[bytes, str, str]]:
    """``name -> (content, filename, content type)`` of a multipart/form-data body.

    Why our own: starlette needs python-multipart for forms, and the upload's bytes must
    reach the draw exactly as sent (their SHA-256 is committed); this keeps every byte.
    """
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ApiError("bad_upload", "malformed multipart body (no closing boundary)", 400)
    parts: dict[str, tuple[bytes, str, str]] = {}
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise ApiError("bad_upload", "malformed multipart part", 400)
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ApiError("bad_upload", "multipart part without headers", 400)
        name = filename = ctype = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-disposition":
                for item in value.split(";")[1:]:
                    k, _, v = item.strip().partition("=")
                    v = v.strip().strip('"')
                    if k == "name":
                        name = v
                    elif k == "filename":
                        filename = v
            elif key == "content-type":
                ctype = value.strip().lower()
        if name and name not in parts:
            parts[name] = (content, filename, ctype)
        if len(parts) > 4:
            raise ApiError("bad_upload", "too many multipart parts (file and format only)", 400)
    return parts


async def _read_limited(request: Request) -> bytes:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_UPLOAD + 64 * 1024:
            raise ApiError("upload_too_large", f"the entries upload exceeds {MAX_UPLOAD} bytes", 413)
    return bytes(raw)


async def _upload(request: Request) -> tuple[bytes, str]:
    """The entries file: one multipart part (``file``), or the raw body; and its format."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD + 64 * 1024:
        raise ApiError("upload_too_large", f"the entries upload exceeds {MAX_UPLOAD} bytes", 413)
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    fmt = request.query_params.get("format")
    body = await _read_limited(request)
    if media == "multipart/form-data":
        boundary = ""
        for item in content_type.split(";")[1:]:
            k, _, v = item.strip().partition("=")
            if k.lower() == "boundary":
                boundary = v.strip().strip('"')
        if not 0 < len(boundary) <= 200:
            raise ApiError("bad_upload", "multipart upload without a boundary", 400)
        parts = parse_multipart(body, boundary.encode("latin-1", "replace"))
        if "file" not in parts:
            raise ApiError("bad_upload", "multipart upload needs a 'file' part", 422)
        raw, name, part_type = parts["file"]
        field = parts.get("format")
        if fmt is None and field is not None and field[0]:
            fmt = field[0].decode("utf-8", "replace").strip()
        if fmt is None and (name or part_type):
            fmt = "json" if name.lower().endswith(".json") or "json" in part_type else "csv"
    else:
        raw = body
        if fmt is None:
            fmt = "json" if "json" in media else "csv" if "csv" in media else None
    if len(raw) > MAX_UPLOAD:
        raise ApiError("upload_too_large", f"the entries upload exceeds {MAX_UPLOAD} bytes", 413)
    if not raw.strip():
        raise ApiError("empty_upload", "the entries file is empty", 422)
    if fmt is None:
        fmt = "json" if raw.lstrip()[:1] in (b"[", b"{") else "csv"
    if fmt not in FORMATS:
        raise ApiError("invalid_params", f"format must be one of {FORMATS}", 422)
    return raw, fmt


async def import_entries(request: Request) -> Response:
    identity = _require(request, "host")
    actor = await _draw(request)
    _check_host(identity, actor)
    raw, fmt = await _upload(request)
    service = _service(request)
    actor, excluded = await _step(service.import_entries(actor, identity.user_id, raw, fmt))
    out = view(actor)
    out["excluded"] = [{"row": e.row, "reason": e.reason, "who": e.who} for e in excluded]
    return _json(out)


async def commit_draw(request: Request) -> Response:
    identity = _require(request, "host")
    actor = await _draw(request)
    _check_host(identity, actor)
    await _step(_service(request).commit(actor, identity.user_id))
    return _json(view(actor))


async def run_draw(request: Request) -> Response:
    identity = _require(request, "host")
    actor = await _draw(request)
    _check_host(identity, actor)
    data = await _body(request, optional=True)
    if set(data) - {"reveal_interval_ms", "beacon_value"}:
        raise ApiError("invalid_params", "run accepts reveal_interval_ms and beacon_value", 422)
    interval = data.get("reveal_interval_ms")
    if interval is not None and (type(interval) is not int or not 0 <= interval <= 3_600_000):
        raise ApiError("invalid_params", "reveal_interval_ms must be an integer in [0, 3600000]", 422)
    value = data.get("beacon_value")
    if value is not None and not isinstance(value, dict):
        raise ApiError("invalid_params", "beacon_value must be an object (a drand round as published)", 422)
    await _step(_service(request).run(actor, identity.user_id, interval, value))
    out = view(actor)
    return _json(out, 200 if out["status"] in ("revealing", "complete") else 202)


async def substitute(request: Request) -> Response:
    identity = _require(request, "host")
    actor = await _draw(request)
    _check_host(identity, actor)
    data = await _body(request)
    position, reason = data.get("position"), data.get("reason")
    if type(position) is not int or not isinstance(reason, str):
        raise ApiError("invalid_params", "position (integer) and reason (short code) are required", 422)
    await _step(_service(request).substitute(actor, identity.user_id, position, reason))
    return _json(view(actor))


# ---------------------------------------------------------------------- certificates


def _published(actor: Any) -> dict[str, Any]:
    state = actor.stream.state
    if state.certificate is None or state.status != "complete":
        raise ApiError("not_complete", "the certificate is published once every winner is revealed", 409)
    cert: dict[str, Any] = state.certificate
    return cert


CORS = {"access-control-allow-origin": "*"}


async def draw_certificate(request: Request) -> Response:
    actor = await _draw(request)
    return Response(certificate_bytes(_published(actor)), media_type="application/json", headers=CORS)


async def draw_certificate_pdf(request: Request) -> Response:
    from draws import render_pdf

    actor = await _draw(request)
    cert = _published(actor)
    base = str(request.base_url).rstrip("/")
    pdf = render_pdf(cert, verify_base_url=base)
    name = f"certificate-{cert['certificate_hash'][:16]}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"content-disposition": f'inline; filename="{name}"'}
    )


def _by_hash(request: Request) -> Any:
    cert_hash = request.path_params["cert_hash"]
    actor = _service(request).by_certificate(cert_hash) if len(cert_hash) == 64 else None
    if actor is None:
        raise ApiError("not_found", "no published certificate with that hash", 404)
    return actor


async def certificate(request: Request) -> Response:
    cert = _published(_by_hash(request))
    return Response(certificate_bytes(cert), media_type="application/json", headers=CORS)


async def certificate_leaves(request: Request) -> Response:
    """The public leaves file (docs/fairness.md section 4): no identities in it."""
    actor = _by_hash(request)
    leaves = await _step(_service(request).leaves_file(actor))
    return Response(leaves, media_type="application/octet-stream", headers=CORS)


# ---------------------------------------------------------------------- API keys


async def mint_api_key(request: Request) -> Response:
    identity = _require(request, "host")
    data = await _body(request, optional=True)
    label = data.get("label", "")
    if not isinstance(label, str) or len(label) > 100 or not label.isprintable():
        raise ApiError("invalid_params", "label: at most 100 printable characters", 422)
    service = _service(request)
    live = [k for k in await service.store.api_keys(identity.user_id) if k.revoked_ms is None]
    if len(live) >= MAX_KEYS_PER_USER:
        raise ApiError("too_many_keys", f"at most {MAX_KEYS_PER_USER} live API keys per user", 409)
    key, row = await service.mint_api_key(identity.user_id, identity.role, label)
    return _json({**row.public(), "key": key}, 201)


async def list_api_keys(request: Request) -> Response:
    identity = _require(request, "host")
    rows: list[ApiKeyRow] = await _service(request).store.api_keys(identity.user_id)
    return _json({"keys": [r.public() for r in rows]})


async def revoke_api_key(request: Request) -> Response:
    identity = _require(request, "host")
    key_id = request.path_params["key_id"]
    owner = None if identity.can("admin") else identity.user_id
    row = await _service(request).revoke_api_key(key_id[:64], owner)
    if row is None:
        raise ApiError("not_found", "no such API key of yours", 404)
    return _json(row.public())


routes = [
    Route("/draws", create_draw, methods=["POST"]),
    Route("/draws", list_draws, methods=["GET"]),
    Route("/draws/{draw_id}", get_draw, methods=["GET"]),
    Route("/draws/{draw_id}/events", draw_events, methods=["GET"]),
    Route("/draws/{draw_id}/entries", import_entries, methods=["POST"]),
    Route("/draws/{draw_id}/commit", commit_draw, methods=["POST"]),
    Route("/draws/{draw_id}/run", run_draw, methods=["POST"]),
    Route("/draws/{draw_id}/substitute", substitute, methods=["POST"]),
    Route("/draws/{draw_id}/certificate", draw_certificate, methods=["GET"]),
    Route("/draws/{draw_id}/certificate.pdf", draw_certificate_pdf, methods=["GET"]),
    Route("/certificates/{cert_hash}", certificate, methods=["GET"]),
    Route("/certificates/{cert_hash}/leaves", certificate_leaves, methods=["GET"]),
    Route("/apikeys", mint_api_key, methods=["POST"]),
    Route("/apikeys", list_api_keys, methods=["GET"]),
    Route("/apikeys/{key_id}", revoke_api_key, methods=["DELETE"]),
]
