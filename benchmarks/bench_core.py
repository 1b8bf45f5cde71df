"""Core throughput on one core: English proxy bidding (more sections plug in below).

Run: ``.venv/bin/python benchmarks/bench_core.py [english] [orderbook] [flash]`` (no
argument: every section; add ``taskset -c 0`` to pin a core).

Each section is a function returning rows ``(section, what, ops/s, note)``; ``main``
runs every section and prints one table. Add a section by writing
``bench_<name>() -> list[Row]`` and listing it in ``SECTIONS``.

English: a seeded stream of bids is generated once (every bid valid when played
in order: proxy competition among 200 bidders, soft close with a cap, some
leader max raises). The timed loop per bid is what an actor does: msgpack-decode
the command bytes, build the frozen ``PlaceBid``, ``Stream.handle`` (idempotency
lookup, decide, seal = canonical JSON + SHA-256 chain, evolve), msgpack-encode
each event. Variants without the codec and without the stream isolate the costs;
the figures are medians of ``REPEATS`` runs (wall clock, ``perf_counter``).
Machines here drift by up to 2x: compare rows of the same run.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bidding.base import PlaceBid, Stream
from bidding.english import ENGLISH, EnglishState
from bidding.events import GENESIS, seal

Row = tuple[str, str, float, str]

#: Wall-clock medians of the runs, in the order ``_median_rate`` was called.
WALL: list[float] = []

REPEATS = 5
ENGLISH_BIDS = 100_000
TARGET_ENGLISH = 300_000

_ENGLISH_PARAMS = {
    "currency": "USD",
    "opening": 100,
    "start": 0,
    "end": 10**9,
    "close": "soft",
    "window": 60_000,
    "extension": 60_000,
    "extension_mode": "add",
    "cap": 10**9 + 10**8,
}


def english_stream(n: int, seed: int = 7) -> list[bytes]:
    """``n`` msgpack-encoded bid commands, all valid when played in order."""
    rng = random.Random(seed)
    stream = Stream.create(ENGLISH, "bench", _ENGLISH_PARAMS, 0, keep_log=False)
    bidders = [f"bidder-{i}" for i in range(200)]
    out: list[bytes] = []
    now = 1
    for i in range(n):
        state: EnglishState = stream.state
        if state.leader is not None and rng.random() < 0.1:
            bidder = state.leader  # the leader raises their own max
        else:
            bidder = rng.choice(bidders)
            while bidder == state.leader:
                bidder = rng.choice(bidders)
        amount = ENGLISH.min_bid(state, bidder) + rng.randrange(0, 400, 5)
        command_id = f"c{i}"
        cmd = {"type": "bid", "id": command_id, "bidder": bidder, "amount": amount}
        stream.handle(PlaceBid(command_id, bidder, amount), now)
        out.append(msgpack.packb(cmd))
        now += rng.randrange(1, 5)
    return out


def _median_rate(n: int, run: Callable[[], None]) -> float:
    """Median ops/s over ``REPEATS`` runs, timed in CPU time of this process.

    CPU time (``process_time``) rather than wall time: the benchmark machine is
    shared, and time spent descheduled is not this core's throughput. The wall
    figure is printed too (``WALL``) for comparison.
    """
    rates = []
    walls = []
    for _ in range(REPEATS):
        w0 = time.perf_counter()
        t0 = time.process_time()
        run()
        rates.append(n / (time.process_time() - t0))
        walls.append(n / (time.perf_counter() - w0))
    WALL.append(statistics.median(walls))
    return statistics.median(rates)


def bench_english() -> list[Row]:
    """English proxy bids/s: full actor step, stream only, format only."""
    wire = english_stream(ENGLISH_BIDS)
    decoded = [msgpack.unpackb(b) for b in wire]
    commands = [PlaceBid(d["id"], d["bidder"], d["amount"]) for d in decoded]
    times = list(range(1, len(wire) + 1))
    unpackb = msgpack.unpackb

    def full() -> None:
        stream = Stream.create(ENGLISH, "bench", _ENGLISH_PARAMS, 0, keep_log=False)
        handle = stream.handle
        pack = msgpack.Packer().pack
        sink = []
        for data, now in zip(wire, times, strict=True):
            d = unpackb(data)
            for env in handle(PlaceBid(d["id"], d["bidder"], d["amount"]), now):
                sink.append(pack(env))

    def stream_only() -> None:
        stream = Stream.create(ENGLISH, "bench", _ENGLISH_PARAMS, 0, keep_log=False)
        handle = stream.handle
        for cmd, now in zip(commands, times, strict=True):
            handle(cmd, now)

    def format_only() -> None:
        from bidding.events import Envelope

        state = ENGLISH.initial(ENGLISH.normalize_params(_ENGLISH_PARAMS))
        decide = ENGLISH.decide
        evolve = ENGLISH.evolve_trusted
        seq = 1
        for cmd, now in zip(commands, times, strict=True):
            for type_, payload in decide(state, cmd, now):
                seq += 1
                state = evolve(state, Envelope("bench", seq, "", now, type_, "", "", payload, ""))

    def floor() -> None:
        """Only the per-bid work any implementation of the contract must do here:
        decode, build the frozen command, canonical-encode + SHA-256 one event of the
        same shape, build the envelope, encode it. No rules, no idempotency."""
        pack = msgpack.Packer().pack
        head = GENESIS
        sink = []
        seq = 1
        for data, now in zip(wire, times, strict=True):
            d = unpackb(data)
            cmd = PlaceBid(d["id"], d["bidder"], d["amount"])
            seq += 1
            payload = {
                "bidder": cmd.actor,
                "max": cmd.amount,
                "price": cmd.amount,
                "leader": cmd.actor,
                "reserve_met": True,
                "end": now,
            }
            env = seal("bench", seq, head, now, "bid", cmd.actor, cmd.command_id, payload)
            head = env.hash
            sink.append(pack(env))

    n = len(wire)
    rate_full = _median_rate(n, full)
    rate_stream = _median_rate(n, stream_only)
    rate_format = _median_rate(n, format_only)
    rate_floor = _median_rate(n, floor)
    wall_full, wall_stream, wall_format, wall_floor = WALL[-4:]
    verdict = "meets" if rate_full >= TARGET_ENGLISH else "BELOW"
    return [
        (
            "english",
            "bid: msgpack decode + handle + msgpack encode",
            rate_full,
            f"{verdict} target {TARGET_ENGLISH:,}/s; wall {wall_full:,.0f}/s",
        ),
        (
            "english",
            "bid: Stream.handle (hash chain, idempotency)",
            rate_stream,
            f"wall {wall_stream:,.0f}/s",
        ),
        (
            "english",
            "bid: decide + evolve only (no envelope hash)",
            rate_format,
            f"wall {wall_format:,.0f}/s",
        ),
        (
            "english",
            "floor: decode + command + seal + encode, no rules",
            rate_floor,
            f"ceiling for this contract on this machine; wall {wall_floor:,.0f}/s",
        ),
    ]


from _bench_book import bench_flash, bench_orderbook

SECTIONS: list[Callable[[], list[Row]]] = [bench_english, bench_orderbook, bench_flash]


def main() -> None:
    """Run every section (or those named on the command line), print one table."""
    wanted = set(sys.argv[1:])
    rows: list[Row] = []
    for section in SECTIONS:
        if not wanted or section.__name__.removeprefix("bench_") in wanted:
            rows.extend(section())
    width = max(len(r[1]) for r in rows)
    print(f"{'section':<10} {'what':<{width}} {'ops/s (CPU)':>12}  note")
    for name, what, rate, note in rows:
        print(f"{name:<10} {what:<{width}} {rate:>12,.0f}  {note}")


if __name__ == "__main__":
    main()
