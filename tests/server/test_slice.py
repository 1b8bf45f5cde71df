"""The thin end-to-end slice over real sockets: REST create, two WebSocket viewers, a
bid that becomes a durable event in the Redis stream and in Postgres, seen by both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from engine.journal_redis import decode_event
from server.config import Settings
from tests.liveserver import LiveServer, live_server

FAR_FUTURE = 4_102_444_800_000


async def recv(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    data = await asyncio.wait_for(ws.recv(), wait)
    message = orjson.loads(data)
    assert isinstance(message, dict)
    return message


async def recv_until(ws: ClientConnection, type_: str) -> dict[str, Any]:
    while True:
        message = await recv(ws)
        if message["type"] == type_:
            return message


async def hello(ws: ClientConnection, token: str | None) -> dict[str, Any]:
    await ws.send(orjson.dumps({"type": "hello", "version": 1, "token": token}).decode())
    return await recv_until(ws, "welcome")


async def run_slice(server: LiveServer, settings: Settings) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        created = await http.post(
            "/auctions",
            json={"format": "english", "params": {"currency": "EUR", "opening": 100, "end": FAR_FUTURE}},
            headers={"authorization": f"Bearer {server.token('hoster', 'host')}"},
        )
        assert created.status_code == 201, created.text
        auction = created.json()
        room = auction["id"]
        assert auction["seq"] == 1 and auction["price"] == 100

        subprotocols: Any = ["fairlot.v1.json"]
        async with (
            connect(server.ws, subprotocols=subprotocols) as alice,
            connect(server.ws, subprotocols=subprotocols) as viewer,
        ):
            assert alice.subprotocol == "fairlot.v1.json"
            assert (await hello(alice, server.token("alice")))["user_id"] == "alice"
            assert (await hello(viewer, None))["user_id"] is None
            for ws in (alice, viewer):
                await ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
                snapshot = await recv_until(ws, "snapshot")
                assert snapshot["seq"] == 1

            bid = {"type": "place_bid", "id": "b-1", "room": room, "amount": 150, "currency": "EUR"}
            await alice.send(orjson.dumps(bid).decode())
            seen = [await recv_until(ws, "event") for ws in (alice, viewer)]
            ack = await recv_until(alice, "ack")
            assert ack == {"type": "ack", "id": "b-1", "room": room, "seq": 2}
            for event in seen:
                assert event["room"] == room and event["seq"] == 2 and event["kind"] == "bid"
                assert event["data"]["leader"] == "alice" and event["data"]["price"] == 100
                assert "max" not in event["data"], "a proxy maximum must never reach viewers"

            # Bob outbids: the proxy price is min(bob's max, alice's max + increment).
            async with connect(server.ws, subprotocols=subprotocols) as bob:
                await hello(bob, server.token("bob"))
                # Room commands need a subscription (protocol.md: not_subscribed).
                await bob.send(orjson.dumps({"type": "subscribe", "room": room, "since": 2}).decode())
                await bob.send(orjson.dumps({**bid, "id": "b-2", "amount": 200}).decode())
                assert (await recv_until(bob, "ack"))["seq"] == 3
            for ws in (alice, viewer):
                event = await recv_until(ws, "event")
                assert event["seq"] == 3 and event["data"]["leader"] == "bob"
                assert event["data"]["price"] == 175

            # The viewer has no token: its bid is refused with a typed code.
            await viewer.send(orjson.dumps({**bid, "id": "v-1", "amount": 500}).decode())
            refused = await recv_until(viewer, "reject")
            assert refused["code"] == "unauthorized" and refused["id"] == "v-1"

        got = (await http.get(f"/auctions/{room}")).json()
        assert got["price"] == 175 and got["leader"] == "bob" and got["seq"] == 3

    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        entries = await client.xrange(f"{settings.redis_prefix}:s:{room}")
        assert [e[0] for e in entries] == [b"1-0", b"2-0", b"3-0"]
        stored = decode_event(entries[1][1][b"e"])
        assert stored["type"] == "bid" and stored["payload"]["max"] == 150
    finally:
        await client.aclose()
    conn = await asyncpg.connect(settings.database_url)
    try:
        # The projector writes Postgres behind the acks; it catches up within moments.
        for _ in range(200):
            count = await conn.fetchval(
                f'SELECT count(*) FROM "{settings.pg_schema}".events WHERE stream = $1', room
            )
            if count == 3:
                break
            await asyncio.sleep(0.05)
        rows = await conn.fetch(
            f'SELECT seq, type, hash FROM "{settings.pg_schema}".events WHERE stream = $1 ORDER BY seq', room
        )
        assert [(r["seq"], r["type"]) for r in rows] == [(1, "created"), (2, "bid"), (3, "bid")]
        assert rows[1]["hash"] == stored["hash"]
        # The auctions row of a burst's last state may come a moment later (the actor
        # sends it VIEW_INTERVAL_S after going idle): poll, bounded.
        for _ in range(40):
            row = await conn.fetchrow(
                f'SELECT price, seq FROM "{settings.pg_schema}".auctions WHERE id = $1', room
            )
            if row is not None and row["seq"] == 3:
                break
            await asyncio.sleep(0.05)
        assert row is not None and (row["price"], row["seq"]) == (175, 3)
    finally:
        await conn.close()


async def test_slice_end_to_end(settings: Settings, tmp_path: Path) -> None:
    with live_server(settings, tmp_path) as server:
        await run_slice(server, settings)
