"""REST over real sockets: sales, close, history, transcripts, OpenAPI, docs, metrics."""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.routing import Route

from bidding import verify_transcript
from server.config import Settings
from server.openapi import SPEC
from tests.server.live import FAR_FUTURE, client, create, recv_until, running, send


async def test_sales_lifecycle_history_and_transcript(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        params = {"price": 500, "currency": "EUR", "stock": 2, "per_buyer_limit": 2, "hold_ttl_ms": 60_000}
        r = await http.post("/sales", json={"params": params}, headers=live.auth())
        assert r.status_code == 201, r.text
        sale = r.json()["id"]
        assert (await http.get(f"/sales/{sale}")).json()["format"] == "flash"
        assert (await http.get(f"/auctions/{sale}")).status_code == 404, "a sale is not listed as an auction"
        buyer, _ = await client(live, "bea")
        await send(buyer, {"type": "subscribe", "room": sale})
        await send(buyer, {"type": "buy", "id": "k1", "room": sale, "quantity": 1})
        ack = await recv_until(buyer, "ack")
        assert ack["seq"] == 3  # hold_placed (2), purchased (3)
        await buyer.close()
        # Transcript only once it is over; the host closes the sale.
        assert (await http.get(f"/auctions/{sale}/transcript")).status_code == 409
        assert (
            await http.post(f"/sales/{sale}/close", headers=live.auth("someone", "host"))
        ).status_code == 403
        closed = await http.post(f"/sales/{sale}/close", headers=live.auth())
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        transcript = (await http.get(f"/auctions/{sale}/transcript")).json()
        assert verify_transcript(transcript).ok
        history = (await http.get(f"/sales/{sale}/events", params={"since": 1})).json()["events"]
        assert [e["type"] for e in history][:2] == ["hold_placed", "purchased"]
        for _ in range(100):
            listed = (await http.get("/sales")).json()["sales"]
            if any(s["id"] == sale and s["status"] == "closed" for s in listed):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the sale never showed up closed in GET /sales")


async def test_history_redacts_proxy_maxima_and_transcript_keeps_them(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        end = time.time_ns() // 1_000_000 + 1500
        room = await create(live, end=end)
        alice, _ = await client(live, "alice")
        await send(alice, {"type": "subscribe", "room": room})
        await send(
            alice, {"type": "set_proxy", "id": "p1", "room": room, "max_amount": 9_000, "currency": "EUR"}
        )
        await recv_until(alice, "ack")
        await send(alice, {"type": "place_bid", "id": "p2", "room": room, "amount": 900, "currency": "USD"})
        assert (await recv_until(alice, "reject"))["code"] == "invalid_command"
        events = (await http.get(f"/auctions/{room}/events")).json()["events"]
        assert events[1]["type"] == "bid" and "max" not in events[1]["data"]
        await recv_until(alice, "event", wait=10)  # the timer's "closed" event
        await alice.close()
        transcript = (await http.get(f"/auctions/{room}/transcript")).json()
        assert transcript["events"][1]["payload"]["max"] == 9_000
        assert verify_transcript(transcript).ok and transcript["result"]["final"]


async def test_openapi_documents_every_route_and_docs_page_renders(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        spec = (await http.get("/openapi.json")).json()
        assert spec == SPEC
        ours = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
        app_paths = {
            r.path
            for r in live.app.routes
            if isinstance(r, Route)
            and (r.path in ours or r.path.startswith(("/auctions", "/sales", "/webhooks")))
        }
        assert app_paths <= set(spec["paths"]), app_paths - set(spec["paths"])
        page = await http.get("/docs")
        assert page.status_code == 200 and "/auctions/{auction_id}/transcript" in page.text
        assert "http" not in page.text.split("<body>")[0], "no external assets"
        metrics = (await http.get("/metrics")).text
        for name in ("fairlot_ws_connections", "fairlot_ack_latency_ms_bucket", "fairlot_send_queue_frames"):
            assert name in metrics


async def test_every_format_maps_its_wire_commands(settings: Settings) -> None:
    import hashlib

    from bidding import sealed_commitment

    async with running(settings) as live:
        now = time.time_ns() // 1_000_000
        dutch = await create(
            live, "dutch", start=now, start_price=10_000, floor=1_000, step=100, tick_ms=60_000, quantity=3
        )
        reverse = await create(live, "reverse", end=FAR_FUTURE, ceiling=50_000)
        sealed = await create(live, "sealed", start=0, end=now + 1_500, reveal_end=now + 60_000)
        flash_params = {"price": 700, "stock": 5, "per_buyer_limit": 5, "hold_ttl_ms": 60_000}
        flash = await create(live, "flash", **flash_params)
        ws, _ = await client(live, "zoe")
        for room in (dutch, reverse, sealed, flash):
            await send(ws, {"type": "subscribe", "room": room})

        async def call(message: dict[str, object]) -> dict[str, object]:
            await send(ws, message)
            return await _reply(ws, str(message["id"]))

        bought = await call({"type": "buy", "id": "d1", "room": dutch, "quantity": 2})
        assert bought["type"] == "ack", (bought, live.app.state.registry.peek(dutch).stream.state)
        r = await call(
            {"type": "place_bid", "id": "r1", "room": reverse, "amount": 40_000, "currency": "EUR"}
        )
        assert r["type"] == "ack"
        nonce = hashlib.sha256(b"n").hexdigest()
        commitment = sealed_commitment(4_200, nonce, "zoe", sealed)
        assert (await call({"type": "sealed_commit", "id": "s1", "room": sealed, "commitment": commitment}))[
            "type"
        ] == "ack"
        hold = await call({"type": "hold", "id": "f1", "room": flash, "quantity": 1})
        assert hold["type"] == "ack"
        hold_id = next(iter(live.app.state.registry.peek(flash).stream.state.holds))
        assert (await call({"type": "confirm", "id": "f2", "room": flash, "hold_id": hold_id}))[
            "type"
        ] == "ack"
        refused = await call(
            {"type": "sealed_reveal", "id": "s0", "room": sealed, "amount": 4_200, "nonce": nonce}
        )
        assert refused["type"] == "reject"  # the reveal phase has not started
        refused = await call({"type": "draw_enter", "id": "x1", "room": flash})
        assert refused["type"] == "reject" and refused["code"] == "invalid_command"
        await asyncio.sleep(1.6)
        revealed = await call(
            {"type": "sealed_reveal", "id": "s2", "room": sealed, "amount": 4_200, "nonce": nonce}
        )
        assert revealed["type"] == "ack"
        await ws.close()


async def _reply(ws: object, cid: str) -> dict[str, object]:
    from tests.server.live import recv

    while True:
        message = await recv(ws)  # type: ignore[arg-type]
        if message["type"] in ("ack", "reject") and message["id"] == cid:
            return message


async def test_host_retracts_a_bid_and_the_price_is_recomputed(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        room = await create(live)  # host-1's auction, opening 100
        bids = [("alice", 300), ("bob", 500)]
        for user, amount in bids:
            ws, _ = await client(live, user)
            await send(ws, {"type": "subscribe", "room": room})
            await send(
                ws,
                {"type": "place_bid", "id": f"{user}-1", "room": room, "amount": amount, "currency": "EUR"},
            )
            await recv_until(ws, "ack")
            await ws.close()
        before = (await http.get(f"/auctions/{room}")).json()
        assert before["leader"] == "bob" and before["price"] > 300
        path = f"/auctions/{room}/retract"
        body = {"bidder": "bob", "reason": "shill bidding"}
        assert (await http.post(path, json=body, headers=live.auth("alice", "bidder"))).status_code == 403
        assert (await http.post(path, json=body, headers=live.auth("other-host"))).status_code == 403
        assert (await http.post(path, json={"bidder": "bob"}, headers=live.auth())).status_code == 422
        missing = await http.post(path, json={"bidder": "zed", "reason": "x"}, headers=live.auth())
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        done = await http.post(path, json=body, headers=live.auth())
        assert done.status_code == 200, done.text
        after = done.json()
        assert after["leader"] == "alice" and after["price"] == 100 and after["seq"] == before["seq"] + 1
        events = (await http.get(f"/auctions/{room}/events")).json()["events"]
        assert events[-1]["type"] == "retracted" and events[-1]["data"]["reason"] == "shill bidding"
