"""Flash-sale waiting room (shuffle before start, FIFO after, batches) and webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from server.config import Settings
from tests.server.live import Running, client, create, recv, running, send


async def notices(ws: Any, until_admitted: bool = True, wait: float = 10) -> list[dict[str, Any]]:
    seen = []
    while True:
        message = await recv(ws, wait)
        if message["type"] == "event" and message["kind"] == "waiting_room":
            assert message["seq"] == 0
            seen.append(message["data"])
            if not until_admitted or message["data"]["admitted"]:
                return seen


async def test_waiting_room_shuffles_early_arrivals_then_admits_fifo_in_batches(settings: Settings) -> None:
    async with running(settings, waiting_batch=2, waiting_interval_ms=300) as live:
        start = time.time_ns() // 1_000_000 + 1200
        sale = await create(
            live, "flash", price=100, stock=50, per_buyer_limit=5, hold_ttl_ms=60_000, start=start
        )
        early = []
        for n in range(4):
            ws, _ = await client(live, f"early{n}")
            await send(ws, {"type": "subscribe", "room": sale})
            first = (await notices(ws, until_admitted=False))[0]
            assert first["position"] == n + 1 and not first["admitted"]
            early.append(ws)
        await send(early[0], {"type": "hold", "id": "h0", "room": sale, "quantity": 1})
        while True:
            message = await recv(early[0])
            if message["type"] == "reject":
                break
        assert message["code"] == "not_admitted" and message["retry_after_ms"] > 0
        await asyncio.sleep(max(0, start - time.time_ns() // 1_000_000) / 1000 + 0.05)
        late, _ = await client(live, "late")
        await send(late, {"type": "subscribe", "room": sale})
        first = (await notices(late, until_admitted=False))[0]
        queue = live.app.state.waiting._sales[sale]
        assert queue.started and not first["admitted"]
        assert first["position"] == len(queue.queue) and queue.queue[-1] == "late", (
            "FIFO behind the early ones"
        )
        admitted_at: dict[str, float] = {}

        async def watch(name: str, ws: Any) -> None:
            await notices(ws)
            admitted_at[name] = time.monotonic()

        await asyncio.gather(*(watch(f"early{n}", ws) for n, ws in enumerate(early)), watch("late", late))
        order = sorted(admitted_at, key=admitted_at.__getitem__)
        assert order[-1] == "late" and sorted(order[:4]) == [f"early{n}" for n in range(4)]
        # batches of 2 per 300 ms round: the 5 buyers span at least 2 rounds after the first
        assert admitted_at["late"] - min(admitted_at.values()) >= 0.25
        await send(late, {"type": "hold", "id": "h1", "room": sale, "quantity": 1})
        while (message := await recv(late))["type"] not in ("ack", "reject"):
            pass
        assert message["type"] == "ack"
        for ws in (*early, late):
            await ws.close()


async def sell_out(live: Running) -> str:
    """A flash sale of one unit, bought: a ``sale.sold_out`` event."""
    sale = await create(live, "flash", price=100, stock=1, per_buyer_limit=1, hold_ttl_ms=60_000)
    buyer, _ = await client(live, "bea")
    await send(buyer, {"type": "subscribe", "room": sale})
    await send(buyer, {"type": "buy", "id": "b1", "room": sale, "quantity": 1})
    while (await recv(buyer))["type"] != "ack":
        pass
    await buyer.close()
    return sale


class Receiver:
    """A local HTTP receiver that fails the first ``fail`` POSTs with 500."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append((headers, body))
        status = b"500 Oops" if len(self.requests) <= self.fail else b"204 No Content"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


async def test_webhooks_are_signed_retried_and_recorded(settings: Settings) -> None:
    receiver = Receiver(fail=1)
    port = await receiver.start()
    async with (
        running(settings, webhook_backoff_ms=100) as live,
        httpx.AsyncClient(base_url=live.http) as http,
    ):
        r = await http.post(
            "/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hook", "events": ["sale.sold_out", "auction.closed"]},
            headers=live.auth(),
        )
        assert r.status_code == 201
        hook = r.json()
        bad = await http.post("/webhooks", json={"url": "ftp://x"}, headers=live.auth())
        assert bad.status_code == 422
        sale = await sell_out(live)
        for _ in range(100):
            deliveries = (await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth())).json()
            if deliveries["deliveries"] and deliveries["deliveries"][0]["state"] != "pending":
                break
            await asyncio.sleep(0.05)
        delivery = deliveries["deliveries"][0]
        assert delivery["state"] == "delivered" and delivery["event"] == "sale.sold_out"
        assert [a.get("status") for a in delivery["attempts"]] == [500, 204]
        headers, body = receiver.requests[-1]
        stamp, mac = (part.split("=", 1)[1] for part in headers["x-fairlot-signature"].split(","))
        expected = hmac.new(hook["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(mac, expected)
        assert orjson.loads(body)["room"] == sale and headers["x-fairlot-event"] == "sale.sold_out"
        other = await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth("intruder", "host"))
        assert other.status_code == 404
    assert receiver.server is not None
    receiver.server.close()


async def test_draw_completed_webhook_when_drawn_is_durable(settings: Settings) -> None:
    from tests.server.test_draws_rest import entries_csv, new_draw, wait_status

    receiver = Receiver(fail=0)
    port = await receiver.start()
    async with (
        running(settings, webhook_backoff_ms=100) as live,
        httpx.AsyncClient(base_url=live.http) as http,
    ):
        url = f"http://127.0.0.1:{port}/hook"
        r = await http.post("/webhooks", json={"url": url, "events": ["draw.completed"]}, headers=live.auth())
        assert r.status_code == 201, r.text
        hook = r.json()
        # Another host's subscription hears nothing of host-1's draw.
        other_auth = live.auth("host-2", "host")
        other = (await http.post("/webhooks", json={"url": url}, headers=other_auth)).json()
        draw_id = await new_draw(http, live, winners=2, alternates=1)
        await http.post(f"/draws/{draw_id}/entries", content=entries_csv(12), headers=live.auth())
        await http.post(f"/draws/{draw_id}/commit", headers=live.auth())
        run = await http.post(f"/draws/{draw_id}/run", json={"reveal_interval_ms": 50}, headers=live.auth())
        assert run.status_code in (200, 202), run.text
        for _ in range(200):
            deliveries = (await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth())).json()
            if deliveries["deliveries"] and deliveries["deliveries"][0]["state"] != "pending":
                break
            await asyncio.sleep(0.05)
        (delivery,) = deliveries["deliveries"]
        assert delivery["state"] == "delivered" and delivery["event"] == "draw.completed"
        assert [a["status"] for a in delivery["attempts"]] == [204]
        headers, body = receiver.requests[-1]
        assert headers["x-fairlot-event"] == "draw.completed"
        stamp, mac = (part.split("=", 1)[1] for part in headers["x-fairlot-signature"].split(","))
        expected = hmac.new(hook["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(mac, expected)
        sent = orjson.loads(body)
        view = await wait_status(http, draw_id, "complete")
        cert = (await http.get(f"/draws/{draw_id}/certificate")).json()
        assert sent["type"] == "draw.completed" and sent["kind"] == "drawn"
        assert sent["draw_id"] == draw_id and sent["room"] == f"draw:{draw_id}"
        assert sent["certificate_hash"] == cert["certificate_hash"] == view["certificate_hash"]
        assert sent["winners"] == 2 == len(cert["body"]["winners"]) and sent["alternates"] == 1
        assert sent["published_at_ms"] == sent["time"] + 2 * 50
        assert sent["verify_url"] == f"{live.http}/v/{cert['certificate_hash']}"
        page = await http.get(sent["verify_url"])
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        published = await http.get(f"/certificates/{sent['certificate_hash']}")
        assert published.status_code == 200 and published.json() == cert
        events = await http.get(f"/draws/{draw_id}/events")
        drawn = [e for e in events.json()["events"] if e["type"] == "drawn"]
        assert [e["seq"] for e in drawn] == [sent["seq"]], "sent for the durable drawn event"
        assert len(receiver.requests) == 1
        nothing = await http.get(f"/webhooks/{other['id']}/deliveries", headers=other_auth)
        assert nothing.json()["deliveries"] == []
    assert receiver.server is not None
    receiver.server.close()
