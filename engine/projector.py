"""The projector: follows the journal's feed and writes Postgres, the system of record.

Why a consumer group: an entry stays pending until XACK, and XACK comes only after the
Postgres transaction committed; a crash in between re-delivers the entry, and the
insert is idempotent on (stream, seq). Why it never blocks acks: bids are durable in
Redis (AOF, fsync always) when acknowledged; Postgres may be down for a while and the
projector catches up when it returns. Why trimming waits for it: an auction's Redis
stream is trimmed only below a seq that Postgres holds. Why a pace (``interval_ms``):
once caught up it reads at most every 50 ms, so each Postgres transaction and each
XACK/XTRIM round trip (one fsync in Redis, pipelined) carries hundreds of events, not a
flush's worth; at 20k bids/s reading as fast as possible cost Redis and Postgres CPU
that the acks, which wait on Redis, then waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from engine.journal_redis import RedisJournal, decode_feed_entry
from engine.store import RecordStore

log = logging.getLogger("fairlot.projector")

GROUP = "projector"
CONSUMER = "projector-1"
#: Events of each auction kept in Redis below what Postgres holds, and how far past that
#: a stream may grow before it is trimmed again. Why small: the Redis dataset is what an
#: AOF rewrite copies and fsyncs while acks wait on the same disk and cores. With 10,000
#: kept, 64 auctions (bench_durable, 20k bids/s) held all ~35 MB they had written when
#: the first rewrite came, and the flushes around it took 12-29 ms (open-loop ack p99
#: 27-112 ms in a 4 s window, ~10 ms in windows without a rewrite); at 1,000 kept a
#: stream holds at most ~1,100 events (~0.4 MB). Recovery and viewers' resumes read
#: what Redis no longer holds from Postgres (Registry.load_events), so the tail only
#: has to cover the recent past.
KEEP_IN_REDIS = 1000
TRIM_STEP = 100


@dataclass(frozen=True, slots=True)
class ProjectorStatistics:
    projected: int
    batches: int
    failures: int
    healthy: bool
    last_error: str


class Projector:
    def __init__(
        self,
        client: aioredis.Redis,
        journal: RedisJournal,
        records: RecordStore,
        *,
        batch_size: int = 2000,
        keep_in_redis: int = KEEP_IN_REDIS,
        block_ms: int = 20,
        interval_ms: int = 50,
    ) -> None:
        self.client = client
        self.journal = journal
        self.records = records
        self.batch_size = batch_size
        self.keep_in_redis = keep_in_redis
        self.block_ms = block_ms
        self.interval_ms = interval_ms
        self._task: asyncio.Task[None] | None = None
        self._projected = 0
        self._batches = 0
        self._failures = 0
        self._healthy = True
        self._last_error = ""
        self._idle = asyncio.Event()
        self._trimmed: dict[str, int] = {}
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="projector")

    async def stop(self) -> None:
        """Finish the batch in hand (never abandon a Postgres transaction midway), then stop."""
        if self._task is not None:
            self._stopping = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    def statistics(self) -> ProjectorStatistics:
        return ProjectorStatistics(
            self._projected, self._batches, self._failures, self._healthy, self._last_error
        )

    async def wait_idle(self, within: float = 30.0) -> None:
        """Wait until the feed is drained (tests and graceful shutdown)."""
        async with asyncio.timeout(within):
            while True:
                self._idle.clear()
                await self._idle.wait()
                if await self.lag() == 0:
                    return

    async def lag(self) -> int:
        """Feed entries not yet projected (pending + unread)."""
        try:
            groups = await self.client.xinfo_groups(self.journal.feed_key)
        except ResponseError:
            return 0
        for g in groups:
            name = g.get("name")
            if name in (GROUP, GROUP.encode()):
                pending = int(g.get("pending", 0))
                lag = g.get("lag")
                return pending + (int(lag) if lag is not None else 0)
        return 0

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.journal.feed_key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        block = None if start == "0" else self.block_ms
        reply = await self.client.xreadgroup(
            GROUP, CONSUMER, {self.journal.feed_key: start}, count=self.batch_size, block=block
        )
        if not reply:
            return []
        _key, entries = reply[0]
        return [(eid, fields) for eid, fields in entries if fields]

    async def _run(self) -> None:
        delay = 0.05
        backlog = True  # first re-read our own pending entries (a crash before XACK)
        while not self._stopping:
            try:
                await self._ensure_group()
                entries = await self._read("0" if backlog else ">")
                if backlog and not entries:
                    backlog = False
                    continue
                if not entries:
                    self._idle.set()
                    continue
                started = asyncio.get_running_loop().time()
                await self._project(entries)
                self._healthy = True
                delay = 0.05
                if len(entries) < self.batch_size and self.interval_ms > 0:
                    # Caught up: let the next batch gather (see the class docstring).
                    rest = self.interval_ms / 1000 - (asyncio.get_running_loop().time() - started)
                    if rest > 0 and not self._stopping:
                        await asyncio.sleep(rest)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retry until the stores are back
                self._failures += 1
                self._healthy = False
                self._last_error = f"{type(exc).__name__}: {exc}"
                backlog = True
                log.warning("projector: %s; retrying in %.2fs", self._last_error, delay)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _project(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> None:
        events: list[dict[str, Any]] = []
        views: list[Any] = []
        heads: dict[str, int] = {}
        for _eid, fields in entries:
            for entry in decode_feed_entry(fields):
                events.append(dict(entry.event))
                if entry.view is not None:
                    views.append(entry.view)
                heads[entry.event["stream_id"]] = entry.event["seq"]
        await self.records.append(events)
        await self.records.upsert_views(views)
        ids = [eid for eid, _ in entries]
        trims: dict[str, int] = {}
        for stream, seq in heads.items():
            floor = seq - self.keep_in_redis + 1
            if floor - self._trimmed.get(stream, 1) >= TRIM_STEP:
                trims[stream] = floor  # Postgres holds everything <= seq
        # One round trip, so Redis (appendfsync always) fsyncs once for all of them.
        pipe = self.client.pipeline(transaction=False)
        pipe.xack(self.journal.feed_key, GROUP, *ids)
        pipe.xtrim(self.journal.feed_key, minid=ids[-1], approximate=True)
        for stream, floor in trims.items():
            pipe.xtrim(self.journal.key(stream), minid=f"{floor}-0", approximate=False)
        await pipe.execute()
        self._trimmed.update(trims)
        self._projected += len(events)
        self._batches += 1


async def run_standalone(redis_url: str, database_url: str, prefix: str, schema: str) -> None:
    """Run a projector until SIGTERM/SIGINT: the ``fairlot serve`` child. Never hangs on
    the way out: a store that is gone is cut, not waited for."""
    import signal

    from engine.migrate import migrate
    from engine.store_postgres import PostgresStore, create_pool

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = aioredis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    pool = None
    while pool is None and not stop.is_set():  # Postgres may be starting, or down: keep trying
        try:
            pool = await create_pool(database_url, schema)
            async with pool.acquire() as conn:
                await migrate(conn, schema)
        except Exception as exc:
            log.warning("projector: waiting for Postgres: %s", exc)
            if pool is not None:
                pool.terminate()
                pool = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    if pool is not None:
        projector = Projector(client, RedisJournal(client, prefix), PostgresStore(pool))
        gc.collect()
        gc.freeze()  # start-up's objects (imports, the pool) are never garbage
        projector.start()
        await stop.wait()
        await projector.stop()
        try:
            await asyncio.wait_for(pool.close(), 5)
        except Exception:
            pool.terminate()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.aclose(), 5)


def main() -> None:
    """``python -m engine.projector``: settings from the same environment as the server."""
    import os

    import uvloop

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # A server pinned to one core (taskset) passes its affinity on; the projector's
    # point is to run beside it, on whatever other core there is.
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    # Acks wait on Redis, never on the projector: when CPUs are short, let Redis and the
    # server run first (the projector catches up later; Redis keeps what it has not read).
    with contextlib.suppress(OSError):
        os.nice(int(os.environ.get("FAIRLOT_PROJECTOR_NICE", "10")))
    # Every event becomes a few short-lived dicts and tuples, freed by refcount: at the
    # default threshold (700) the cyclic GC ran hundreds of young collections a second
    # for nothing (~5% of the projector's CPU under perf). As the server does.
    gc.set_threshold(50_000, 20, 20)
    uvloop.run(
        run_standalone(
            os.environ["REDIS_URL"],
            os.environ["DATABASE_URL"],
            os.environ.get("FAIRLOT_REDIS_PREFIX", "fl"),
            os.environ.get("FAIRLOT_PG_SCHEMA", "public"),
        )
    )


if __name__ == "__main__":
    main()
