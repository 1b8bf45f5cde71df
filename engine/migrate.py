"""Ordered SQL migrations, applied once, recorded, safe under concurrent start-up.

Why an advisory lock: two server processes starting together would otherwise both see a
migration as missing and both apply it. The lock is per schema, so isolated test schemas
migrate in parallel. Each file runs in its own transaction with its version row, so a
failed migration leaves nothing half-applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import asyncpg

from engine.errors import MigrationError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The packaged ``NNNN_name.sql`` files, in version order."""
    found = []
    for entry in resources.files("engine.migrations").iterdir():
        if entry.name.endswith(".sql"):
            stem = entry.name[:-4]
            number, _, name = stem.partition("_")
            found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def _lock_key(schema: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"fairlot-migrate:{schema}".encode()).digest()[:8], "big", signed=True
    )


async def applied_versions(conn: asyncpg.Connection, schema: str) -> dict[int, str]:
    exists = await conn.fetchval(
        "SELECT 1 FROM information_schema.tables WHERE table_schema=$1 AND table_name='schema_migrations'",
        schema,
    )
    if not exists:
        return {}
    rows = await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
    return {int(r["version"]): str(r["checksum"]) for r in rows}


async def migrate(conn: asyncpg.Connection, schema: str = "public") -> list[int]:
    """Bring ``schema`` up to date; return the versions applied by this call."""
    migrations = load_migrations()
    key = _lock_key(schema)
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            "version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = await applied_versions(conn, schema)
        applied: list[int] = []
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(f"migration {m.version}_{m.name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(m.sql)
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
                    m.version,
                    m.name,
                    m.checksum,
                )
            applied.append(m.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)


async def schema_current(conn: asyncpg.Connection, schema: str = "public") -> bool:
    """True when every packaged migration is applied with an unchanged checksum."""
    done = await applied_versions(conn, schema)
    return all(done.get(m.version) == m.checksum for m in load_migrations())
