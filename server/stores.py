"""Bring the stores up for a server: embedded ones when no URL is given, then connect.

One code path: embedded or external, the server talks to a real Redis and a real
Postgres through the same clients; only where they come from differs.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis

from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from engine.journal_redis import RedisJournal
from engine.migrate import migrate, schema_current
from engine.store_postgres import PostgresStore, create_pool
from server.config import Settings


@dataclass
class EmbeddedStores:
    """Servers this process started (and must stop)."""

    redis: EmbeddedRedis | None = None
    postgres: EmbeddedPostgres | None = None

    def stop(self) -> None:
        for child in (self.redis, self.postgres):
            if child is not None:
                child.stop()


def start_embedded(settings: Settings) -> tuple[Settings, EmbeddedStores]:
    """Start whichever store has no URL; return settings pointing at them."""
    started = EmbeddedStores()
    redis_url, database_url = settings.redis_url, settings.database_url
    try:
        if redis_url is None:
            started.redis = EmbeddedRedis(settings.data_dir)
            redis_url = started.redis.start()
        if database_url is None:
            started.postgres = EmbeddedPostgres(settings.data_dir, nice=settings.pg_nice)
            database_url = started.postgres.start()
    except BaseException:
        started.stop()
        raise
    return settings.with_overrides(redis_url=redis_url, database_url=database_url), started


@dataclass
class Stores:
    """Connected clients for a running app."""

    settings: Settings
    redis: aioredis.Redis
    pool: asyncpg.Pool
    journal: RedisJournal
    records: PostgresStore
    schema: str = field(default="public")

    async def readiness(self) -> dict[str, object]:
        redis_ok = await self.journal.ping()
        pg_ok = await self.records.ping()
        schema_ok = False
        if pg_ok:
            try:
                async with self.pool.acquire() as conn:
                    schema_ok = await schema_current(conn, self.schema)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                schema_ok = False
        return {
            "redis": "ok" if redis_ok else "unreachable",
            "postgres": "ok" if pg_ok else "unreachable",
            "schema": "current" if schema_ok else ("unknown" if not pg_ok else "outdated"),
            "ready": redis_ok and pg_ok and schema_ok,
        }

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.journal.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        # A connection still held by a cancelled task would make a graceful close wait
        # forever: give it a moment, then cut every connection.
        try:
            await asyncio.wait_for(self.pool.close(), 5)
        except Exception:  # TimeoutError included
            self.pool.terminate()


async def connect(settings: Settings) -> Stores:
    """Connect to both stores and migrate the schema; fails loudly if either is missing."""
    assert settings.redis_url and settings.database_url, "start_embedded() fills the URLs"
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=0
    )
    pool = await create_pool(settings.database_url, settings.pg_schema)
    try:
        await client.ping()
        async with pool.acquire() as conn:
            await migrate(conn, settings.pg_schema)
    except BaseException:
        await client.aclose()
        await pool.close()
        raise
    return Stores(
        settings=settings,
        redis=client,
        pool=pool,
        journal=RedisJournal(client, settings.redis_prefix, wait_replicas=settings.redis_wait_replicas),
        records=PostgresStore(pool),
        schema=settings.pg_schema,
    )
