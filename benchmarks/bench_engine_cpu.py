"""The engine's own CPU per durable bid: registry, actors, group committer, and the Redis
journal's packing, with a journal that answers at once (no store, no network).

Why this exists beside bench_durable: on a 2-core machine shared with Redis and Postgres
the wall-clock figures drift by 30-50% between identical runs, which hides a 5-10%
change in the engine's own cost. This script isolates that cost, and it is repeatable
under valgrind, which counts instructions instead of seconds:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/bench_engine_cpu.py --bids 20000
    (and again with --bids 40000: the difference / 20,000 is instructions per bid,
    start-up cancelled out)

The peer here is the engine itself before a change (same command on the other commit);
bench_durable measures the real stores.

    python benchmarks/bench_engine_cpu.py [--bids 200000] [--clients 64] [--auctions 64]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgpack
import uvloop

from bidding.base import PlaceBid
from engine.clock import SystemClock
from engine.commit import GroupCommitter
from engine.journal_redis import RedisJournal
from engine.registry import Registry
from engine.store import JournalEntry
from engine.store_memory import MemoryJournal, MemoryRecordStore


class PackingJournal(MemoryJournal):
    """Packs each flush exactly as RedisJournal does (runs, views as JSON, msgpack),
    then answers at once: the engine's share of a flush, without Redis."""

    prefix = "bench"
    _runs = RedisJournal._runs
    _pack_run = RedisJournal._pack_run
    key = RedisJournal.key

    async def append_batches(self, batches: Sequence[Sequence[JournalEntry]]) -> list[BaseException | None]:
        runs, _owners = self._runs(batches)
        msgpack.packb(runs, use_bin_type=False)
        await asyncio.sleep(0)
        return [None] * len(batches)


async def run(bids: int, clients: int, auctions: int) -> None:
    journal = PackingJournal()
    committer = GroupCommitter(journal)
    committer.start()
    registry = Registry(journal, MemoryRecordStore(), SystemClock(), committer=committer)
    end = SystemClock().now() + 3_600_000
    actors = [
        await registry.create("english", {"currency": "EUR", "opening": 100, "end": end})
        for _ in range(auctions)
    ]
    amounts = [10_000] * auctions
    ids = itertools.count()
    per_client = bids // clients
    gc.collect()
    gc.freeze()

    async def bidder(index: int) -> None:
        for n in range(per_client):
            a = (index + n) % auctions
            amounts[a] += 10_000
            await actors[a].submit(PlaceBid(f"b-{next(ids)}", f"u{(index * 7 + n) % 997}", amounts[a]))

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bidder(i) for i in range(clients)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    done = per_client * clients
    stats = committer.statistics()
    print(
        f"engine only ({auctions} auctions, {clients} closed-loop clients, instant journal): "
        f"{done / wall:,.0f} bids/s, {1e6 * cpu / done:.2f} us CPU per bid, "
        f"{done / max(1, stats.flushes):.1f} bids per flush"
    )
    await registry.stop()
    await committer.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bids", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--auctions", type=int, default=64)
    args = parser.parse_args()
    gc.set_threshold(50_000, 20, 20)  # as `fairlot serve` does
    uvloop.run(run(args.bids, args.clients, args.auctions))


if __name__ == "__main__":
    main()
