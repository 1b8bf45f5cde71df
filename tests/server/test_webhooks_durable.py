"""Webhooks survive restarts: subscriptions and the delivery outbox live in Postgres.

Each test runs the real app twice on the same stores (same schema and key prefix), the
second instance standing for the server after a restart, with a real local HTTP
receiver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from engine.embedded import free_port
from engine.registry import envelope
from server.config import Settings
from tests.faults import own_stores
from tests.server.live import Running, client, create, recv, running, send
from tests.server.test_waiting_webhooks import Receiver, sell_out


async def deliveries_when(
    http: httpx.AsyncClient, live: Running, hook: str, done: Any, within: float = 15
) -> list[dict[str, Any]]:
    for _ in range(int(within / 0.05)):
        found = (await http.get(f"/webhooks/{hook}/deliveries", headers=live.auth())).json()["deliveries"]
        if done(found):
            return list(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries never got there: {found}")


def hook_for(port: int, events: tuple[str, ...] | None = ("sale.sold_out",)) -> dict[str, Any]:
    """A POST /webhooks body for the receiver on ``port`` (every event when ``events`` is None)."""
    url = f"http://127.0.0.1:{port}/h"
    return {"url": url} if events is None else {"url": url, "events": list(events)}


async def subscribe(http: httpx.AsyncClient, live: Running, body: dict[str, Any]) -> dict[str, Any]:
    """Register a webhook; it must be accepted (201)."""
    r = await http.post("/webhooks", json=body, headers=live.auth())
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()
    return hook


def finished(found: list[dict[str, Any]]) -> bool:
    return bool(found) and found[0]["state"] != "pending"


async def test_a_subscription_survives_a_restart_and_hears_the_next_event(settings: Settings) -> None:
    receiver = Receiver(fail=0)
    port = await receiver.start()
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        hook = await subscribe(http, live, hook_for(port))
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        listed = (await http.get("/webhooks", headers=live.auth())).json()["webhooks"]
        assert [w["id"] for w in listed] == [hook["id"]]
        sale = await sell_out(live)
        (delivery,) = await deliveries_when(
            http, live, hook["id"], lambda d: d and d[0]["state"] != "pending"
        )
        assert delivery["state"] == "delivered" and delivery["room"] == sale
        assert [a["status"] for a in delivery["attempts"]] == [204]
        headers, body = receiver.requests[-1]
        assert orjson.loads(body)["room"] == sale and headers["x-fairlot-delivery"] == delivery["id"]
        # deleted: gone for good, deliveries included
        assert (await http.delete(f"/webhooks/{hook['id']}", headers=live.auth())).status_code == 204
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        assert (await http.get("/webhooks", headers=live.auth())).json()["webhooks"] == []
        gone = await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth())
        assert gone.status_code == 404
    assert receiver.server is not None
    receiver.server.close()


async def test_a_delivery_pending_at_shutdown_is_sent_after_the_restart_exactly_once(
    settings: Settings,
) -> None:
    port = free_port()  # nobody listens yet: every attempt fails with a refused connection
    async with (
        running(settings, webhook_backoff_ms=300, webhook_attempts=5) as live,
        httpx.AsyncClient(base_url=live.http) as http,
    ):
        hook = await subscribe(http, live, hook_for(port, events=None))
        await sell_out(live)
        (first,) = await deliveries_when(http, live, hook["id"], lambda d: d and d[0]["attempts"])
        assert first["state"] == "pending" and "error" in first["attempts"][0]
    # the server is gone with the delivery half done; the receiver comes up
    receiver = Receiver(fail=0)
    receiver.server = await asyncio.start_server(receiver.handle, "127.0.0.1", port)
    async with (
        running(settings, webhook_backoff_ms=300, webhook_attempts=5) as live,
        httpx.AsyncClient(base_url=live.http) as http,
    ):
        (done,) = await deliveries_when(http, live, hook["id"], finished)
        assert done["id"] == first["id"] and done["state"] == "delivered"
        attempts = done["attempts"]
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert all("error" in a for a in attempts[:-1]) and attempts[-1]["status"] == 204
        await asyncio.sleep(0.5)  # nothing more arrives
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        assert headers["x-fairlot-delivery"] == first["id"] == orjson.loads(body)["id"]
    receiver.server.close()


async def test_the_same_event_detected_twice_is_delivered_once(settings: Settings) -> None:
    receiver = Receiver(fail=0)
    port = await receiver.start()
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        hook = await subscribe(http, live, hook_for(port))
        sale = await sell_out(live)
        await deliveries_when(http, live, hook["id"], lambda d: d and d[0]["state"] == "delivered")
        # the durable batch heard again (a restart re-publishing, a second listener...)
        registry = live.app.state.registry
        batch = [envelope(e) for e in await registry.load_events(sale)]
        live.app.state.webhooks.on_events(sale, batch)
        await asyncio.sleep(0.5)
        found = (await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth())).json()
        assert len(found["deliveries"]) == 1 and len(receiver.requests) == 1
    assert receiver.server is not None
    receiver.server.close()


async def test_an_auction_closing_during_recovery_is_announced(settings: Settings) -> None:
    """The close timer of an auction that ended while the server was down fires as the
    registry recovers: the subscriptions must already be known then."""
    receiver = Receiver(fail=0)
    port = await receiver.start()
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        hook = await subscribe(http, live, hook_for(port, events=("auction.closed",)))
        end = time.time_ns() // 1_000_000 + 1500
        room = await create(live, "english", end=end)
    await asyncio.sleep(max(0.0, end - time.time_ns() // 1_000_000) / 1000 + 0.2)  # ends while down
    async with running(settings) as live, httpx.AsyncClient(base_url=live.http) as http:
        (delivery,) = await deliveries_when(http, live, hook["id"], finished)
        assert delivery["state"] == "delivered" and delivery["room"] == room
        assert orjson.loads(receiver.requests[0][1])["kind"] == "closed"
        assert len(receiver.requests) == 1
    assert receiver.server is not None
    receiver.server.close()


async def test_finished_deliveries_are_bounded_per_subscription(settings: Settings) -> None:
    async with running(settings) as live:
        hooks = live.app.state.webhooks
        store = hooks.store
        sub = await hooks.subscribe("host-1", "http://127.0.0.1:9/h", ["auction.closed"])
        other = await hooks.subscribe("host-1", "http://127.0.0.1:9/h", ["auction.closed"])
        for seq in range(1, 7):
            for owner in (sub, other):
                assert await store.add_delivery(
                    owner.id, f"dl_{owner.id}_{seq}", "auction.closed", "r", seq, b"{}"
                )
            await asyncio.sleep(0.002)  # distinct created_ms: "newest" is well defined
        assert not await store.add_delivery(sub.id, "dl_again", "auction.closed", "r", 3, b"{}")
        for seq in (1, 2, 4, 5, 6):  # 3 stays pending
            await store.record_attempt(f"dl_{sub.id}_{seq}", {"attempt": 1, "status": 204}, "delivered", 0)
        await store.prune(sub.id, keep=2)
        kept = {(d["id"], d["state"]) for d in await store.deliveries(sub.id)}
        assert kept == {(f"dl_{sub.id}_3", "pending"), (f"dl_{sub.id}_5", "delivered"),
                        (f"dl_{sub.id}_6", "delivered")}  # fmt: skip
        assert len(await store.deliveries(other.id)) == 6, "another subscription's rows are its own"
        (pending,) = [p for p in await store.pending() if p["webhook_id"] == sub.id]
        assert pending["id"] == f"dl_{sub.id}_3" and bytes(pending["body"]) == b"{}"


async def test_postgres_down_webhooks_answer_unavailable_and_detection_waits_for_it(tmp_path: Path) -> None:
    """Postgres stopped: POST /webhooks is ``503 unavailable``, bids are still acked, and
    the sold-out event detected meanwhile is delivered, once, when Postgres is back."""
    receiver = Receiver(fail=0)
    port = await receiver.start()
    with own_stores(tmp_path) as stores:
        settings = Settings(
            host="127.0.0.1", port=0, redis_url=stores.redis.url, database_url=stores.postgres.url
        )
        async with (
            running(settings, webhook_backoff_ms=100, webhook_attempts=2) as live,
            httpx.AsyncClient(base_url=live.http) as http,
        ):
            hook = await subscribe(http, live, hook_for(port))
            sale = await create(live, "flash", price=100, stock=1, per_buyer_limit=1, hold_ttl_ms=60_000)
            await asyncio.to_thread(stores.postgres.stop)
            refused = await http.post("/webhooks", json=hook_for(port), headers=live.auth())
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable"
            listing = await http.get(f"/webhooks/{hook['id']}/deliveries", headers=live.auth())
            assert listing.status_code == 503
            buyer, _ = await client(live, "bea")
            await send(buyer, {"type": "subscribe", "room": sale})
            await send(buyer, {"type": "buy", "id": "b1", "room": sale, "quantity": 1})
            while (reply := await recv(buyer))["type"] not in ("ack", "reject"):
                pass
            assert reply["type"] == "ack", reply
            await buyer.close()
            # far longer than 2 attempts' backoff: the insert is retried, not given up
            await asyncio.sleep(1.5)
            assert receiver.requests == [] and live.app.state.webhooks.pending() == 1
            await asyncio.to_thread(stores.restart_postgres)
            (delivery,) = await deliveries_when(http, live, hook["id"], finished, within=30)
            assert delivery["state"] == "delivered" and delivery["room"] == sale
            assert len(receiver.requests) == 1
            assert orjson.loads(receiver.requests[0][1])["id"] == delivery["id"]
            listed = (await http.get("/webhooks", headers=live.auth())).json()["webhooks"]
            assert [w["id"] for w in listed] == [hook["id"]], "the refused POST left nothing behind"
    assert receiver.server is not None
    receiver.server.close()


async def test_a_deleted_webhook_gets_no_more_retries(settings: Settings) -> None:
    port = free_port()  # down: the first attempt fails, retries are scheduled
    async with (
        running(settings, webhook_backoff_ms=200, webhook_attempts=5) as live,
        httpx.AsyncClient(base_url=live.http) as http,
    ):
        hook = await subscribe(http, live, hook_for(port))
        await sell_out(live)
        await deliveries_when(http, live, hook["id"], lambda d: d and d[0]["attempts"])
        assert (await http.delete(f"/webhooks/{hook['id']}", headers=live.auth())).status_code == 204
        receiver = Receiver(fail=0)
        receiver.server = await asyncio.start_server(receiver.handle, "127.0.0.1", port)
        await asyncio.sleep(1.8)  # past the 200 + 400 + 800 ms retries
        assert receiver.requests == [] and live.app.state.webhooks.pending() == 0
    receiver.server.close()
