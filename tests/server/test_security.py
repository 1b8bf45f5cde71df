"""Security over real sockets: tokens, identity, roles, rate limits, hostile frames."""

from __future__ import annotations

import asyncio
import base64

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.config import Settings
from tests.server.live import FAR_FUTURE, JSON_SUB, client, create, recv, recv_until, running, send


def bid(room: str, cid: str, amount: int, **extra: object) -> dict[str, object]:
    return {"type": "place_bid", "id": cid, "room": room, "amount": amount, "currency": "EUR", **extra}


async def test_no_bid_without_a_bidder_token(settings: Settings) -> None:
    async with running(settings) as live:
        room = await create(live)
        anon, welcome = await client(live)
        assert welcome["user_id"] is None
        await send(anon, {"type": "subscribe", "room": room})
        await send(anon, bid(room, "a1", 500))
        assert (await recv_until(anon, "reject"))["code"] == "unauthorized"
        viewer, _ = await client(live, "vera", role="viewer")
        await send(viewer, {"type": "subscribe", "room": room})
        await send(viewer, bid(room, "v1", 500))
        assert (await recv_until(viewer, "reject"))["code"] == "forbidden"
        # Nothing reached the log.
        async with httpx.AsyncClient(base_url=live.http) as http:
            assert (await http.get(f"/auctions/{room}")).json()["seq"] == 1
        await anon.close()
        await viewer.close()


async def test_a_bidder_acts_only_as_itself(settings: Settings) -> None:
    async with running(settings) as live:
        room = await create(live)
        alice, _ = await client(live, "alice")
        await send(alice, {"type": "subscribe", "room": room})
        # The message cannot name an actor: unknown fields are refused by the codec.
        await send(alice, bid(room, "x1", 500, bidder="bob"))
        refused = await recv_until(alice, "reject")
        assert refused["id"] == "x1" and refused["code"] == "unexpected_field"
        await send(alice, bid(room, "x2", 500))
        event = await recv_until(alice, "event")
        assert event["data"]["bidder"] == "alice"
        # The host of the auction cannot bid in it either (host-1 created it).
        host, _ = await client(live, "host-1", role="host")
        await send(host, {"type": "subscribe", "room": room})
        await send(host, bid(room, "h1", 900))
        assert (await recv_until(host, "reject"))["code"] == "forbidden"
        async with httpx.AsyncClient(base_url=live.http) as http:
            # A bidder cannot create or close auctions.
            r = await http.post("/auctions", json={"params": {}}, headers=live.auth("alice", "bidder"))
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            r = await http.post(f"/auctions/{room}/close", headers=live.auth("alice", "bidder"))
            assert r.status_code == 403
            # Another host cannot close host-1's auction.
            r = await http.post(f"/auctions/{room}/close", headers=live.auth("host-2", "host"))
            assert r.status_code == 403
        await alice.close()
        await host.close()


@pytest.mark.parametrize("kind", ["expired", "tampered", "garbage"])
async def test_bad_tokens_are_refused_with_4003(settings: Settings, kind: str) -> None:
    async with running(settings) as live:
        token = {
            "expired": live.token("alice", ttl_ms=-1000),
            "tampered": "",
            "garbage": "not-a-token",
        }[kind]
        if kind == "tampered":
            body, _, mac = live.token("alice").partition(".")
            claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            claims["role"] = "admin"
            forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
            token = f"{forged}.{mac}"
        ws = await connect(live.ws, subprotocols=JSON_SUB)
        await send(ws, {"type": "hello", "version": 1, "token": token})
        error = await recv(ws)
        assert error["type"] == "error"
        assert error["code"] == ("token_expired" if kind == "expired" else "invalid_token")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
        async with httpx.AsyncClient(base_url=live.http) as http:
            r = await http.post("/auctions", json={}, headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 401


async def test_a_token_that_expires_mid_session_stops_working(settings: Settings) -> None:
    async with running(settings) as live:
        room = await create(live)
        ws = await connect(live.ws, subprotocols=JSON_SUB)
        await send(ws, {"type": "hello", "version": 1, "token": live.token("alice", ttl_ms=600)})
        await recv_until(ws, "welcome")
        await send(ws, {"type": "subscribe", "room": room})
        await asyncio.sleep(0.7)
        await send(ws, bid(room, "late", 500))
        assert (await recv_until(ws, "reject"))["code"] == "token_expired"
        await ws.close()


async def test_rate_limits_per_user_and_per_ip(settings: Settings) -> None:
    limits = {"rate_user_per_s": 1.0, "rate_user_burst": 5, "rate_ip_per_s": 1.0, "rate_ip_burst": 9}
    async with running(settings, **limits) as live:
        room = await create(live)
        alice, _ = await client(live, "alice")
        bob, _ = await client(live, "bob")
        for ws in (alice, bob):
            await send(ws, {"type": "subscribe", "room": room})
        replies = []
        for n in range(6):
            await send(alice, bid(room, f"a{n}", 1000 + n * 100))
            replies.append(await recv_until(alice, "ack" if n < 5 else "reject"))
        limited = replies[-1]
        assert limited["code"] == "rate_limited" and 0 < limited["retry_after_ms"] <= 1000
        assert "user" in limited["message"]
        # bob has his own user bucket, but shares alice's IP: of the IP's 9, the REST
        # create took 1 and alice 5 (her refused 6th took nothing), so 3 are left.
        codes = []
        for n in range(4):
            await send(bob, bid(room, f"b{n}", 5000 + n * 100))
            while True:
                message = await recv(bob)
                if message["type"] in ("ack", "reject"):
                    codes.append(message.get("code", "ack"))
                    break
        assert codes == ["ack", "ack", "ack", "rate_limited"]
        await alice.close()
        await bob.close()


async def test_hostile_frames_get_typed_errors_and_the_server_survives(settings: Settings) -> None:
    async with running(settings) as live:
        room = await create(live)
        ws, _ = await client(live, "mallory")
        await send(ws, {"type": "subscribe", "room": room})
        await recv_until(ws, "snapshot")
        await ws.send("this is not json")
        assert (await recv(ws))["code"] == "bad_frame"
        await ws.send("x" * 20_000)  # over MAX_FRAME_BYTES (16 KiB), under the transport cap
        assert (await recv(ws))["code"] == "frame_too_large"
        await send(ws, {"type": "place_bid", "id": "m1", "room": room})
        missing = await recv(ws)
        assert missing["type"] == "reject" and missing["id"] == "m1" and missing["code"] == "missing_field"
        await send(ws, {"type": "ack", "id": "m2", "room": room, "seq": 1})
        assert (await recv(ws))["code"] == "unknown_type"
        await ws.send(
            orjson.dumps(bid(room, "m3", 1)).decode().replace('"amount":1', '"amount":100000000000000000000')
        )
        assert (await recv(ws))["code"] == "invalid_field"
        await send(ws, {"type": "place_bid", "id": "m4", "room": "elsewhere", "amount": 5, "currency": "EUR"})
        assert (await recv(ws))["code"] == "not_subscribed"
        # Still usable after all that.
        await send(ws, {"type": "ping", "nonce": 7})
        assert await recv(ws) == {"type": "pong", "nonce": 7}
        await send(ws, bid(room, "ok", 500))
        assert (await recv_until(ws, "ack"))["id"] == "ok"
        # Past MAX_PROTOCOL_ERRORS the session closes with 1008.
        for _ in range(40):
            await ws.send("{")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

        # A frame beyond the transport cap (64 KiB) is closed with 1009 by the server.
        big = await connect(live.ws, subprotocols=JSON_SUB, max_size=None)
        await big.send("y" * 70_000)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(big.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        # The server is fine: a new client bids normally.
        again, _ = await client(live, "alice")
        await send(again, {"type": "subscribe", "room": room})
        await send(again, bid(room, "fine", 10_000))
        assert (await recv_until(again, "ack"))["id"] == "fine"
        await again.close()
        async with httpx.AsyncClient(base_url=live.http) as http:
            metrics = (await http.get("/metrics")).text
        assert 'fairlot_protocol_errors_total{code="bad_frame"}' in metrics


async def test_rest_refuses_bad_input_with_4xx(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        auth = live.auth()
        cases = [
            ("/auctions", b"not json", 400),
            ("/auctions", b"[]", 400),
            ("/auctions", orjson.dumps({"format": "nope"}), 422),
            ("/auctions", orjson.dumps({"format": "english", "params": {"opening": "x"}}), 422),
            ("/auctions", orjson.dumps({"format": "english", "params": []}), 422),
            ("/auctions", b"{" + b" " * 70_000 + b"}", 413),
            ("/sales", orjson.dumps({"params": {"stock": 3}}), 422),
            ("/sales", orjson.dumps({"params": {"price": -1, "stock": 3}}), 422),
        ]
        for path, body, status in cases:
            r = await http.post(path, content=body, headers=auth)
            assert r.status_code == status, (path, body[:60], r.text)
            assert "code" in r.json()["error"]
        assert (await http.get("/auctions/nope")).status_code == 404
        assert (await http.get("/auctions/nope/events?since=x")).status_code == 400
        assert (await http.get("/auctions/nope/transcript")).status_code == 404
        r = await http.post("/auctions", json={"params": {"currency": "EUR", "end": FAR_FUTURE}})
        assert r.status_code == 401


async def test_a_host_api_key_works_on_the_websocket_until_revoked(settings: Settings) -> None:
    """The WebSocket takes a host API key in hello, as REST does; a revoked key stops the
    session's next command and cannot say hello again (close 4003)."""
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        bot = live.auth("host-2", "host")  # not the auction's own host, who may not bid on it
        minted = await http.post("/apikeys", json={"label": "bot"}, headers=bot)
        key, key_id = minted.json()["key"], minted.json()["id"]
        room = await create(live)
        ws = await connect(live.ws, subprotocols=JSON_SUB, compression=None)
        await send(ws, {"type": "hello", "version": 1, "token": key})
        welcome = await recv_until(ws, "welcome")
        assert welcome["user_id"] == "host-2"
        await send(ws, {"type": "subscribe", "room": room})
        await send(ws, {"type": "place_bid", "id": "k1", "room": room, "amount": 150, "currency": "EUR"})
        reply = await recv(ws)
        while reply["type"] not in ("ack", "reject"):
            reply = await recv(ws)
        assert (reply["type"], reply["id"]) == ("ack", "k1"), reply
        assert (await http.delete(f"/apikeys/{key_id}", headers=bot)).status_code == 200
        await send(ws, {"type": "place_bid", "id": "k2", "room": room, "amount": 250, "currency": "EUR"})
        refused = await recv_until(ws, "reject")
        assert (refused["id"], refused["code"]) == ("k2", "invalid_token")
        await ws.close()
        again = await connect(live.ws, subprotocols=JSON_SUB, compression=None)
        await send(again, {"type": "hello", "version": 1, "token": key})
        error = await recv_until(again, "error")
        assert error["code"] == "invalid_token"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(again.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
