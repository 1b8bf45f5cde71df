"""Fault-test harness: our own Redis/Postgres on free ports, a killable server, bidders.

Why own stores: fault tests SIGKILL and stop them; they must never touch the machine's
shared services. Everything started here is stopped by the harness.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bidding import Envelope, replay
from engine.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from engine.journal_redis import decode_event
from server.config import Settings
from tests.liveserver import ROOT, mint_token, server_env, wait_ready


@dataclass
class OwnStores:
    base: Path
    redis: EmbeddedRedis
    postgres: EmbeddedPostgres

    @classmethod
    def start(cls, base: Path) -> OwnStores:
        stores = cls(base, EmbeddedRedis(base), EmbeddedPostgres(base))
        stores.redis.start()
        try:
            stores.postgres.start()
        except BaseException:
            stores.redis.stop()
            raise
        return stores

    def restart_redis(self) -> None:
        self.redis = EmbeddedRedis(self.base, port=self.redis.port)
        self.redis.start()

    def restart_postgres(self) -> None:
        self.postgres = EmbeddedPostgres(self.base, port=self.postgres.port)
        self.postgres.start()

    def stop(self) -> None:
        self.redis.stop()
        self.postgres.stop()


@dataclass
class KillableServer:
    stores: OwnStores
    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def env(self) -> dict[str, str]:
        stores = Settings(redis_url=self.stores.redis.url, database_url=self.stores.postgres.url)
        env = server_env(stores, self.data_dir)
        env.update(
            # a load test from one IP: the per-user/IP limits would otherwise cap it
            FAIRLOT_RATE_USER_PER_S="5000",
            FAIRLOT_RATE_USER_BURST="5000",
            FAIRLOT_RATE_IP_PER_S="50000",
            FAIRLOT_RATE_IP_BURST="50000",
        )
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / f"server-{self.starts}.log"
        self.starts += 1
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(self.http, self.proc, 60, log)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


token = mint_token


@dataclass
class Tally:
    acked: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)  # (user, cmd) -> (room, seq)
    rejected: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    timeouts: int = 0
    slowest_reply_s: float = 0.0


class Bidders:
    """N bidders, each with one command in flight, reconnecting through restarts."""

    def __init__(self, server: KillableServer, rooms: list[str], n: int, reply_timeout: float = 5.0) -> None:
        self.server = server
        self.rooms = rooms
        self.n = n
        self.reply_timeout = reply_timeout
        self.tally = Tally()
        self._stop = asyncio.Event()
        self._amount = 10_000
        self._tasks: list[asyncio.Task[None]] = []

    def next_amount(self) -> int:
        self._amount += 10_000
        return self._amount

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._bidder(i)) for i in range(self.n)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _bidder(self, index: int) -> None:
        user = f"bidder{index}"
        counter = 0
        while not self._stop.is_set():
            try:
                async with connect(self.server.ws, subprotocols=["fairlot.v1.json"], open_timeout=2) as ws:  # type: ignore[list-item]
                    await ws.send(
                        orjson.dumps({"type": "hello", "version": 1, "token": token(user)}).decode()
                    )
                    for room in self.rooms:  # commands are accepted only in joined rooms
                        await ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
                    while not self._stop.is_set():
                        counter += 1
                        cmd = f"{user}-{counter}"
                        room = self.rooms[counter % len(self.rooms)]
                        message = {"type": "place_bid", "id": cmd, "room": room,
                                   "amount": self.next_amount(), "currency": "EUR"}  # fmt: skip
                        sent = time.monotonic()
                        await ws.send(orjson.dumps(message).decode())
                        reply = await self._reply(ws, cmd)
                        self.tally.slowest_reply_s = max(self.tally.slowest_reply_s, time.monotonic() - sent)
                        if reply is None:
                            self.tally.timeouts += 1
                            break
                        if reply["type"] == "ack":
                            self.tally.acked[(user, cmd)] = (room, reply["seq"])
                        else:
                            code = reply["code"]
                            self.tally.rejected[code] = self.tally.rejected.get(code, 0) + 1
                        await asyncio.sleep(0.002)
            except (OSError, WebSocketException, TimeoutError):
                self.tally.unanswered += 1  # the connection died with a command in flight
                await asyncio.sleep(0.05)

    async def _reply(self, ws: Any, cmd: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.reply_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data = await asyncio.wait_for(ws.recv(), remaining)
            except TimeoutError:
                return None
            msg = orjson.loads(data)
            if msg.get("type") in ("ack", "reject") and msg.get("id") == cmd:
                return dict(msg)


async def create_auction(server: KillableServer, params: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.post(
            "/auctions",
            json={"format": "english", "params": params},
            headers={"authorization": f"Bearer {token('host', 'host')}"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


async def auction_view(server: KillableServer, room: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http) as http:
        r = await http.get(f"/auctions/{room}")
        assert r.status_code == 200, r.text
        return dict(r.json())


async def journal_events(stores: OwnStores, room: str) -> list[dict[str, Any]]:
    """The room's whole log: what Postgres holds, then what only Redis holds (the
    projector trims each Redis stream to its recent tail once Postgres has it)."""
    import asyncpg
    import orjson
    import redis.asyncio as aioredis

    conn = await asyncpg.connect(stores.postgres.url)
    try:
        rows = await conn.fetch("SELECT payload FROM events WHERE stream = $1 ORDER BY seq", room)
    finally:
        await conn.close()
    events = [dict(orjson.loads(r["payload"])) for r in rows]
    client = aioredis.Redis.from_url(stores.redis.url)
    try:
        tail = await client.xrange(f"fl:s:{room}")
    finally:
        await client.aclose()
    held = events[-1]["seq"] if events else 0
    return events + [e for e in (decode_event(f[b"e"]) for _id, f in tail) if e["seq"] > held]


def check_against_log(events: list[dict[str, Any]], tally: Tally, room: str) -> tuple[int, int, str]:
    """(acked for room, found exactly once, offline state hash); replay checks the chain."""
    stream = replay(Envelope.from_dict(e) for e in events)
    by_key: dict[tuple[str, str], list[int]] = {}
    for e in events:
        by_key.setdefault((e["actor"], e["command_id"]), []).append(e["seq"])
    acked = {k: v for k, v in tally.acked.items() if v[0] == room}
    found = sum(1 for k, (_room, seq) in acked.items() if by_key.get(k) == [seq])
    return len(acked), found, stream.state_hash()


async def wait_until(predicate: Any, within: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return False


async def reconcile(server: KillableServer, tally: Tally, rooms: list[str]) -> tuple[int, int]:
    """(acknowledged, found exactly once in the journal) over ``rooms``; asserts that the
    server's state of each room equals an offline replay of its journal."""
    acked = recovered = 0
    for room in rooms:
        events = await journal_events(server.stores, room)
        n_acked, n_found, offline = check_against_log(events, tally, room)
        acked += n_acked
        recovered += n_found
        view = await auction_view(server, room)
        assert view["state_hash"] == offline, f"{room}: server state must equal an offline replay"
    return acked, recovered


def english(end: int) -> dict[str, Any]:
    return {"currency": "EUR", "opening": 100, "end": end}


@contextlib.asynccontextmanager
async def fault_server(base: Path, rooms: int, end: int) -> Any:
    """Own stores, a killable ``fairlot serve`` on them, and ``rooms`` English auctions;
    everything started is stopped on the way out."""
    with own_stores(base / "stores") as stores:
        server = KillableServer(stores, base / "server")
        server.start()
        try:
            yield server, [await create_auction(server, english(end)) for _ in range(rooms)]
        finally:
            server.stop()


@contextlib.contextmanager
def own_stores(base: Path) -> Any:
    stores = OwnStores.start(base)
    try:
        yield stores
    finally:
        stores.stop()
