"""Fan-out: N viewers in one room, bids at a fixed open-loop rate, fairlot vs a peer.

What it measures, for ``fairlot serve`` and, in the same run, a bare ``websockets``
broadcast server (the peer: no durability, no protocol checks, ``websockets.broadcast``):

- bid-to-viewer latency p50/p99: from the bidder's send to each viewer's receipt of the
  event (all processes read ``CLOCK_MONOTONIC``, which is system-wide). For fairlot this
  includes the durable write (Redis AOF fsync) before the event is published;
- delivered/expected: events received by all viewers / (viewers x bids acknowledged);
- server CPU µs per delivered message: the server process's utime+stime
  (``/proc/<pid>/stat``) over the bidding window / deliveries, split user + system
  (the system part is mostly the kernel's loopback TCP send, one per viewer per frame),
  and the server's CPU over 2 s with viewers connected and no bids (keepalives);
- RSS per connection: the server's RSS growth while the viewers connect / N;
- where the latency goes: bid-to-ack (fairlot acks once the event is durable and handed
  to the room, i.e. after the fan-out loop unless the room holds it for its next tick),
  bid-to-first-viewer p50 and max (the durable write and the command's own work plus
  one send: what is not fan-out) and, from fairlot's ``/metrics``, the mean time of the
  server's fan-out loop and the events per fan-out (coalescing).

The server runs pinned to core 0 (``taskset -c 0``); the viewers (split over processes
of at most ``--per-proc`` connections, a minimal asyncio WebSocket client) and the
bidder run on core 1. Redis and Postgres run unpinned. Workloads: ``1000x20`` (1,000
viewers, 20 bids/s) and ``10000x2``.

With ``--floor``, a third target calibrates the machine: a bare uvloop protocol that
builds each event frame once and loops ``transport.write`` over the viewers (no
durability, no protocol, no queues): the least CPU per message a Python fan-out over
loopback TCP costs here, most of it the kernel's.

Run: ``.venv/bin/python benchmarks/bench_fanout.py [--workloads 1000x20,10000x2]
[--seconds 10] [--no-peer] [--floor]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson

SECRET = "bench-secret-0123456789abcdef"
FAR = 4_102_444_800_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def taskset(core: str) -> list[str]:
    return ["taskset", "-c", core] if shutil.which("taskset") else []


# --------------------------------------------------------------------------- minimal client


def mask_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client frame with a zero mask key (valid framing; the XOR is the identity)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class WsClient(asyncio.Protocol):
    """A minimal WebSocket client (``fairlot.v1.json``): the upgrade, masked frames out,
    frames in with ping answered; subclasses act on ``on_open`` and ``on_message``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport is not a subclass of asyncio.Transport
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            (
                f"GET /ws HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: fairlot.v1.json\r\n\r\n"
            ).encode()
        )

    def send(self, msg: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(mask_frame(orjson.dumps(msg)))

    def on_open(self) -> None:
        """The upgrade is done: say hello, subscribe."""

    def on_message(self, payload: bytes, now: int) -> None:
        """A text or binary message, received at ``now`` (CLOCK_MONOTONIC ns)."""

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del buf[: end + 4]
            self.upgraded = True
            self.on_open()
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                offset = 10
            if len(buf) < offset + length:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            if opcode == 0x9 and self.transport is not None:  # ping -> pong
                self.transport.write(mask_frame(payload, 0xA))
            elif opcode in (0x1, 0x2):
                self.on_message(payload, now)


class Viewer(WsClient):
    """Handshake, hello, subscribe; then record (seq, receive ns) of every event."""

    def __init__(
        self, host: str, port: int, room: str, record: array[int], ready: asyncio.Future[None]
    ) -> None:
        super().__init__(host, port)
        self.room = room
        self.record = record
        self.ready = ready

    def on_open(self) -> None:
        self.send({"type": "hello", "version": 1})
        self.send({"type": "subscribe", "room": self.room})

    def on_message(self, payload: bytes, now: int) -> None:
        msg = orjson.loads(payload)
        kind = msg.get("type")
        if kind == "event":
            self.record.append(msg["seq"])
            self.record.append(now)
        elif kind == "batch":
            for e in msg["events"]:
                self.record.append(e["seq"])
                self.record.append(now)
        elif kind == "snapshot" and not self.ready.done():
            self.ready.set_result(None)


async def viewer_worker(port: int, room: str, count: int, out: str) -> None:
    loop = asyncio.get_running_loop()
    record: array[int] = array("q")
    readies = []
    for i in range(count):
        ready: asyncio.Future[None] = loop.create_future()
        readies.append(ready)
        await loop.create_connection(
            lambda r=ready: Viewer("127.0.0.1", port, room, record, r), "127.0.0.1", port
        )
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*readies), 120)
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent says stop
    await loop.run_in_executor(None, Path(out).write_bytes, record.tobytes())


# --------------------------------------------------------------------------- peer server


async def peer_server(port: int) -> None:
    """A bare websockets broadcast server speaking just enough of the protocol."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    viewers: set[ServerConnection] = set()
    seq = 1

    async def handler(ws: ServerConnection) -> None:
        nonlocal seq
        try:
            async for raw in ws:
                msg = orjson.loads(raw)
                kind = msg.get("type")
                if kind == "hello":
                    await ws.send('{"type":"welcome"}')
                elif kind == "subscribe":
                    viewers.add(ws)
                    await ws.send(
                        orjson.dumps({"type": "snapshot", "room": msg["room"], "seq": seq}).decode()
                    )
                elif kind == "place_bid":
                    seq += 1
                    event = {
                        "type": "event",
                        "room": msg["room"],
                        "seq": seq,
                        "kind": "bid",
                        "time": time.time_ns() // 1_000_000,
                        "data": {"bidder": "x", "price": msg["amount"], "leader": "x", "reserve_met": True},
                    }
                    broadcast(viewers, orjson.dumps(event).decode())
                    await ws.send(
                        orjson.dumps(
                            {"type": "ack", "id": msg["id"], "room": msg["room"], "seq": seq}
                        ).decode()
                    )
        finally:
            viewers.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None, ping_interval=None):
        print("listening", flush=True)
        await asyncio.Future()


async def floor_server(port: int) -> None:
    """The floor: the least a Python fan-out can do. A bare uvloop protocol speaking just
    enough WebSocket and protocol; per bid, one event frame built once and a loop of
    ``transport.write`` over the viewers (no durability, no checks, no queues)."""
    import hashlib

    viewers: list[asyncio.Transport] = []
    seq = 1
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def frame(payload: bytes) -> bytes:
        n = len(payload)
        head = bytes((0x81, n)) if n < 126 else struct.pack("!BBH", 0x81, 126, n)
        return head + payload

    class Floor(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buf = bytearray()
            self.upgraded = False

        def connection_lost(self, exc: Exception | None) -> None:
            with contextlib.suppress(ValueError):
                viewers.remove(self.transport)

        def data_received(self, data: bytes) -> None:
            buf = self.buf
            buf += data
            if not self.upgraded:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).decode()
                del buf[: end + 4]
                key = next(
                    line.split(":", 1)[1].strip()
                    for line in head.split("\r\n")
                    if line.lower().startswith("sec-websocket-key:")
                )
                accept = base64.b64encode(hashlib.sha1(key.encode() + guid).digest()).decode()
                self.transport.write(
                    (
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: fairlot.v1.json\r\n\r\n"
                    ).encode()
                )
                self.upgraded = True
            while len(buf) >= 6:
                length = buf[1] & 0x7F
                offset = 2
                if length == 126:
                    length = struct.unpack_from("!H", buf, 2)[0]
                    offset = 4
                if len(buf) < offset + 4 + length:
                    return
                mask = buf[offset : offset + 4]
                body = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[offset + 4 : offset + 4 + length]))
                opcode = buf[0] & 0x0F
                del buf[: offset + 4 + length]
                if opcode == 0x1:
                    self.on_message(orjson.loads(body))

        def on_message(self, msg: dict[str, Any]) -> None:
            nonlocal seq
            kind = msg.get("type")
            if kind == "hello":
                self.transport.write(frame(b'{"type":"welcome"}'))
            elif kind == "subscribe":
                viewers.append(self.transport)
                self.transport.write(
                    frame(orjson.dumps({"type": "snapshot", "room": msg["room"], "seq": seq}))
                )
            elif kind == "place_bid":
                seq += 1
                event = {
                    "type": "event",
                    "room": msg["room"],
                    "seq": seq,
                    "kind": "bid",
                    "time": time.time_ns() // 1_000_000,
                    "data": {"bidder": "x", "price": msg["amount"], "leader": "x", "reserve_met": True},
                }
                wire = frame(orjson.dumps(event))
                for transport in viewers:
                    transport.write(wire)
                ack = {"type": "ack", "id": msg["id"], "room": msg["room"], "seq": seq}
                self.transport.write(frame(orjson.dumps(ack)))

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Floor, "127.0.0.1", port, backlog=4096)
    print("listening", flush=True)
    async with server:
        await asyncio.Future()


# --------------------------------------------------------------------------- driver


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("server not ready")


class Target:
    """A server under test: fairlot or the peer."""

    def __init__(self, name: str, stores: Any | None) -> None:
        self.name = name
        self.port = free_port()
        self.stores = stores
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"fanout-{name}-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self) -> None:
        env = dict(os.environ)
        if self.name == "fairlot":
            env.update(
                FAIRLOT_SECRET=SECRET,
                REDIS_URL=self.stores.redis_url,
                DATABASE_URL=self.stores.database_url,
                FAIRLOT_PG_SCHEMA=f"bench_{secrets.token_hex(4)}",
                FAIRLOT_REDIS_PREFIX=f"bench_{secrets.token_hex(4)}",
                FAIRLOT_RATE_USER_PER_S="1000000",
                FAIRLOT_RATE_USER_BURST="1000000",
                FAIRLOT_RATE_IP_PER_S="1000000",
                FAIRLOT_RATE_IP_BURST="1000000",
            )
            cmd = [*taskset("0"), sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
            wait_http(f"http://127.0.0.1:{self.port}/readyz", self.proc)
        else:
            flag = "--floor-server" if self.name == "raw-floor" else "--peer-server"
            cmd = [*taskset("0"), sys.executable, __file__, flag, str(self.port)]
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log)
            assert self.proc.stdout is not None
            assert self.proc.stdout.readline().strip() == b"listening"

    def create_room(self) -> str:
        if self.name != "fairlot":
            return "room-1"
        import httpx

        from server.auth import TokenSigner

        token = TokenSigner(SECRET.encode()).mint(
            "bench-host", "host", time.time_ns() // 1_000_000 + 3_600_000
        )
        r = httpx.post(
            f"http://127.0.0.1:{self.port}/auctions",
            json={"format": "english", "params": {"currency": "EUR", "opening": 100, "end": FAR}},
            headers={"authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        return str(r.json()["id"])

    def token(self, user: str) -> str | None:
        if self.name != "fairlot":
            return None
        from server.auth import TokenSigner

        return TokenSigner(SECRET.encode()).mint(user, "bidder", time.time_ns() // 1_000_000 + 3_600_000)

    def fanout_counters(self) -> tuple[float, int]:
        """fairlot's (seconds spent in fan-out loops, batches fanned out) from /metrics."""
        if self.name != "fairlot":
            return 0.0, 0
        import httpx

        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
        return float(values["fairlot_fanout_seconds_total"]), int(values["fairlot_fanout_batches_total"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def bidder(
    target: Target, room: str, rate: float, seconds: float
) -> tuple[dict[int, int], dict[int, int], dict[str, int]]:
    """Open loop: a bid every 1/rate s, alternating two bidders with rising maxima."""
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{target.port}/ws"
    conns = []
    for user in ("bidder-a", "bidder-b"):
        ws = await connect(url, subprotocols=["fairlot.v1.json"], compression=None)  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "hello", "version": 1, "token": target.token(user)}).decode())
        await ws.send(orjson.dumps({"type": "subscribe", "room": room, "since": 10**12}).decode())
        conns.append(ws)
    sent_at: dict[str, int] = {}
    seq_sent: dict[int, int] = {}
    seq_acked: dict[int, int] = {}
    rejected: dict[str, int] = {}

    async def read(ws: Any) -> None:
        async for raw in ws:
            now = time.monotonic_ns()
            msg = orjson.loads(raw)
            if msg["type"] == "ack":
                seq_sent[msg["seq"]] = sent_at[msg["id"]]
                seq_acked[msg["seq"]] = now
            elif msg["type"] == "reject":
                rejected[msg["code"]] = rejected.get(msg["code"], 0) + 1

    readers = [asyncio.create_task(read(ws)) for ws in conns]
    await asyncio.sleep(0.5)
    n_bids = int(rate * seconds)
    start = time.monotonic()
    for n in range(n_bids):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        cid = f"b{n}"
        sent_at[cid] = time.monotonic_ns()
        msg = {"type": "place_bid", "id": cid, "room": room, "amount": 1000 + n * 20_000, "currency": "EUR"}
        await conns[n % 2].send(orjson.dumps(msg).decode())
    await asyncio.sleep(2.0)
    for task in readers:
        task.cancel()
    for ws in conns:
        await ws.close()
    return seq_sent, seq_acked, rejected


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_workload(target: Target, viewers: int, rate: float, seconds: float, per_proc: int) -> dict[str, Any]:
    room = target.create_room()
    assert target.proc is not None
    pid = target.proc.pid
    rss_before = proc_rss_kb(pid)
    workers = []
    outs = []
    remaining = viewers
    while remaining > 0:
        count = min(per_proc, remaining)
        remaining -= count
        fd, out = tempfile.mkstemp(prefix="fanout-rec-")
        os.close(fd)
        outs.append(out)
        cmd = [
            *taskset("1"),
            sys.executable,
            __file__,
            "--viewer-worker",
            str(target.port),
            room,
            str(count),
            out,
        ]
        workers.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT))
    for w in workers:
        assert w.stdout is not None
        line = w.stdout.readline().strip()
        if line != b"ready":
            raise RuntimeError(f"viewer worker failed: {line!r}")
    time.sleep(1.0)
    idle_before = proc_cpu_s(pid)
    time.sleep(2.0)
    idle_after = proc_cpu_s(pid)
    rss_after = proc_rss_kb(pid)
    fanout_before = target.fanout_counters()
    cpu_before = proc_cpu_s(pid)
    seq_sent, seq_acked, rejected = asyncio.run(bidder(target, room, rate, seconds))
    cpu_after = proc_cpu_s(pid)
    fanout_after = target.fanout_counters()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write(b"stop\n")
        w.stdin.flush()
    for w in workers:
        w.wait(60)
    latencies: list[float] = []
    first: dict[int, int] = {}  # seq -> earliest receipt by any viewer
    delivered = 0
    for out in outs:
        rec = array("q")
        rec.frombytes(Path(out).read_bytes())
        os.unlink(out)
        for i in range(0, len(rec), 2):
            seq = rec[i]
            sent = seq_sent.get(seq)
            if sent is not None:
                delivered += 1
                at = rec[i + 1]
                latencies.append((at - sent) / 1e6)
                if at < first.get(seq, at + 1):
                    first[seq] = at
    latencies.sort()
    ack_ms = sorted((seq_acked[s] - seq_sent[s]) / 1e6 for s in seq_sent)
    first_ms = sorted((first[s] - seq_sent[s]) / 1e6 for s in first)
    expected = viewers * len(seq_sent)
    user_s = cpu_after[0] - cpu_before[0]
    sys_s = cpu_after[1] - cpu_before[1]
    fanout_s = fanout_after[0] - fanout_before[0]
    batches = fanout_after[1] - fanout_before[1]
    return {
        "target": target.name,
        "viewers": viewers,
        "rate": rate,
        "bids_acked": len(seq_sent),
        "rejected": rejected,
        "delivered": delivered,
        "expected": expected,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "ack_p50_ms": percentile(ack_ms, 0.50),
        "ack_p99_ms": percentile(ack_ms, 0.99),
        "first_p50_ms": percentile(first_ms, 0.50),
        "first_max_ms": first_ms[-1] if first_ms else float("nan"),
        "fanout_loop_ms": fanout_s * 1e3 / batches if batches else float("nan"),
        "events_per_batch": len(seq_sent) / batches if batches else float("nan"),
        "cpu_us_per_msg": (user_s + sys_s) * 1e6 / delivered if delivered else float("nan"),
        "idle_cpu_ms_per_s": (sum(idle_after) - sum(idle_before)) * 1e3 / 2.0,
        "user_us_per_msg": user_s * 1e6 / delivered if delivered else float("nan"),
        "sys_us_per_msg": sys_s * 1e6 / delivered if delivered else float("nan"),
        "rss_kb_per_conn": (rss_after - rss_before) / viewers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="1000x20,10000x2", help="VIEWERSxBIDS_PER_S, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="bidding window per run")
    parser.add_argument("--per-proc", type=int, default=2500, help="viewer connections per client process")
    parser.add_argument("--no-peer", action="store_true", help="skip the websockets broadcast peer")
    parser.add_argument("--viewer-worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--floor", action="store_true", help="also run the raw floor (bare uvloop transport.write loop)"
    )
    parser.add_argument("--peer-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_nofile()
    if args.viewer_worker:
        port, room, count, out = args.viewer_worker
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        asyncio.run(viewer_worker(int(port), room, int(count), out))
        return 0
    if args.peer_server or args.floor_server:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        if args.floor_server:
            asyncio.run(floor_server(args.floor_server))
        else:
            asyncio.run(peer_server(args.peer_server))
        return 0

    from tests.stores import start_store_servers

    stores = start_store_servers()
    results = []
    try:
        for spec in args.workloads.split(","):
            viewers, rate = (int(x) for x in spec.split("x"))
            names = ["fairlot"] if args.no_peer else ["fairlot", "websockets-peer"]
            if args.floor:
                names.append("raw-floor")
            for name in names:
                target = Target(name, stores)
                try:
                    target.start()
                    result = run_workload(target, viewers, rate, args.seconds, args.per_proc)
                finally:
                    target.stop()
                results.append(result)
                print(
                    f"{name:16} {viewers:>6} viewers x {rate:>3} bids/s: "
                    f"p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
                    f"max {result['max_ms']:7.1f} ms  delivered {result['delivered']}/{result['expected']}  "
                    f"cpu {result['cpu_us_per_msg']:5.2f} us/msg "
                    f"(user {result['user_us_per_msg']:.2f} + sys {result['sys_us_per_msg']:.2f})  "
                    f"rss {result['rss_kb_per_conn']:5.1f} KB/conn  "
                    f"(bids acked {result['bids_acked']}, rejected {result['rejected']})",
                    flush=True,
                )
                split = (
                    f"{'':16} bid->ack p50 {result['ack_p50_ms']:.2f} ms p99 {result['ack_p99_ms']:.2f} ms  "
                    f"bid->first viewer p50 {result['first_p50_ms']:.2f} ms "
                    f"max {result['first_max_ms']:.1f} ms  "
                    f"server CPU with no bids {result['idle_cpu_ms_per_s']:.0f} ms/s"
                )
                if name == "fairlot":
                    split += (
                        f"  server fan-out loop {result['fanout_loop_ms']:.2f} ms per batch "
                        f"({result['events_per_batch']:.2f} events/batch); "
                        f"(durable write + command ~ first-viewer p50; the rest of p50 is fan-out)"
                    )
                print(split, flush=True)
    finally:
        stores.stop()
    print()
    by = {(r["target"], r["viewers"]): r for r in results}
    for viewers in sorted({r["viewers"] for r in results}):
        ours, peer = by.get(("fairlot", viewers)), by.get(("websockets-peer", viewers))
        if ours and peer:
            print(
                f"ratio fairlot/peer at {viewers} viewers: p50 {ours['p50_ms'] / peer['p50_ms']:.2f}x  "
                f"p99 {ours['p99_ms'] / peer['p99_ms']:.2f}x  "
                f"cpu/msg {ours['cpu_us_per_msg'] / peer['cpu_us_per_msg']:.2f}x"
            )
        floor = by.get(("raw-floor", viewers))
        if ours and floor:
            print(
                f"ratio fairlot/raw-floor at {viewers} viewers: "
                f"cpu/msg {ours['cpu_us_per_msg'] / floor['cpu_us_per_msg']:.2f}x  "
                f"p99 {ours['p99_ms'] / floor['p99_ms']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
