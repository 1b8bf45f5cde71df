from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engine.errors import MigrationError
from engine.migrate import load_migrations, migrate, schema_current
from server.config import Settings


def test_migrations_are_ordered_and_unique() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


async def test_migrate_applies_once_and_records(settings: Settings) -> None:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert not await schema_current(conn, settings.pg_schema)
        first = await migrate(conn, settings.pg_schema)
        assert first == [m.version for m in load_migrations()]
        assert await migrate(conn, settings.pg_schema) == []
        assert await schema_current(conn, settings.pg_schema)
        rows = await conn.fetch(f'SELECT version FROM "{settings.pg_schema}".schema_migrations ORDER BY 1')
        assert [r["version"] for r in rows] == first
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", settings.pg_schema
        )
        assert {"events", "auctions", "schema_migrations"} <= {r["table_name"] for r in tables}
    finally:
        await conn.close()


async def test_concurrent_start_applies_each_migration_once(settings: Settings) -> None:
    assert settings.database_url
    conns = [await asyncpg.connect(settings.database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, settings.pg_schema) for c in conns))
        applied = sorted(v for r in results for v in r)
        assert applied == [m.version for m in load_migrations()]
    finally:
        for c in conns:
            await c.close()


async def test_edited_migration_is_refused(settings: Settings) -> None:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    try:
        await migrate(conn, settings.pg_schema)
        await conn.execute(
            f"UPDATE \"{settings.pg_schema}\".schema_migrations SET checksum = 'x' WHERE version = 1"
        )
        assert not await schema_current(conn, settings.pg_schema)
        with pytest.raises(MigrationError):
            await migrate(conn, settings.pg_schema)
    finally:
        await conn.close()
