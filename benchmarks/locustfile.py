"""Locust load: bidders in live English rooms and flash-sale buyers, over WebSocket.

Each simulated user opens one WebSocket (``fairlot.v1.json``), says ``hello`` with a
bearer token minted from the server's secret (``FAIRLOT_SECRET``, else the dev secret in
``--data-dir``/``FAIRLOT_DATA_DIR``, like ``fairlot token``), subscribes to its room and
then acts. Every command's time to its ``ack``/``reject`` is reported to locust's
statistics (request type ``WS``):

- ``Bidder``: bids just above the price it last saw (events keep it current). Outbid
  races end in ``bid_too_low``: a normal auction outcome, reported as a success named
  ``place_bid (outbid)``; any other rejection, a timeout or a dropped connection is a
  failure.
- ``Buyer``: waits for admission by the sale's waiting room, then ``hold`` + ``confirm``.
  ``sold_out`` and ``waitlisted`` are normal outcomes (reported under their own names).

The test's rooms are created once, at test start, through the REST API with a host
token: ``FAIRLOT_ROOMS`` English auctions (default 5) and one flash sale.

Run (headless, 60 s, against ``fairlot serve`` on the default port). All simulated users
share one IP, so start the server with the per-IP bucket raised (the per-user limits
stay as configured)::

    FAIRLOT_RATE_IP_PER_S=100000 FAIRLOT_RATE_IP_BURST=100000 fairlot serve &
    locust -f benchmarks/locustfile.py --headless -u 200 -r 50 -t 60s \
        --host http://127.0.0.1:8000 --only-summary
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import requests
from locust import User, between, events, task
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.auth import TokenSigner

FAR = 4_102_444_800_000
REPLY_TIMEOUT_S = 10.0
_ROOMS: list[str] = []
_SALE: list[str] = []
_ids = itertools.count()


def signer() -> TokenSigner:
    return TokenSigner.from_env(Path(os.environ.get("FAIRLOT_DATA_DIR", ".fairlot")))


def token(user: str, role: str = "bidder") -> str:
    return signer().mint(user, role, time.time_ns() // 1_000_000 + 3_600_000)


@events.test_start.add_listener
def create_rooms(environment: Any, **_: Any) -> None:
    host = environment.host or "http://127.0.0.1:8000"
    auth = {"authorization": f"Bearer {token('locust-host', 'host')}"}
    for _ in range(int(os.environ.get("FAIRLOT_ROOMS", "5"))):
        r = requests.post(
            f"{host}/auctions",
            json={"format": "english", "params": {"currency": "EUR", "opening": 100, "end": FAR}},
            headers=auth,
            timeout=10,
        )
        r.raise_for_status()
        _ROOMS.append(r.json()["id"])
    params = {
        "price": 1999,
        "currency": "EUR",
        "stock": 1_000_000,
        "per_buyer_limit": 1_000_000,
        "hold_ttl_ms": 60_000,
    }
    r = requests.post(f"{host}/sales", json={"params": params}, headers=auth, timeout=10)
    r.raise_for_status()
    _SALE.append(r.json()["id"])


class Room:
    """One WebSocket: a reader thread routes replies by command id and tracks events."""

    def __init__(self, base: str, user: str, room: str) -> None:
        url = base.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/ws"
        self._connection = connect(url, subprotocols=["fairlot.v1.json"], compression=None, open_timeout=10)  # type: ignore[list-item]
        self.ws = self._connection.__enter__()
        self.room = room
        self.user = user
        self.price = 100
        self.admitted = threading.Event()
        self.replies: dict[str, dict[str, Any]] = {}
        self.events: dict[int, dict[str, Any]] = {}
        self.cond = threading.Condition()
        self.closed = False
        self.send({"type": "hello", "version": 1, "token": token(user)})
        self.send({"type": "subscribe", "room": room})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(orjson.dumps(message).decode())

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = orjson.loads(raw)
                kind = msg["type"]
                batch = msg["events"] if kind == "batch" else [msg] if kind == "event" else []
                with self.cond:
                    for e in batch:
                        if e["seq"] == 0 and e["kind"] == "waiting_room":
                            if e["data"]["admitted"]:
                                self.admitted.set()
                            continue
                        price = e["data"].get("price")
                        if isinstance(price, int):
                            self.price = max(self.price, price)
                        self.events[e["seq"]] = e
                    if kind == "snapshot" and isinstance(msg["state"].get("price"), int):
                        self.price = max(self.price, msg["state"]["price"])
                    if kind in ("ack", "reject"):
                        self.replies[msg["id"]] = msg
                    self.cond.notify_all()
        except Exception:
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def call(self, message: dict[str, Any]) -> tuple[dict[str, Any] | None, float]:
        """Send a command; its reply (None on timeout) and the time to it (ms)."""
        cid = message["id"]
        started = time.perf_counter()
        self.send(message)
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        with self.cond:
            while cid not in self.replies and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            reply = self.replies.pop(cid, None)
        return reply, (time.perf_counter() - started) * 1000.0

    def event(self, seq: int) -> dict[str, Any] | None:
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        with self.cond:
            while seq not in self.events and not self.closed and time.monotonic() < deadline:
                self.cond.wait(0.1)
            return self.events.get(seq)

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


class WsUser(User):
    abstract = True
    room: Room

    def report(
        self, name: str, reply: dict[str, Any] | None, ms: float, ok_codes: tuple[str, ...] = ()
    ) -> None:
        fire = self.environment.events.request.fire
        if reply is None:
            fire(
                request_type="WS",
                name=name,
                response_time=ms,
                response_length=0,
                exception=TimeoutError("no reply"),
            )
        elif reply["type"] == "ack":
            fire(request_type="WS", name=name, response_time=ms, response_length=0, exception=None)
        elif reply["code"] in ok_codes:
            fire(
                request_type="WS",
                name=f"{name} ({reply['code']})",
                response_time=ms,
                response_length=0,
                exception=None,
            )
        else:
            error = RuntimeError(f"{reply['code']}: {reply.get('message', '')}")
            fire(request_type="WS", name=name, response_time=ms, response_length=0, exception=error)

    def on_stop(self) -> None:
        self.room.close()


class Bidder(WsUser):
    weight = 3
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.name = f"bidder-{next(_ids)}"
        self.room = Room(self.environment.host or "http://127.0.0.1:8000", self.name, random.choice(_ROOMS))

    @task
    def bid(self) -> None:
        amount = self.room.price + random.randint(1, 20) * 100
        cid = f"{self.name}-{next(_ids)}"
        message = {
            "type": "place_bid",
            "id": cid,
            "room": self.room.room,
            "amount": amount,
            "currency": "EUR",
        }
        reply, ms = self.room.call(message)
        self.report("place_bid", reply, ms, ok_codes=("bid_too_low",))


class Buyer(WsUser):
    weight = 1
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.name = f"buyer-{next(_ids)}"
        self.room = Room(self.environment.host or "http://127.0.0.1:8000", self.name, _SALE[0])
        started = time.perf_counter()
        admitted = self.room.admitted.wait(60)
        self.environment.events.request.fire(
            request_type="WS",
            name="waiting_room",
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=None if admitted else TimeoutError("not admitted within 60 s"),
        )

    @task
    def buy(self) -> None:
        cid = f"{self.name}-{next(_ids)}"
        reply, ms = self.room.call({"type": "hold", "id": cid, "room": self.room.room, "quantity": 1})
        self.report("hold", reply, ms, ok_codes=("sold_out",))
        if reply is None or reply["type"] != "ack":
            return
        event = self.room.event(reply["seq"])
        if event is None or event["kind"] != "hold_placed":
            name = "hold (waitlisted)" if event is not None else "hold"
            self.environment.events.request.fire(
                request_type="WS", name=name, response_time=0, response_length=0, exception=None
            )
            return
        cid = f"{self.name}-{next(_ids)}"
        message = {"type": "confirm", "id": cid, "room": self.room.room, "hold_id": event["data"]["hold_id"]}
        reply, ms = self.room.call(message)
        self.report("confirm", reply, ms)
