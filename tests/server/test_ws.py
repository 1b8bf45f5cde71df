"""Live rooms over real sockets: same order for everyone, resume with ``since``, slow clients.

Each test serves the real app (uvicorn's websockets-sansio stack, real Redis and
Postgres) in-process on a free port, so it can also look at the server's rooms and
connections.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import msgpack
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.config import Settings
from tests.server.live import Running, client, create, recv, recv_until, running, send

FAST = {"rate_user_per_s": 1e6, "rate_user_burst": 100_000, "rate_ip_per_s": 1e6, "rate_ip_burst": 100_000}


def seqs_of(message: dict[str, Any]) -> list[int]:
    if message["type"] == "event":
        return [message["seq"]]
    if message["type"] == "batch":
        return [e["seq"] for e in message["events"]]
    return []


async def collect(ws: ClientConnection, until_seq: int, decode: Any = orjson.loads) -> list[tuple[int, str]]:
    """(seq, kind) of every event until ``until_seq`` is seen."""
    seen: list[tuple[int, str]] = []
    while not seen or seen[-1][0] < until_seq:
        message = decode(await asyncio.wait_for(ws.recv(), 15))
        if message["type"] == "event":
            seen.append((message["seq"], message["kind"]))
        elif message["type"] == "batch":
            seen.extend((e["seq"], e["kind"]) for e in message["events"])
    return seen


async def bid_storm(live: Running, room: str, users: list[str], per_user: int, start: int = 200) -> int:
    """Every user pipelines ``per_user`` rising bids; returns the last acked seq."""
    conns = []
    for user in users:
        ws, _ = await client(live, user)
        await send(ws, {"type": "subscribe", "room": room})
        conns.append(ws)
    last = 0

    async def run(i: int, ws: ClientConnection) -> None:
        nonlocal last
        window = asyncio.Semaphore(16)  # commands in flight per bidder

        async def replies() -> None:
            nonlocal last
            acks = 0
            while acks < per_user:
                message = await recv(ws)
                if message["type"] in ("ack", "reject"):
                    acks += 1
                    window.release()
                    last = max(last, message.get("seq", 0))

        reader = asyncio.create_task(replies())
        for n in range(per_user):
            amount = start + (n * len(users) + i) * 10
            bid = {
                "type": "place_bid",
                "id": f"{start}-{i}-{n}",
                "room": room,
                "amount": amount,
                "currency": "EUR",
            }
            await window.acquire()
            await send(ws, bid)
        await reader

    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(conns)))
    for ws in conns:
        await ws.close()
    return last


async def test_two_viewers_see_the_same_events_in_the_same_order(settings: Settings) -> None:
    async with running(settings, **FAST) as live:
        room = await create(live)
        viewer_json, _ = await client(live)
        viewer_mp = await connect(live.ws, subprotocols=["fairlot.v1.msgpack"], compression=None)  # type: ignore[list-item]
        await viewer_mp.send(msgpack.packb({"type": "hello", "version": 1}))
        assert msgpack.unpackb(await viewer_mp.recv())["type"] == "welcome"
        await send(viewer_json, {"type": "subscribe", "room": room})
        await viewer_mp.send(msgpack.packb({"type": "subscribe", "room": room}))
        assert (await recv_until(viewer_json, "snapshot"))["seq"] == 1
        assert msgpack.unpackb(await viewer_mp.recv())["type"] == "snapshot"

        last = await bid_storm(live, room, ["ann", "bob", "cid"], per_user=30)
        assert last >= 30
        got_json = await collect(viewer_json, last)
        got_mp = await collect(viewer_mp, last, msgpack.unpackb)
        assert got_json == got_mp
        assert [s for s, _ in got_json] == list(range(2, last + 1)), "consecutive, no gap, no duplicate"
        await viewer_json.close()
        await viewer_mp.close()


async def test_resume_with_since_gets_exactly_the_missed_events(settings: Settings) -> None:
    async with running(settings, **FAST) as live:
        room = await create(live)
        viewer, _ = await client(live)
        await send(viewer, {"type": "subscribe", "room": room})
        await recv_until(viewer, "snapshot")
        first = await bid_storm(live, room, ["ann", "bob"], per_user=10)
        seen = await collect(viewer, first)
        # Drop mid-stream: the client stops at some seq and disconnects.
        cut = seen[len(seen) // 2][0]
        viewer.transport.abort()  # type: ignore[attr-defined]
        second = await bid_storm(live, room, ["ann", "bob"], per_user=10, start=5_000)
        assert second > first

        viewer, _ = await client(live)
        await send(viewer, {"type": "subscribe", "room": room, "since": cut})
        resumed = await collect(viewer, second)
        assert [s for s, _ in resumed] == list(range(cut + 1, second + 1))
        # ... then the live tail, still without a gap.
        third = await bid_storm(live, room, ["cid"], per_user=3, start=20_000)
        tail = await collect(viewer, third)
        assert [s for s, _ in tail] == list(range(second + 1, third + 1))
        await viewer.close()


async def test_resume_races_with_live_bids_without_gap_or_duplicate(settings: Settings) -> None:
    async with running(settings, **FAST) as live:
        room = await create(live)
        storm = asyncio.create_task(bid_storm(live, room, ["ann", "bob"], per_user=40))
        await asyncio.sleep(0.05)
        joiners = []
        for since in (1, 3, 5):
            ws, _ = await client(live)
            await send(ws, {"type": "subscribe", "room": room, "since": since})
            joiners.append((since, ws))
            await asyncio.sleep(0.02)
        last = await storm
        for since, ws in joiners:
            got = await collect(ws, last)
            assert [s for s, _ in got] == list(range(since + 1, last + 1))
            await ws.close()


async def test_resume_too_far_back_gets_a_snapshot(settings: Settings) -> None:
    async with running(settings, resume_max_events=5, **FAST) as live:
        room = await create(live)
        last = await bid_storm(live, room, ["ann", "bob"], per_user=6)
        viewer, _ = await client(live)
        await send(viewer, {"type": "subscribe", "room": room, "since": 1})
        snapshot = await recv(viewer)
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == last
        assert snapshot["state"]["seq"] == last and "maxima" not in snapshot["state"]
        await viewer.close()


async def slow_client(live: Running) -> tuple[ClientConnection, socket.socket]:
    """A client with a tiny receive buffer that will stop reading after the welcome."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", live.port))
    ws = await connect(
        live.ws,
        sock=sock,
        subprotocols=["fairlot.v1.json"],
        compression=None,
        max_queue=1,  # type: ignore[list-item]
    )
    await send(ws, {"type": "hello", "version": 1})
    await recv_until(ws, "welcome")
    return ws, sock


async def latency_probe(live: Running, room: str, viewer: ClientConnection, rounds: int) -> list[float]:
    """Bid-to-viewer latency (ms) of a healthy viewer, one bid at a time."""
    bidder, _ = await client(live, "prober")
    await send(bidder, {"type": "subscribe", "room": room, "since": 10**9})
    out = []
    for n in range(rounds):
        started = time.perf_counter()
        await send(
            bidder,
            {"type": "place_bid", "id": f"p{n}", "room": room, "amount": 10**8 + n * 100, "currency": "EUR"},
        )
        ack = await recv_until(bidder, "ack")
        while True:
            message = await recv(viewer)
            if ack["seq"] in seqs_of(message):
                break
        out.append((time.perf_counter() - started) * 1000)
    await bidder.close()
    return out


@pytest.mark.parametrize("resyncs", [1, 0])
async def test_slow_consumer_never_slows_the_room(settings: Settings, resyncs: int) -> None:
    limits = {
        "send_queue_frames": 64,
        "send_queue_bytes": 64 * 1024,
        "ws_sndbuf": 4096,
        "ws_write_high": 16 * 1024,
        "slow_resyncs": resyncs,
    }
    async with running(settings, **FAST, **limits) as live:
        room = await create(live)
        healthy, _ = await client(live)
        await send(healthy, {"type": "subscribe", "room": room})
        await recv_until(healthy, "snapshot")
        slow, _sock = await slow_client(live)
        await send(slow, {"type": "subscribe", "room": room})
        # The slow client now reads nothing more, while bids flood the room.
        storm = asyncio.create_task(bid_storm(live, room, ["ann", "bob", "cid", "dan"], per_user=600))
        drained: list[int] = []

        async def drain_healthy() -> None:
            while True:
                drained.extend(seqs_of(await recv(healthy)))

        reader = asyncio.create_task(drain_healthy())
        last = await storm
        assert last > 300
        metrics = live.app.state.metrics
        for _ in range(200):
            if metrics.slow_resyncs + metrics.slow_closes:
                break
            await asyncio.sleep(0.02)
        assert metrics.slow_resyncs == resyncs and metrics.slow_closes == 1 - resyncs
        for _ in range(1000):
            if drained and drained[-1] >= last:
                break
            await asyncio.sleep(0.01)
        reader.cancel()
        assert drained == list(range(2, last + 1)), "the healthy viewer missed nothing"
        latencies = sorted(await latency_probe(live, room, healthy, 20))
        assert latencies[-1] < 250, f"healthy viewer delayed: {latencies}"

        # Memory stays bounded: the slow connection holds at most its queue bound.
        conns = list(live.app.state.connections)
        stats = [c.session.statistics() for c in conns]
        assert all(s.queued_frames <= 64 and s.queued_bytes <= 64 * 1024 for s in stats)
        for c in conns:
            if c.direct is not None:
                assert c.direct.buffered() <= 16 * 1024 + 64 * 1024
        room_state = live.app.state.rooms.get(room)
        assert room_state is not None and room_state.statistics().viewers == 1 + 0  # the healthy one only

        # The slow client reads again: a snapshot (resync) or the 4008 close.
        if resyncs:
            async with asyncio.timeout(20):
                while True:
                    message = await recv(slow)
                    if message["type"] == "snapshot" and message["seq"] > 1:
                        break
            assert message["seq"] == live.app.state.registry.peek(room).durable_version
            # After the snapshot it is live again, from the snapshot's seq on.
            fresh = await bid_storm(live, room, ["eve"], per_user=3, start=10**9)
            tail = await collect(slow, fresh)
            assert [s for s, _ in tail] == list(range(message["seq"] + 1, fresh + 1))
        else:
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(20):
                    while True:
                        await slow.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        await healthy.close()
        await slow.close()


async def test_ws_connections_skip_the_middleware_stack_and_keep_the_fast_path(settings: Settings) -> None:
    """``/ws`` is dispatched straight to its endpoint (server/asgi.py): the connection
    still gets the raw transport (fan-out fast path) and the app in its scope, no frame
    of Starlette's middleware stays alive for it, and a WebSocket on another path still
    takes the router (refused: no such route)."""
    import gc as _gc

    from starlette.middleware.exceptions import ExceptionMiddleware

    async with running(settings, **FAST) as live:
        ws, welcome = await client(live, "ann")
        assert welcome["type"] == "welcome"
        (conn,) = live.app.state.connections
        assert conn.direct is not None  # DirectWriter attached through the raw send
        assert conn.websocket.scope["app"] is live.app
        live_frames = [
            f for f in _gc.get_objects() if type(f).__name__ == "coroutine" and f.cr_frame is not None
        ]
        held = {f.cr_code.co_qualname for f in live_frames}
        assert "endpoint" in held
        assert not any(q.startswith(ExceptionMiddleware.__name__) for q in held)
        await ws.close()
        with pytest.raises(InvalidStatus) as refused:
            await connect(live.ws.replace("/ws", "/elsewhere"), compression=None)
        assert refused.value.response.status_code == 403
