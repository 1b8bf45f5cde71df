"""Durable bids/s end to end: WebSocket in, group commit (Redis AOF fsync), ack out.

The brief's durable figure (section 6: >= 20k bids/s, ack p99 <= 10 ms) is end to end,
where bench_durable drives the engine in-process. This one runs ``fairlot serve`` as
its own process, pinned to core 0 (``taskset -c 0``, the brief's method), and drives it
from client processes pinned to core 1, over loopback WebSockets, with the real stores:
a Redis of its own (embedded, AOF ``appendfsync always``: an ack means fsynced) and an
embedded Postgres (the projector writes it, as in production).

Load: closed loop. Each connection is one bidder that owns one English auction, signs
in (``hello`` with a bidder token), subscribes to its room (so each bid's event comes
back to it too, as to any bidder in a live room) and then sends ``place_bid`` with a
rising max, waiting for each ``ack`` before the next. Latency runs from the send to
the ack's receipt (both read CLOCK_MONOTONIC). A warm-up second is not counted.

Peer, in the same run and on the same core: a bare ``websockets`` server that writes
each bid to a Redis stream of the same Redis (one XADD per bid, awaited, over a redis-py
pool: Redis' own fsync per event-loop turn groups concurrent connections' writes) and
then acks. It has durability and nothing else: no rules, no hash chain, no idempotency,
no Postgres, no fan-out beyond the ack.

    python benchmarks/bench_durable_ws.py [--conns 64,128] [--seconds 8] [--procs 2]
        [--no-peer]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_fanout as fanout
import orjson
from bench_fanout import SECRET, WsClient, proc_cpu_s, raise_nofile, taskset

WARMUP_S = 1.0


class Bidder(WsClient):
    """One connection: hello, subscribe, then bid / await ack in a closed loop."""

    def __init__(self, port: int, room: str, token: str | None, worker: Worker) -> None:
        super().__init__("127.0.0.1", port)
        self.room, self.token, self.worker = room, token, worker
        self.amount = 10_000
        self.n = 0
        self.sent_at = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost += 1

    def bid(self) -> None:
        if time.monotonic_ns() >= self.worker.end_ns:
            self.worker.finished(self)
            return
        self.n += 1
        self.amount += 10_000
        self.sent_at = time.monotonic_ns()
        self.send(
            {
                "type": "place_bid",
                "id": f"b{self.n}",
                "room": self.room,
                "amount": self.amount,
                "currency": "EUR",
            }
        )

    def on_open(self) -> None:
        self.send({"type": "hello", "version": 1, "token": self.token})
        self.send({"type": "subscribe", "room": self.room, "since": 10**12})

    def on_message(self, payload: bytes, now: int) -> None:
        kind = orjson.loads(payload).get("type")
        if kind == "ack":
            if self.sent_at >= self.worker.count_from_ns and now <= self.worker.end_ns:
                self.worker.latencies.append(now - self.sent_at)
            self.bid()
        elif kind == "reject":
            self.worker.rejected += 1
            self.bid()
        elif kind == "snapshot":
            self.worker.ready(self)


class Worker:
    """A client process's connections and what they measured."""

    def __init__(self, port: int, rooms: list[str], start_ns: int, seconds: float, fairlot: bool) -> None:
        self.port, self.rooms, self.fairlot = port, rooms, fairlot
        self.start_ns = start_ns
        self.count_from_ns = start_ns + int(WARMUP_S * 1e9)
        self.end_ns = self.count_from_ns + int(seconds * 1e9)
        self.latencies: array[int] = array("q")
        self.rejected = 0
        self.lost = 0
        self._ready: set[Bidder] = set()
        self._done: asyncio.Future[None] | None = None
        self._bidders: list[Bidder] = []
        self._all_ready: asyncio.Future[None] | None = None

    def ready(self, bidder: Bidder) -> None:
        self._ready.add(bidder)
        if (
            len(self._ready) == len(self._bidders)
            and self._all_ready is not None
            and not self._all_ready.done()
        ):
            self._all_ready.set_result(None)

    def finished(self, bidder: Bidder) -> None:
        self._ready.discard(bidder)
        if not self._ready and self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._done, self._all_ready = loop.create_future(), loop.create_future()
        token = None
        if self.fairlot:
            from server.auth import TokenSigner

            signer = TokenSigner(SECRET.encode())
        for i, room in enumerate(self.rooms):
            if self.fairlot:
                token = signer.mint(
                    f"ws-bidder-{room}-{i}", "bidder", time.time_ns() // 1_000_000 + 3_600_000
                )
            bidder = Bidder(self.port, room, token, self)
            self._bidders.append(bidder)
            await loop.create_connection(functools.partial(lambda b: b, bidder), "127.0.0.1", self.port)
        await asyncio.wait_for(self._all_ready, 60)
        await asyncio.sleep(max(0.0, (self.start_ns - time.monotonic_ns()) / 1e9))
        for bidder in self._bidders:
            bidder.bid()
        await asyncio.wait_for(self._done, WARMUP_S + (self.end_ns - self.start_ns) / 1e9 + 30)


def worker_main(port: int, rooms: str, start_ns: int, seconds: float, fairlot: bool, out: str) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    worker = Worker(port, rooms.split(","), start_ns, seconds, fairlot)
    asyncio.run(worker.run())
    Path(out).write_bytes(
        orjson.dumps({"rejected": worker.rejected, "lost": worker.lost}) + b"\n" + worker.latencies.tobytes()
    )


async def peer_server(port: int, redis_url: str) -> None:
    """A bare websockets server: XADD each bid to Redis (AOF always), then ack."""
    import redis.asyncio as aioredis
    from websockets.asyncio.server import ServerConnection, serve

    client = aioredis.Redis.from_url(redis_url, max_connections=256)

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            kind = msg.get("type")
            if kind == "hello":
                await ws.send('{"type":"welcome"}')
            elif kind == "subscribe":
                await ws.send(orjson.dumps({"type": "snapshot", "room": msg["room"], "seq": 0}).decode())
            elif kind == "place_bid":
                entry_id = await client.xadd(f"peer:{msg['room']}", {"e": raw})
                seq = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                ack = {"type": "ack", "id": msg["id"], "room": msg["room"], "seq": seq}
                await ws.send(orjson.dumps(ack).decode())

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None, ping_interval=None):
        print("listening", flush=True)
        await asyncio.Future()


class Target(fanout.Target):
    """fairlot (as in bench_fanout) or this benchmark's durable peer."""

    def start(self) -> None:
        if self.name == "fairlot":
            super().start()
            return
        assert self.stores is not None
        redis_url = self.stores.redis_url
        cmd = [*taskset("0"), sys.executable, __file__, "--peer-server", str(self.port), redis_url]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"listening"

    def create_rooms(self, n: int) -> list[str]:
        """n English auctions (the peer's rooms are names)."""
        if self.name != "fairlot":
            return [f"room-{i}" for i in range(n)]
        return [self.create_room() for _ in range(n)]


def percentile(values: list[int], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] / 1e6 if values else float("nan")


def run(target: Target, conns: int, procs: int, seconds: float) -> dict[str, Any]:
    rooms = target.create_rooms(conns)
    start_ns = time.monotonic_ns() + int(3e9)  # time for every worker to connect
    outs, workers = [], []
    for k in range(procs):
        mine = rooms[k::procs]
        out = tempfile.mktemp(prefix="durable-ws-worker-")
        outs.append(out)
        cmd = [
            *taskset("1"), sys.executable, __file__, "--worker", str(target.port), ",".join(mine),
            str(start_ns), str(seconds), "1" if target.name == "fairlot" else "0", out,
        ]  # fmt: skip
        workers.append(subprocess.Popen(cmd, cwd=ROOT))
    assert target.proc is not None
    time.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9 + WARMUP_S))
    cpu0 = sum(proc_cpu_s(target.proc.pid))
    time.sleep(seconds)
    cpu = sum(proc_cpu_s(target.proc.pid)) - cpu0
    for w in workers:
        if w.wait(120) != 0:
            raise RuntimeError(f"a client worker failed ({w.returncode})")
    latencies: array[int] = array("q")
    rejected = lost = 0
    for out in outs:
        head, _, body = Path(out).read_bytes().partition(b"\n")
        meta = orjson.loads(head)
        rejected += meta["rejected"]
        lost += meta["lost"]
        latencies.frombytes(body)
        os.unlink(out)
    lat = sorted(latencies)
    return {
        "bids_per_s": len(lat) / seconds,
        "p50": percentile(lat, 0.50),
        "p99": percentile(lat, 0.99),
        "p999": percentile(lat, 0.999),
        "server_us_per_bid": 1e6 * cpu / len(lat) if lat else float("nan"),
        "rejected": rejected,
        "lost": lost,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conns", default="64,128", help="concurrent bidders (connections), comma-separated")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per run")
    parser.add_argument("--procs", type=int, default=2, help="client processes (on core 1)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    parser.add_argument("--peer-server", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_nofile()
    if args.worker:
        port, rooms, start_ns, seconds, fairlot, out = args.worker
        worker_main(int(port), rooms, int(start_ns), float(seconds), fairlot == "1", out)
        return 0
    if args.peer_server:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        asyncio.run(peer_server(int(args.peer_server[0]), args.peer_server[1]))
        return 0

    from engine.embedded import EmbeddedPostgres, EmbeddedRedis
    from server.config import Settings

    base = Path(tempfile.mkdtemp(prefix="fairlot-bench-ws-"))
    redis_server, pg_server = EmbeddedRedis(base), EmbeddedPostgres(base, nice=Settings().pg_nice)
    try:
        redis_url, pg_url = redis_server.start(), pg_server.start()
        print(
            f"durable bids end to end over WebSockets (Redis AOF appendfsync=always, embedded; server on "
            f"core 0, {args.procs} client processes on core 1; closed loop, {args.seconds:.0f} s per run "
            f"after {WARMUP_S:.0f} s warm-up)"
        )
        print(
            f"{'target':18} {'bidders':>7} {'bids/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'p99.9':>7}"
            f" {'server us/bid':>13}"
        )
        names = ["fairlot"] if args.no_peer else ["fairlot", "websockets+redis"]
        best: dict[str, float] = {}
        met = []
        for conns in (int(c) for c in args.conns.split(",")):
            for name in names:
                target = Target(name, SimpleNamespace(redis_url=redis_url, database_url=pg_url))
                try:
                    target.start()
                    r = run(target, conns, args.procs, args.seconds)
                finally:
                    target.stop()
                best[name] = max(best.get(name, 0.0), r["bids_per_s"])
                note = f"  rejected {r['rejected']}" if r["rejected"] else ""
                note += f"  lost connections {r['lost']}" if r["lost"] else ""
                print(
                    f"{name:18} {conns:7d} {r['bids_per_s']:9.0f} {r['p50']:7.2f} {r['p99']:7.2f} "
                    f"{r['p999']:7.2f} {r['server_us_per_bid']:13.1f}{note}",
                    flush=True,
                )
                if name == "fairlot" and r["bids_per_s"] >= 20_000 and r["p99"] <= 10.0:
                    met.append(f"{conns} bidders")
        if len(best) == 2:
            print(f"fairlot / peer, best bids/s: x{best['fairlot'] / best['websockets+redis']:.2f}")
        print(
            "target >= 20,000 bids/s with ack p99 <= 10 ms:", "met by " + ", ".join(met) if met else "NOT met"
        )
    finally:
        redis_server.stop()
        pg_server.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
