"""Durable draws over real sockets: REST (happy path, errors, multipart, auth), host API
keys, and the stage room (countdown, paced reveals, a late joiner)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.routing import Route

from draws import QUICKNET, BeaconValue, verify_certificate
from engine.clock import ManualClock
from server import draws_rest
from server.app import create_app
from server.config import Settings
from tests.liveserver import TEST_SECRET
from tests.server.live import Running, client, recv, recv_until, running, send

# A recorded drand quicknet round (docs/fairness.md section 12): verifiable offline.
ROUND = 657413
SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"


def entries_csv(n: int, tag: str = "#win") -> bytes:
    rows = ["platform,user_id,handle,text,created_at"]
    rows += [f"instagram,{1000 + i},@fan{i},hi {tag if i % 5 else '#other'},1700000000000" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


async def new_draw(http: httpx.AsyncClient, live: Running, **params: Any) -> str:
    body = {"title": "Test draw", "winners": 2, "alternates": 1, "rules": {"required_hashtags": ["win"]}}
    r = await http.post("/draws", json={**body, **params}, headers=live.auth())
    assert r.status_code == 201, r.text
    draw_id: str = r.json()["id"]
    return draw_id


async def next_events(ws: Any) -> list[dict[str, Any]]:
    """The next event frame's events (a ``batch`` frame holds several)."""
    while True:
        message = await recv(ws)
        if message["type"] == "event":
            return [message]
        if message["type"] == "batch":
            return list(message["events"])


async def wait_status(http: httpx.AsyncClient, draw_id: str, status: str) -> dict[str, Any]:
    for _ in range(400):
        view: dict[str, Any] = (await http.get(f"/draws/{draw_id}")).json()
        if view["status"] == status:
            return view
        await asyncio.sleep(0.01)
    raise AssertionError(f"draw {draw_id} never became {status}: {view}")


async def test_draw_rest_lifecycle_errors_and_auth(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        # Auth: nobody, a viewer and a bidder cannot create; a host can.
        assert (await http.post("/draws", json={})).status_code == 401
        for role in ("viewer", "bidder"):
            r = await http.post("/draws", json={}, headers=live.auth("x", role))
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        bad = await http.post("/draws", json={"winners": 0}, headers=live.auth())
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_params"
        nul = await http.post("/draws", json={"title": "a\u0000b"}, headers=live.auth())
        assert nul.status_code == 422, "Postgres could never store it: refused up front"
        draw_id = await new_draw(http, live)
        assert (await http.get("/draws/d_nope")).status_code == 404
        assert any(d["id"] == draw_id for d in (await http.get("/draws")).json()["draws"])

        # Imports: only the draw's host; a bad file names its row; size limit is typed.
        url = f"/draws/{draw_id}/entries"
        files = {"file": ("entries.csv", entries_csv(12), "text/csv")}
        assert (await http.post(url, files=files, headers=live.auth("bob", "bidder"))).status_code == 403
        assert (await http.post(url, files=files, headers=live.auth("host-2", "host"))).status_code == 403
        broken = b"user_id,handle,weight\n1,@a,1\n2,@b,lots\n"
        r = await http.post(url, files={"file": ("e.csv", broken, "text/csv")}, headers=live.auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_entries", r.text
        assert "row 2" in r.json()["error"]["message"]
        nul_rows = [{"user_id": "1", "handle": "@ok"}, {"user_id": "2", "handle": "@x\u0000y"}]
        r = await http.post(url, json=nul_rows, headers=live.auth())
        assert r.status_code == 422 and "row 2" in r.json()["error"]["message"], r.text
        few = [{"user_id": "1", "handle": "@solo", "text": "#win"}]
        r = await http.post(url, json=few, headers=live.auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_few_entries", r.text
        r = await http.post(url, content=b"", headers={**live.auth(), "content-type": "text/csv"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "empty_upload"
        monkeypatch.setattr(draws_rest, "MAX_UPLOAD", 100)
        r = await http.post(url, files=files, headers=live.auth())
        assert r.status_code == 413 and r.json()["error"]["code"] == "upload_too_large"
        assert "100 bytes" in r.json()["error"]["message"]
        monkeypatch.undo()
        r = await http.post(url, files=files, headers=live.auth())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "imported" and body["entries"]["rows"] == 12
        assert body["entries"]["eligible"] == 9 and {e["reason"] for e in body["excluded"]} == {
            "missing_hashtag"
        }
        # A raw JSON body replaces the import before the commit.
        as_json = [{"user_id": str(i), "handle": f"@j{i}", "text": "#win"} for i in range(6)]
        r = await http.post(url, json=as_json, headers=live.auth())
        assert r.status_code == 200 and r.json()["entries"]["format"] == "json", r.text

        # Run before commit: typed state error; then commit and run.
        r = await http.post(f"/draws/{draw_id}/run", headers=live.auth())
        assert r.status_code == 409 and r.json()["error"]["code"] == "draw_state"
        assert (
            await http.post(f"/draws/{draw_id}/commit", headers=live.auth("bob", "bidder"))
        ).status_code == 403
        r = await http.post(f"/draws/{draw_id}/commit", headers=live.auth())
        assert r.status_code == 200 and r.json()["status"] == "committed" and r.json()["commitment_hash"]
        r = await http.post(url, files=files, headers=live.auth())
        assert r.status_code == 409 and r.json()["error"]["code"] == "draw_committed"
        assert (
            await http.post(f"/draws/{draw_id}/run", headers=live.auth("bob", "bidder"))
        ).status_code == 403
        assert (await http.get(f"/draws/{draw_id}/certificate")).status_code == 409
        r = await http.post(f"/draws/{draw_id}/run", json={"reveal_interval_ms": 0}, headers=live.auth())
        assert r.status_code in (200, 202), r.text
        view = await wait_status(http, draw_id, "complete")
        assert len(view["revealed"]) == 2

        cert = (await http.get(f"/draws/{draw_id}/certificate")).json()
        cert_hash = cert["certificate_hash"]
        assert (await http.get(f"/certificates/{cert_hash}")).json() == cert
        leaves = (await http.get(f"/certificates/{cert_hash}/leaves")).content
        assert verify_certificate(cert, leaves=leaves).ok
        assert (await http.get(f"/certificates/{'0' * 64}")).status_code == 404
        pdf = await http.get(f"/draws/{draw_id}/certificate.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        bad_sub = await http.post(
            f"/draws/{draw_id}/substitute", json={"position": 9, "reason": "gone"}, headers=live.auth()
        )
        assert bad_sub.status_code == 422
        r = await http.post(
            f"/draws/{draw_id}/substitute", json={"position": 0, "reason": "no_answer"}, headers=live.auth()
        )
        assert r.status_code == 200 and r.json()["substitutions"] == 1
        again = (await http.get(f"/draws/{draw_id}/certificate")).json()
        assert verify_certificate(again, leaves=leaves).ok and len(again["substitutions"]) == 1

        # A drand draw on a recorded round, the value supplied by the host (BLS-verified);
        # a forged value is refused. The host's second certificate chains to the first.
        close = QUICKNET.round_time_ms(ROUND) - 60_000
        drand_beacon = {"kind": "drand", "round": ROUND}
        drand_id = await new_draw(http, live, winners=1, alternates=0, beacon=drand_beacon, close_ms=close)
        await http.post(f"/draws/{drand_id}/entries", files=files, headers=live.auth())
        r = await http.post(f"/draws/{drand_id}/commit", headers=live.auth())
        assert (
            r.json()["commitment"]["prev_cert_hash"] == cert_hash and r.json()["commitment"]["host_seq"] == 2
        )
        r = await http.post(f"/draws/{drand_id}/run", json={}, headers=live.auth())
        assert r.status_code == 422 and r.json()["error"]["code"] == "beacon_unconfigured"
        forged = {
            "kind": "drand",
            "round": ROUND,
            "signature": SIGNATURE[:-2] + "00",
            "randomness": "00" * 32,
        }
        r = await http.post(f"/draws/{drand_id}/run", json={"beacon_value": forged}, headers=live.auth())
        assert r.status_code == 422, r.text
        value = BeaconValue.drand(ROUND, bytes.fromhex(SIGNATURE)).to_json()
        r = await http.post(
            f"/draws/{drand_id}/run",
            json={"beacon_value": value, "reveal_interval_ms": 0},
            headers=live.auth(),
        )
        assert r.status_code in (200, 202), r.text
        await wait_status(http, drand_id, "complete")
        cert2 = (await http.get(f"/draws/{drand_id}/certificate")).json()
        report = verify_certificate(cert2, previous=cert)
        assert report.ok, report

        # Every draw, certificate and API-key route is in the OpenAPI document.
        spec = (await http.get("/openapi.json")).json()
        ours = {r.path for r in draws_rest.routes if isinstance(r, Route)}
        assert ours <= set(spec["paths"]), ours - set(spec["paths"])
        assert "/draws/{draw_id}/entries" in (await http.get("/docs")).text

        # Draws are not auctions.
        assert draw_id not in str((await http.get("/auctions")).json())
        assert (await http.get(f"/auctions/draw:{draw_id}")).status_code == 404


async def test_api_keys_mint_use_revoke(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        assert (await http.post("/apikeys", headers=live.auth("bob", "bidder"))).status_code == 403
        r = await http.post("/apikeys", json={"label": "ci"}, headers=live.auth())
        assert r.status_code == 201, r.text
        key, key_id = r.json()["key"], r.json()["id"]
        assert key.startswith("flk_")
        by_bearer = await http.post("/draws", json={}, headers={"authorization": f"Bearer {key}"})
        assert by_bearer.status_code == 201 and by_bearer.json()["host"] == "host-1"
        by_header = await http.post("/draws", json={}, headers={"x-api-key": key})
        assert by_header.status_code == 201
        # The key works for any REST host action, auctions included.
        auction = {
            "format": "english",
            "params": {"currency": "EUR", "opening": 100, "end": 4_102_444_800_000},
        }
        assert (await http.post("/auctions", json=auction, headers={"x-api-key": key})).status_code == 201
        listed = (await http.get("/apikeys", headers={"x-api-key": key})).json()["keys"]
        assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0]
        assert (
            await http.delete(f"/apikeys/{key_id}", headers=live.auth("host-2", "host"))
        ).status_code == 404
        r = await http.delete(f"/apikeys/{key_id}", headers=live.auth())
        assert r.status_code == 200 and r.json()["revoked_ms"] is not None
        refused = await http.post("/draws", json={}, headers={"x-api-key": key})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
        forged = await http.post("/draws", json={}, headers={"x-api-key": key[:-3] + "abc"})
        assert forged.status_code == 401
        # Only its hash is stored.
        rows = await live.app.state.stores.pool.fetch("SELECT key_hash FROM api_keys")
        assert rows and all(key not in r["key_hash"] for r in rows)


@contextlib.asynccontextmanager
async def running_at(settings: Settings, clock: ManualClock) -> AsyncIterator[Running]:
    """``running`` with the app on a manual clock: the stage's timers take no real time."""
    os.environ["FAIRLOT_SECRET"] = TEST_SECRET
    app = create_app(settings, clock)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(2000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.005)
    if task.done():
        task.result()
    try:
        yield Running(app, server, server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def test_stage_room_counts_down_reveals_one_by_one_and_late_joiners_catch_up(
    settings: Settings,
) -> None:
    clock = ManualClock(time.time_ns() // 1_000_000)
    async with running_at(settings, clock) as live, httpx.AsyncClient(base_url=live.http) as http:
        draw_id = await new_draw(
            http, live, winners=3, alternates=0, beacon={"kind": "commit-reveal", "delay_ms": 10_000}
        )
        room = f"draw:{draw_id}"
        await http.post(f"/draws/{draw_id}/entries", content=entries_csv(10), headers=live.auth())
        await http.post(f"/draws/{draw_id}/commit", headers=live.auth())
        early, _ = await client(live)
        await send(early, {"type": "subscribe", "room": room})
        snap = await recv_until(early, "snapshot")
        assert snap["room"] == room and snap["state"]["status"] == "committed"
        r = await http.post(f"/draws/{draw_id}/run", json={"reveal_interval_ms": 60_000}, headers=live.auth())
        assert r.status_code == 202 and r.json()["status"] == "scheduled", r.text
        ready_at = r.json()["ready_at_ms"]
        assert ready_at == r.json()["commitment"]["beacon"]["reveal_after_ms"] > clock.now()
        (scheduled,) = await next_events(early)
        assert scheduled["kind"] == "run_scheduled" and scheduled["data"]["ready_at_ms"] == ready_at

        # The countdown ends when the clock reaches the beacon's time: drawn, nothing shown yet.
        clock.set(ready_at)
        (drawn,) = await next_events(early)
        assert drawn["kind"] == "drawn" and "certificate" not in drawn["data"], "no unrevealed winner"
        assert (await http.get(f"/draws/{draw_id}/certificate")).status_code == 409
        seen = [scheduled, drawn]
        late_snaps = []
        for k in range(1, 4):
            # A late joiner gets a snapshot with the k - 1 winners revealed so far.
            late, _ = await client(live)
            await send(late, {"type": "subscribe", "room": room})
            late_snap = await recv_until(late, "snapshot")
            assert len(late_snap["state"]["revealed"]) == k - 1
            late_snaps.append((late, late_snap))
            clock.advance(60_000)  # the host's pace: one winner a minute
            (revealed,) = await next_events(early)
            assert revealed["kind"] == "revealed" and revealed["data"]["k"] == k
            assert revealed["time"] == drawn["time"] + 60_000 * k
            seen.append(revealed)
        winners = [e["data"]["winner"] for e in seen[2:]]
        assert [w["position"] for w in winners] == [0, 1, 2]
        for late, late_snap in late_snaps:  # each late joiner ends with the same winners
            got = list(late_snap["state"]["revealed"])
            while len(got) < 3:
                got += [e["data"]["winner"] for e in await next_events(late) if e["kind"] == "revealed"]
            assert got == winners
            await late.close()
        cert = (await http.get(f"/draws/{draw_id}/certificate")).json()
        assert [w["index"] for w in cert["body"]["winners"]] == [w["index"] for w in winners]

        # A resume with since gets exactly the missed events.
        resumed, _ = await client(live)
        await send(resumed, {"type": "subscribe", "room": room, "since": seen[0]["seq"]})
        replayed: list[dict[str, Any]] = []
        while len(replayed) < len(seen) - 1:
            replayed.extend(await next_events(resumed))
        assert [e["seq"] for e in replayed] == [e["seq"] for e in seen[1:]]
        # REST history: the same events, redacted as the room showed them.
        history = (await http.get(f"/draws/{draw_id}/events")).json()["events"]
        assert [e["type"] for e in history][:3] == ["created", "entries_imported", "committed"]
        by_seq = {e["seq"]: e for e in history}
        for e in seen:
            assert by_seq[e["seq"]]["type"] == e["kind"] and by_seq[e["seq"]]["data"] == e["data"]
        assert "certificate" not in by_seq[drawn["seq"]]["data"]
        tail = (await http.get(f"/draws/{draw_id}/events", params={"since": drawn["seq"]})).json()["events"]
        assert [e["seq"] for e in tail] == [e["seq"] for e in seen[2:]]
        assert (await http.get("/draws/d_nope/events")).status_code == 404
        for bad in ("-1", "x", str(2**60)):
            r = await http.get(f"/draws/{draw_id}/events", params={"since": bad})
            assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
        # A draw room takes no commands.
        bidder, _ = await client(live, "bea")
        await send(bidder, {"type": "subscribe", "room": room})
        await send(bidder, {"type": "place_bid", "id": "b1", "room": room, "amount": 100, "currency": "EUR"})
        reject = await recv_until(bidder, "reject")
        assert reject["code"] == "invalid_command"
        for ws in (early, resumed, bidder):
            await ws.close()
