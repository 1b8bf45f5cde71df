"""Web pages: the auction room, flash sale, host console, draw stage and verifier.

Why plain files: the pages are static HTML, CSS and ES modules under ``server/web/``,
served as they are (no CDN, no build step, nothing fetched at run time); each page reads
its id from the URL and talks to the same REST and WebSocket API as any other client.

Why a small JSON API under ``/web/`` here: the pages need a few things the REST API does
not offer yet (see ``docs/web.md``): item titles for auctions, a draw desk (import with
the filter waterfall, commit, reveal, certificates by hash), room statistics, and a demo
sign-in. They live here, clearly apart, so that the REST API can take them over.

The draw desk keeps its draws in this process's memory and uses the offline commit-reveal
beacon (labelled WEAKER by every verifier) for draws made here, because drawing on a future
drand round needs the beacon relays; the seeded demo also has a complete draw on a recorded
drand quicknet round, which the browser verifier and ``fairlot verify`` both check.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from draws import (
    QUICKNET,
    BeaconSpec,
    BeaconValue,
    DrawError,
    PreparedDraw,
    Rules,
    add_substitution,
    certificate_hash,
    encode_leaves_file,
    import_entries,
    issue_certificate,
    prepare_draw,
)
from server.errors import ApiError
from server.rest import require

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["DrawDesk", "routes", "seed_demo"]

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


@dataclass
class DeskDraw:
    """One draw on the desk: committed now, certificate once the beacon is ready."""

    draw_id: str
    title: str
    host_id: str
    prepared: PreparedDraw
    beacon_value: BeaconValue
    signing_key: bytes
    created_ms: int
    excluded: list[dict[str, Any]]
    cert: dict[str, Any] | None = None

    @property
    def ready_at_ms(self) -> int:
        return self.prepared.commitment.beacon.ready_at_ms()

    def public(self) -> dict[str, Any]:
        c = self.prepared.commitment
        out: dict[str, Any] = {
            "id": self.draw_id,
            "title": self.title,
            "host_id": self.host_id,
            "status": "complete" if self.cert is not None else "committed",
            "commitment": c.to_json(),
            "commitment_hash": c.digest().hex(),
            "ready_at_ms": self.ready_at_ms,
            "waterfall": self.prepared.filtered.waterfall.to_json(),
            "created_ms": self.created_ms,
        }
        if self.cert is not None:
            out["certificate"] = self.cert
            out["certificate_hash"] = self.cert["certificate_hash"]
        return out


@dataclass
class DrawDesk:
    """Draws made through the pages, and every certificate by hash (in memory)."""

    draws: dict[str, DeskDraw] = field(default_factory=dict)
    by_hash: dict[str, DeskDraw] = field(default_factory=dict)
    keys: dict[str, bytes] = field(default_factory=dict)
    host_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def chain_head(self, host_id: str) -> tuple[int, bytes | None]:
        """(next host_seq, previous certificate hash) for a host's next draw."""
        mine = [d for d in self.draws.values() if d.host_id == host_id]
        if any(d.cert is None for d in mine):
            raise ApiError("draw_pending", "this host has a draw waiting for its beacon", 409)
        if not mine:
            return 1, None
        last = max(mine, key=lambda d: d.prepared.commitment.host_seq)
        assert last.cert is not None
        return last.prepared.commitment.host_seq + 1, bytes.fromhex(last.cert["certificate_hash"])

    def create(
        self,
        *,
        draw_id: str,
        title: str,
        host_id: str,
        raw: bytes,
        source_format: str,
        rules: Rules,
        winners: int,
        alternates: int,
        weighted: bool,
        close_ms: int,
        beacon: BeaconSpec,
        beacon_value: BeaconValue,
        now_ms: int,
    ) -> DeskDraw:
        imported = import_entries(raw, source_format)
        key = self.keys.setdefault(host_id, secrets.token_bytes(32))
        seq, prev = self.chain_head(host_id)
        prepared = prepare_draw(
            imported=imported,
            rules=rules,
            host_secret=self.host_secret,
            signing_key=key,
            draw_id=draw_id,
            host_id=host_id,
            host_seq=seq,
            prev_cert_hash=prev,
            winners=winners,
            alternates=alternates,
            weighted=weighted,
            beacon=beacon,
            close_time_ms=close_ms,
        )
        draw = DeskDraw(
            draw_id, title, host_id, prepared, beacon_value, key, now_ms, excluded_rows(imported, prepared)
        )
        self.draws[draw_id] = draw
        self.advance(draw, now_ms)
        return draw

    def advance(self, draw: DeskDraw, now_ms: int) -> None:
        """Issue the certificate once the beacon value may exist (lazily, on read)."""
        if draw.cert is None and now_ms >= draw.ready_at_ms:
            draw.cert = issue_certificate(
                draw.prepared, draw.beacon_value, now_ms, draw.signing_key, branding={"title": draw.title}
            )
            self.by_hash[draw.cert["certificate_hash"]] = draw

    def substitute(self, draw: DeskDraw, position: int, reason: str, now_ms: int) -> None:
        if draw.cert is None:
            raise ApiError("not_complete", "the draw has no certificate yet", 409)
        old_hash = draw.cert["certificate_hash"]
        draw.cert = add_substitution(draw.cert, position, reason, now_ms, draw.signing_key)
        assert draw.cert["certificate_hash"] == old_hash  # substitutions never change the body


def excluded_rows(imported: Any, prepared: PreparedDraw) -> list[dict[str, Any]]:
    """Each dropped source row with its reason and (masked) handle, for the console."""
    entries = imported.entries
    index = {row: i for i, row in enumerate(entries.rows)}
    out = []
    for row, reason in prepared.filtered.dropped[:MAX_EXCLUDED_SHOWN]:
        i = index.get(row)
        who = (entries.handle[i] or entries.user_id[i]) if i is not None else ""
        out.append({"row": row, "reason": reason, "who": who})
    return out


def _desk(request: Request) -> DrawDesk:
    desk: DrawDesk | None = getattr(request.app.state, "desk", None)
    if desk is None:
        desk = request.app.state.desk = DrawDesk()
    return desk


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
    now = request.app.state.clock.now()
    try:
        winners = int(data.get("winners", 1))
        alternates = int(data.get("alternates", 0))
        reveal_in = max(5, min(int(data.get("reveal_in_s", 30)), 7 * 86_400))
        reveal = secrets.token_bytes(32)
        draw = _desk(request).create(
            draw_id=f"d_{secrets.token_hex(6)}",
            title=str(data.get("title") or "Giveaway")[:120],
            host_id=identity.user_id,
            raw=raw,
            source_format=fmt,
            rules=_rules_from(data.get("rules") or {}),
            winners=winners,
            alternates=alternates,
            weighted=bool(data.get("weighted", False)),
            close_ms=now,
            beacon=BeaconSpec.commit_reveal(reveal, now + reveal_in * 1000),
            beacon_value=BeaconValue.revealed(reveal),
            now_ms=now,
        )
    except (DrawError, ValueError, TypeError) as exc:
        raise ApiError("invalid_draw", str(exc)[:500], 422) from None
    out = draw.public()
    out["excluded"] = draw.excluded
    return _json(out, 201)


async def list_draws(request: Request) -> Response:
    desk = _desk(request)
    now = request.app.state.clock.now()
    for d in desk.draws.values():
        desk.advance(d, now)
    rows = [
        {k: v for k, v in d.public().items() if k not in ("certificate", "commitment")}
        for d in desk.draws.values()
    ]
    return _json({"draws": rows})


async def get_draw(request: Request) -> Response:
    desk = _desk(request)
    draw = desk.draws.get(request.path_params["draw_id"])
    if draw is None:
        raise ApiError("not_found", "no such draw", 404)
    now = request.app.state.clock.now()
    desk.advance(draw, now)
    out = draw.public()
    out["server_time"] = now
    return _json(out)


async def substitute(request: Request) -> Response:
    identity = require(request, "host")
    desk = _desk(request)
    draw = desk.draws.get(request.path_params["draw_id"])
    if draw is None:
        raise ApiError("not_found", "no such draw", 404)
    if draw.host_id != identity.user_id and not identity.can("admin"):
        raise ApiError("forbidden", "only this draw's host may substitute", 403)
    data = await _body(request)
    try:
        desk.substitute(draw, int(data.get("position", -1)), str(data.get("reason", "")), desk_now(request))
    except (DrawError, ValueError) as exc:
        raise ApiError("invalid_substitution", str(exc)[:500], 422) from None
    return _json(draw.public())


def desk_now(request: Request) -> int:
    now: int = request.app.state.clock.now()
    return now


def _cert_draw(request: Request) -> DeskDraw:
    draw = _desk(request).by_hash.get(request.path_params["cert_hash"])
    if draw is None or draw.cert is None:
        raise ApiError("not_found", "no certificate with that hash here", 404)
    return draw


async def get_certificate(request: Request) -> Response:
    draw = _cert_draw(request)
    return JSONResponse(draw.cert, headers={"access-control-allow-origin": "*"})


async def get_leaves(request: Request) -> Response:
    """The public leaves file (docs/fairness.md section 4): no identities in it."""
    draw = _cert_draw(request)
    return Response(
        encode_leaves_file(draw.prepared.leaves.leaves),
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

    desk: DrawDesk = getattr(app.state, "desk", None) or DrawDesk()
    app.state.desk = desk
    round_ms = QUICKNET.round_time_ms(DEMO_ROUND)
    past = desk.create(
        draw_id=f"demo-draw-{secrets.token_hex(3)}",
        title="Summer giveaway",
        host_id="fairlot-demo",
        raw=demo_entries(60, round_ms - minute),
        source_format="csv",
        rules=Rules(required_hashtags=("giveaway",), min_mentions=2, exclude=("@spam_bot",)),
        winners=3,
        alternates=2,
        weighted=False,
        close_ms=round_ms - minute,
        beacon=BeaconSpec.drand(DEMO_ROUND),
        beacon_value=BeaconValue.drand(DEMO_ROUND, DEMO_SIGNATURE),
        now_ms=now,
    )
    assert past.cert is not None
    reveal = hashlib.sha256(secrets.token_bytes(32)).digest()
    live = desk.create(
        draw_id=f"demo-live-{secrets.token_hex(3)}",
        title="Live draw: win a Leica strap",
        host_id="fairlot-demo",
        raw=demo_entries(40, now),
        source_format="csv",
        rules=Rules(required_hashtags=("giveaway",), min_mentions=1),
        winners=2,
        alternates=2,
        weighted=False,
        close_ms=now,
        beacon=BeaconSpec.commit_reveal(reveal, now + minute),
        beacon_value=BeaconValue.revealed(reveal),
        now_ms=now,
    )
    links["draw"] = f"/stage/{past.draw_id}"
    links["live_draw"] = f"/stage/{live.draw_id}"
    links["certificate"] = f"/v/{past.cert['certificate_hash']}"
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
