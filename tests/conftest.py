"""Shared fixtures: real stores (see tests/stores.py), isolated per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from server.config import Settings
from tests.stores import StoreServers, start_store_servers, unique_name


@pytest.fixture(scope="session")
def store_servers() -> Iterator[StoreServers]:
    servers = start_store_servers()  # raises (the test errors) when no store can be had
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def isolation() -> tuple[str, str]:
    """A fresh Postgres schema name and Redis key prefix for one test."""
    return unique_name("t"), unique_name("t")


@pytest.fixture
async def settings(store_servers: StoreServers, isolation: tuple[str, str]) -> AsyncIterator[Settings]:
    schema, prefix = isolation
    yield Settings(
        host="127.0.0.1",
        port=0,
        redis_url=store_servers.redis_url,
        database_url=store_servers.database_url,
        redis_prefix=prefix,
        pg_schema=schema,
    )
    conn = await asyncpg.connect(store_servers.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(store_servers.redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
