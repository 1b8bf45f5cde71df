"""Durable draws over real sockets: REST (happy path, errors, multipart, auth), host API
keys, and the stage room (countdown, paced reveals, a late joiner)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from draws import QUICKNET, BeaconValue, verify_certificate
from server import draws_rest
from server.config import Settings
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


async def test_stage_room_reveals_one_by_one_and_late_joiner_catches_up(settings: Settings) -> None:
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        draw_id = await new_draw(http, live, winners=3, alternates=0)
        room = f"draw:{draw_id}"
        await http.post(f"/draws/{draw_id}/entries", content=entries_csv(10), headers=live.auth())
        await http.post(f"/draws/{draw_id}/commit", headers=live.auth())
        early, _ = await client(live)
        await send(early, {"type": "subscribe", "room": room})
        snap = await recv_until(early, "snapshot")
        assert snap["room"] == room and snap["state"]["status"] == "committed"
        r = await http.post(f"/draws/{draw_id}/run", json={"reveal_interval_ms": 250}, headers=live.auth())
        assert r.status_code in (200, 202)
        seen: list[dict[str, Any]] = []
        while len([e for e in seen if e["kind"] == "revealed"]) < 1:
            seen.extend(await next_events(early))
        assert [e["kind"] for e in seen[:2]] == ["run_scheduled", "drawn"]
        assert "certificate" not in seen[1]["data"], "the stage never shows unrevealed winners"
        # A late joiner: a snapshot with what is revealed so far, then the rest live.
        late, _ = await client(live)
        await send(late, {"type": "subscribe", "room": room})
        late_snap = await recv_until(late, "snapshot")
        already = late_snap["state"]["revealed"]
        assert 1 <= len(already) <= 3
        late_reveals = list(already)
        while len(late_reveals) < 3:
            late_reveals += [e["data"]["winner"] for e in await next_events(late) if e["kind"] == "revealed"]
        while len([e for e in seen if e["kind"] == "revealed"]) < 3:
            seen.extend(await next_events(early))
        early_reveals = [e["data"]["winner"] for e in seen if e["kind"] == "revealed"]
        assert late_reveals == early_reveals and [w["position"] for w in early_reveals] == [0, 1, 2]
        times = [e["time"] for e in seen if e["kind"] == "revealed"]
        drawn_at = next(e["time"] for e in seen if e["kind"] == "drawn")
        # Paced by the server: winner k never before drawn + k * interval (late under load is fine).
        assert all(t >= drawn_at + 250 * (k + 1) for k, t in enumerate(times)), (drawn_at, times)
        # A resume with since gets exactly the missed events.
        resumed, _ = await client(live)
        await send(resumed, {"type": "subscribe", "room": room, "since": seen[0]["seq"]})
        replayed: list[dict[str, Any]] = []
        while len(replayed) < len(seen) - 1:
            replayed.extend(await next_events(resumed))
        assert [e["seq"] for e in replayed] == [e["seq"] for e in seen[1:]]
        # A draw room takes no commands.
        bidder, _ = await client(live, "bea")
        await send(bidder, {"type": "subscribe", "room": room})
        await send(bidder, {"type": "place_bid", "id": "b1", "room": room, "amount": 100, "currency": "EUR"})
        reject = await recv_until(bidder, "reject")
        assert reject["code"] == "invalid_command"
        for ws in (early, late, resumed, bidder):
            await ws.close()
