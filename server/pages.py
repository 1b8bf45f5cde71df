"""Web pages: the auction room, flash sale, host console, draw stage and verifier.

Why plain files: the pages are static HTML, CSS and ES modules under ``server/web/``,
served as they are (no CDN, no build step, nothing fetched at run time); each page reads
its id from the URL and talks to the same REST and WebSocket API as any other client.

Why a small JSON API under ``/web/`` here: the pages need a few things the REST API does
not offer yet (see ``docs/web.md``): item titles for auctions, a draw desk (import with
the filter waterfall, commit, reveal, certificates by hash), room statistics, and a demo
sign-in. They live here, clearly apart, so that the REST API can take them over.

The draw desk makes durable draws (``engine.draw_service``, the same draws as REST
``/draws``; they survive a restart) and uses the offline commit-reveal beacon (labelled
WEAKER by every verifier) for draws made here, because drawing on a future drand round
needs the beacon relays; the seeded demo also has a complete draw on a recorded drand
quicknet round (its value supplied by the host and BLS-checked), which the browser
verifier and ``fairlot verify`` both check.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bidding import BiddingError, Rejected
from draws import QUICKNET, BeaconValue, DrawError, Rules, certificate_hash, import_entries
from engine.draw_service import DrawRefused, DrawService, draw_id_of
from engine.errors import NotFound
from server.errors import ApiError
from server.rest import require

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["desk_draw", "routes", "seed_demo"]

WEB = Path(__file__).resolve().parent / "web"
STATIC = WEB / "static"
MAX_IMPORT = 2 * 1024 * 1024
MAX_EXCLUDED_SHOWN = 500
_USER = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
DEMO_TOKEN_TTL_MS = 12 * 3_600_000

# A real drand quicknet round (docs/fairness.md section 12): the seeded demo draw is
# complete and verifiable offline, BLS signature included.
DEMO_ROUND = 657413
DEMO_SIGNATURE = bytes.fromhex(
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > limit:
        raise ApiError("payload_too_large", f"body exceeds {limit} bytes", 413)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError("bad_json", "body is not valid JSON", 400) from None
    if not isinstance(data, dict):
        raise ApiError("bad_json", "body must be a JSON object", 400)
    return data


# ---------------------------------------------------------------------- pages


def _page(name: str) -> Any:
    path = WEB / name

    async def endpoint(request: Request) -> Response:
        return FileResponse(
            path, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"}
        )

    return endpoint


async def web_config(request: Request) -> Response:
    """What the pages need to know about this server (demo sign-in, demo links)."""
    settings = request.app.state.settings
    demo = getattr(request.app.state, "demo", None)
    return _json({"demo": bool(getattr(settings, "demo", False)), "links": demo or {}})


async def demo_token(request: Request) -> Response:
    """Demo sign-in: a bidder or host token for any name. Only with ``--demo``."""
    if not getattr(request.app.state.settings, "demo", False):
        raise ApiError("not_found", "demo sign-in is off (start with --demo)", 404)
    data = await _body(request)
    user, role = data.get("user"), data.get("role", "bidder")
    if not isinstance(user, str) or not _USER.match(user):
        raise ApiError("invalid_params", "user: 1-32 letters, digits, '_', '.' or '-'", 422)
    if role not in ("bidder", "host"):
        raise ApiError("invalid_params", "role must be bidder or host", 422)
    expires = request.app.state.clock.now() + DEMO_TOKEN_TTL_MS
    return _json({"token": request.app.state.signer.mint(user, role, expires), "expires_ms": expires})


# ---------------------------------------------------------------------- items


def _item_key(request: Request, item_id: str) -> str:
    return f"{request.app.state.settings.redis_prefix}:web:item:{item_id}"


async def get_item(request: Request) -> Response:
    item_id = request.path_params["item_id"]
    raw = await request.app.state.stores.redis.get(_item_key(request, item_id))
    # No item is a normal case (auctions made through the REST API): an empty object.
    return Response(raw or b"{}", media_type="application/json")


async def put_item(request: Request) -> Response:
    """Title, description and image URL of an auction or sale (host only)."""
    require(request, "host")
    item_id = request.path_params["item_id"]
    data = await _body(request)
    item = {
        "title": str(data.get("title", ""))[:200],
        "description": str(data.get("description", ""))[:2000],
        "image": str(data.get("image", ""))[:500] if str(data.get("image", "")).startswith("/") else "",
    }
    await request.app.state.stores.redis.set(_item_key(request, item_id), orjson.dumps(item))
    return _json(item)


async def save_item(app: Starlette, item_id: str, title: str, description: str, image: str = "") -> None:
    item = {"title": title, "description": description, "image": image}
    key = f"{app.state.settings.redis_prefix}:web:item:{item_id}"
    await app.state.stores.redis.set(key, orjson.dumps(item))


# ---------------------------------------------------------------------- stats


async def room_stats(request: Request) -> Response:
    """Viewers per live room (host only): what the console's live stats show."""
    require(request, "host")
    rooms = request.app.state.rooms.statistics()
    return _json({"rooms": [{"room": r.room, "viewers": r.viewers, "last_seq": r.last_seq} for r in rooms]})


# ---------------------------------------------------------------------- draw desk
#
# The desk is a one-form front for the durable draws (engine.draw_service, the same draws
# as REST /draws): create, import, commit and run in one go, with the commit-reveal beacon
# opening ``reveal_in_s`` later and one winner revealed every ``reveal_every_ms`` after it
# (the draw actor's timer). The stage page is a viewer of the draw's room ``draw:<id>``:
# it shows what the stream says, when it says it.
DESK_REVEAL_EVERY_MS = 1500


def _draws(request: Request) -> DrawService:
    service: DrawService = request.app.state.registry.draws
    return service


def desk_view(actor: Any) -> dict[str, Any]:
    """The shape the pages read: commitment, waterfall, countdown, certificate once complete."""
    state = actor.stream.state
    cert = state.certificate if state.status == "complete" else None
    entries = state.entries or {}
    out: dict[str, Any] = {
        "id": draw_id_of(actor.stream_id),
        "room": actor.stream_id,
        "title": state.params["title"],
        "host_id": state.params["host"],
        "status": state.status,
        "commitment": state.commitment,
        "commitment_hash": state.commitment_hash,
        "ready_at_ms": state.ready_at_ms,
        "waterfall": entries.get("waterfall"),
        "created_ms": actor.created.time if actor.created is not None else None,
    }
    if cert is not None:
        out["certificate"] = cert
        out["certificate_hash"] = cert["certificate_hash"]
    return out


async def desk_draw(
    service: DrawService,
    *,
    host: str,
    title: str,
    raw: bytes,
    source_format: str,
    rules: Rules,
    winners: int,
    alternates: int,
    weighted: bool,
    beacon: dict[str, Any],
    close_ms: int | None = None,
    beacon_value: dict[str, Any] | None = None,
    reveal_interval_ms: int = 0,
) -> tuple[Any, list[dict[str, Any]]]:
    """Create, import, commit and run a durable draw; (its actor, the excluded rows)."""
    params: dict[str, Any] = {
        "title": title,
        "winners": winners,
        "alternates": alternates,
        "weighted": weighted,
        "rules": rules.to_json(),
        "beacon": beacon,
        "reveal_interval_ms": reveal_interval_ms,
    }
    if close_ms is not None:
        params["close_ms"] = close_ms
    actor = await service.create(host, params)
    actor, excluded = await service.import_entries(actor, host, raw, source_format)
    await service.commit(actor, host)
    await service.run(actor, host, reveal_interval_ms, beacon_value)
    return actor, [{"row": e.row, "reason": e.reason, "who": e.who} for e in excluded]


def _rules_from(data: dict[str, Any]) -> Rules:
    def tags(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = re.split(r"[\s,]+", value)
        return tuple(sorted({str(v).strip().lstrip("#").casefold() for v in value or () if str(v).strip()}))

    def excl(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = re.split(r"[\s,]+", value)
        return tuple(sorted({str(v).strip().casefold() for v in value or () if str(v).strip()}))

    return Rules(
        one_per_user=bool(data.get("one_per_user", True)),
        required_hashtags=tags(data.get("required_hashtags")),
        min_mentions=int(data.get("min_mentions") or 0),
        exclude=excl(data.get("exclude")),
        window_start_ms=data.get("window_start_ms"),
        window_end_ms=data.get("window_end_ms"),
    )


def _import_args(data: dict[str, Any]) -> tuple[bytes, str]:
    text = data.get("entries")
    if not isinstance(text, str) or not text.strip():
        raise ApiError("invalid_params", "entries: the CSV or JSON export, as text", 422)
    raw = text.encode()
    if len(raw) > MAX_IMPORT:
        raise ApiError("payload_too_large", f"entries exceed {MAX_IMPORT} bytes", 413)
    fmt = data.get("format") or ("json" if text.lstrip()[:1] in "[{" else "csv")
    return raw, str(fmt)


async def preview_draw(request: Request) -> Response:
    """The filter waterfall and every excluded row's reason, before committing."""
    require(request, "host")
    data = await _body(request, MAX_IMPORT + 64 * 1024)
    raw, fmt = _import_args(data)
    try:
        from draws import apply_rules

        rules = _rules_from(data.get("rules") or {})
        imported = import_entries(raw, fmt)
        result = apply_rules(imported.entries, rules)
    except (DrawError, ValueError, TypeError) as exc:
        raise ApiError("invalid_entries", str(exc)[:500], 422) from None
    entries = imported.entries
    index = {row: i for i, row in enumerate(entries.rows)}
    excluded = [
        {"row": row, "reason": reason, "who": entries.handle[index[row]] or entries.user_id[index[row]]}
        for row, reason in result.dropped[:MAX_EXCLUDED_SHOWN]
    ]
    return _json(
        {
            "waterfall": result.waterfall.to_json(),
            "excluded": excluded,
            "rules_hash": rules.digest().hex(),
            "raw_import_sha256": imported.raw_sha256.hex(),
        }
    )


async def create_draw(request: Request) -> Response:
    """Commit a draw now; its commit-reveal beacon opens ``reveal_in_s`` seconds later."""
    identity = require(request, "host")
    data = await _body(request, MAX_IMPORT + 64 * 1024)
    raw, fmt = _import_args(data)
    try:
        reveal_in = max(5, min(int(data.get("reveal_in_s", 30)), 7 * 86_400))
        every = max(0, min(int(data.get("reveal_every_ms", DESK_REVEAL_EVERY_MS)), 60_000))
        actor, excluded = await desk_draw(
            _draws(request),
            host=identity.user_id,
            title=str(data.get("title") or "Giveaway")[:120],
            raw=raw,
            source_format=fmt,
            rules=_rules_from(data.get("rules") or {}),
            winners=int(data.get("winners", 1)),
            alternates=int(data.get("alternates", 0)),
            weighted=bool(data.get("weighted", False)),
            beacon={"kind": "commit-reveal", "delay_ms": reveal_in * 1000},
            reveal_interval_ms=every,
        )
    except DrawRefused as exc:
        raise ApiError(exc.code, exc.message, exc.status) from None
    except (DrawError, BiddingError, ValueError, TypeError) as exc:
        raise ApiError("invalid_draw", str(exc)[:500], 422) from None
    out = desk_view(actor)
    out["excluded"] = excluded
    return _json(out, 201)


async def list_draws(request: Request) -> Response:
    rows = [
        {k: v for k, v in desk_view(a).items() if k not in ("certificate", "commitment")}
        for a in _draws(request).draws()
    ]
    return _json({"draws": rows})


async def _desk_actor(request: Request) -> Any:
    try:
        return await _draws(request).actor(request.path_params["draw_id"])
    except NotFound:
        raise ApiError("not_found", "no such draw", 404) from None


async def get_draw(request: Request) -> Response:
    out = desk_view(await _desk_actor(request))
    out["server_time"] = request.app.state.clock.now()
    return _json(out)


async def substitute(request: Request) -> Response:
    identity = require(request, "host")
    actor = await _desk_actor(request)
    if actor.stream.state.params["host"] != identity.user_id and not identity.can("admin"):
        raise ApiError("forbidden", "only this draw's host may substitute", 403)
    data = await _body(request)
    try:
        await _draws(request).substitute(
            actor, identity.user_id, int(data.get("position", -1)), str(data.get("reason", ""))
        )
    except DrawRefused as exc:
        raise ApiError("not_complete", exc.message, 409) from None
    except (DrawError, ValueError, Rejected) as exc:
        raise ApiError("invalid_substitution", str(exc)[:500], 422) from None
    return _json(desk_view(actor))


def _cert_draw(request: Request) -> Any:
    cert_hash = request.path_params["cert_hash"]
    actor = _draws(request).by_certificate(cert_hash) if len(cert_hash) == 64 else None
    if actor is None:
        raise ApiError("not_found", "no certificate with that hash here", 404)
    return actor


async def get_certificate(request: Request) -> Response:
    actor = _cert_draw(request)
    return JSONResponse(actor.stream.state.certificate, headers={"access-control-allow-origin": "*"})


async def get_leaves(request: Request) -> Response:
    """The public leaves file (docs/fairness.md section 4): no identities in it."""
    actor = _cert_draw(request)
    return Response(
        await _draws(request).leaves_file(actor),
        media_type="application/octet-stream",
        headers={"access-control-allow-origin": "*"},
    )


# ---------------------------------------------------------------------- demo


def demo_entries(n: int, close_ms: int) -> bytes:
    """A made-up comment export: some rows miss the hashtag, mentions, or repeat a user."""
    names = [
        "camille", "lea", "hugo", "ines", "louis", "chloe", "nathan", "manon", "arthur", "jade",
        "gabriel", "lina", "raphael", "emma", "jules", "alice", "adam", "rose", "noah", "zoe",
    ]  # fmt: skip
    rows = ["platform,user_id,handle,text,created_at"]
    for i in range(n):
        name = f"{names[i % len(names)]}{i // len(names) or ''}"
        tag = "#giveaway" if i % 7 else "#other"
        mentions = "@ami1 @ami2" if i % 5 else "@ami1"
        rows.append(
            f"instagram,{5000 + i},@{name},Je participe {tag} {mentions},{close_ms - 3_600_000 + i * 1000}"
        )
    rows.append(f"instagram,5003,@{names[3]},encore #giveaway @x @y,{close_ms - 5000}")
    rows.append(f"instagram,9999,@spam_bot,#giveaway @a @b @c,{close_ms - 4000}")
    return ("\n".join(rows) + "\n").encode()


async def seed_demo(app: Starlette) -> dict[str, str]:
    """Create a demo of each page's subject and print their URLs; returns the links."""
    registry = app.state.registry
    settings = app.state.settings
    now: int = app.state.clock.now()
    base = f"http://{settings.host}:{settings.port}"
    host = "demo-host"
    minute = 60_000
    links: dict[str, str] = {}

    async def make(kind: str, params: dict[str, Any], title: str, desc: str, path: str) -> str:
        stream_id = f"demo-{kind}-{secrets.token_hex(3)}"
        if kind == "sealed":
            params = {**params, "auction": stream_id}
        await registry.create(kind, {**params, "host": host}, actor=host, stream_id=stream_id)
        await save_item(app, stream_id, title, desc)
        return f"/{path}/{stream_id}"

    links["auction"] = await make(
        "english",
        {"currency": "EUR", "opening": 2000, "reserve": 8000, "start": now, "end": now + 20 * minute,
         "close": "soft", "window": minute, "extension": minute},
        "Leica M3 rangefinder, 1957",
        "Serviced in 2023, with its original Summicron 50 mm. "
        "Soft close: a bid in the last minute adds a minute.",
        "room",
    )  # fmt: skip
    links["sale"] = await make(
        "flash",
        {"currency": "EUR", "price": 1999, "stock": 40, "per_buyer_limit": 2, "hold_ttl_ms": 2 * minute,
         "start": now, "end": now + 60 * minute},
        "Espresso cups, set of 4",
        "Stoneware from a Limoges workshop. Two sets per customer.",
        "sale",
    )  # fmt: skip
    links["dutch"] = await make(
        "dutch",
        {"currency": "EUR", "start": now, "start_price": 50000, "step": 500, "tick_ms": 2000,
         "floor": 10000, "quantity": 3},
        "Tulip bulbs, 3 crates",
        "The price falls every two seconds; the first to accept buys.",
        "room",
    )  # fmt: skip
    links["sealed"] = await make(
        "sealed",
        {"currency": "EUR", "mode": "second", "reserve": 1000, "start": now, "end": now + 30 * minute,
         "reveal_end": now + 60 * minute},
        "Oak dining table",
        "Sealed second-price bids: commit now, reveal after the close.",
        "room",
    )  # fmt: skip
    links["reverse"] = await make(
        "reverse",
        {"currency": "EUR", "start": now, "end": now + 30 * minute, "ceiling": 500000,
         "feedback": "rank_only"},
        "Office cleaning contract, 12 months",
        "Suppliers offer a yearly price; the lowest wins. You see only your rank.",
        "room",
    )  # fmt: skip
    links["multi"] = await make(
        "callauction",
        {"currency": "EUR", "units": 10, "reserve": 500, "start": now, "end": now + 30 * minute},
        "Concert tickets, 10 seats",
        "One uniform price for everyone: the lowest accepted bid.",
        "room",
    )  # fmt: skip

    # Draws are durable like everything else; a fresh demo host per start keeps each
    # start's certificate chain apart from a previous start's draw still counting down.
    service: DrawService = registry.draws
    demo_host = f"fairlot-demo-{secrets.token_hex(3)}"
    round_ms = QUICKNET.round_time_ms(DEMO_ROUND)
    past, _ = await desk_draw(
        service,
        host=demo_host,
        title="Summer giveaway",
        raw=demo_entries(60, round_ms - minute),
        source_format="csv",
        rules=Rules(required_hashtags=("giveaway",), min_mentions=2, exclude=("@spam_bot",)),
        winners=3,
        alternates=2,
        weighted=False,
        beacon={"kind": "drand", "round": DEMO_ROUND},
        close_ms=round_ms - minute,
        beacon_value=BeaconValue.drand(DEMO_ROUND, DEMO_SIGNATURE).to_json(),
    )
    live, _ = await desk_draw(
        service,
        host=demo_host,
        title="Live draw: win a Leica strap",
        raw=demo_entries(40, now),
        source_format="csv",
        rules=Rules(required_hashtags=("giveaway",), min_mentions=1),
        winners=2,
        alternates=2,
        weighted=False,
        beacon={"kind": "commit-reveal", "delay_ms": minute},
        reveal_interval_ms=2000,
    )
    for _ in range(200):  # its reveals follow the draw within milliseconds
        if past.stream.state.status == "complete":
            break
        await asyncio.sleep(0.01)
    cert_hash = past.stream.state.certificate_hash
    links["draw"] = f"/stage/{draw_id_of(past.stream_id)}"
    links["live_draw"] = f"/stage/{draw_id_of(live.stream_id)}"
    links["certificate"] = f"/v/{cert_hash}"
    links["verify"] = "/verify"
    links["host"] = "/host"
    app.state.demo = links
    print("fairlot: demo pages (sign in with any name; hosts: /host)", flush=True)
    for name, path in links.items():
        print(f"fairlot:   {name:12} {base}{path}", flush=True)
    return links


def certificate_link(cert: dict[str, Any]) -> str:
    return f"/v/{certificate_hash(cert['body']).hex()}"


routes = [
    Route("/", _page("index.html")),
    Route("/room/{room_id}", _page("room.html")),
    Route("/sale/{sale_id}", _page("sale.html")),
    Route("/host", _page("host.html")),
    Route("/stage/{draw_id}", _page("stage.html")),
    Route("/verify", _page("verify.html")),
    Route("/v/{cert_hash}", _page("verify.html")),
    Route("/embed/{cert_hash}", _page("embed.html")),
    Route("/web/config", web_config),
    Route("/web/token", demo_token, methods=["POST"]),
    Route("/web/items/{item_id}", get_item, methods=["GET"]),
    Route("/web/items/{item_id}", put_item, methods=["PUT"]),
    Route("/web/stats", room_stats),
    Route("/web/draws", list_draws, methods=["GET"]),
    Route("/web/draws", create_draw, methods=["POST"]),
    Route("/web/draws/preview", preview_draw, methods=["POST"]),
    Route("/web/draws/{draw_id}", get_draw),
    Route("/web/draws/{draw_id}/substitute", substitute, methods=["POST"]),
    Route("/web/certificates/{cert_hash}", get_certificate),
    Route("/web/certificates/{cert_hash}/leaves", get_leaves),
    Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
]
