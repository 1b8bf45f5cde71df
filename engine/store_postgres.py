"""The system of record in Postgres: events, unique on (stream, seq), plus projections.

Why ``ON CONFLICT DO NOTHING``: writing the same event twice (a retry after a timeout, a
projector catching up) must be harmless; (stream, seq) identifies an event and its hash
guards against two different events claiming the same place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg
import orjson

from engine.errors import SequenceError, Unavailable

_UNREACHABLE = (OSError, asyncpg.exceptions.ConnectionDoesNotExistError,
                asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.InterfaceError)  # fmt: skip


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_json, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(dsn: str, schema: str = "public", min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first and speak jsonb as Python data."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            server_settings={"search_path": f'"{schema}"', "application_name": "fairlot"},
        )
    except _UNREACHABLE as exc:
        raise Unavailable(f"Postgres unreachable: {exc}") from exc
    assert pool is not None
    return pool


class PostgresStore:
    """Events and the auctions projection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def append(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Insert events; ones already present are skipped. Returns rows inserted."""
        rows = [
            (e["stream_id"], e["seq"], e["prev_hash"], e["hash"], e["time"], e["type"], dict(e))
            for e in events
        ]
        if not rows:
            return 0
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                inserted = 0
                for row in rows:
                    result = await conn.fetchval(
                        "INSERT INTO events (stream, seq, prev_hash, hash, time_ms, type, payload)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                        " ON CONFLICT (stream, seq) DO UPDATE SET stream = EXCLUDED.stream"
                        " WHERE events.hash = EXCLUDED.hash RETURNING (xmax = 0)",
                        *row,
                    )
                    if result is None:
                        raise SequenceError(f"{row[0]} seq {row[1]}: a different event is already stored")
                    inserted += bool(result)
                return inserted
        except _UNREACHABLE as exc:
            raise Unavailable(f"Postgres unreachable: {exc}") from exc

    async def read(self, stream: str, after_seq: int = 0) -> list[dict[str, Any]]:
        try:
            rows = await self.pool.fetch(
                "SELECT payload FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq", stream, after_seq
            )
        except _UNREACHABLE as exc:
            raise Unavailable(f"Postgres unreachable: {exc}") from exc
        return [dict(r["payload"]) for r in rows]

    async def upsert_auction(self, row: Mapping[str, Any]) -> None:
        """Write the projection row; never moves it backwards (older seq is ignored)."""
        try:
            await self.pool.execute(
                "INSERT INTO auctions (id, format, params, status, currency, price, leader, seq,"
                " created_ms, updated_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
                " ON CONFLICT (id) DO UPDATE SET status=EXCLUDED.status, price=EXCLUDED.price,"
                " leader=EXCLUDED.leader, seq=EXCLUDED.seq, updated_ms=EXCLUDED.updated_ms"
                " WHERE auctions.seq < EXCLUDED.seq",
                row["id"], row["format"], row["params"], row["status"], row["currency"],
                row["price"], row["leader"], row["seq"], row["created_ms"], row["updated_ms"],
            )  # fmt: skip
        except _UNREACHABLE as exc:
            raise Unavailable(f"Postgres unreachable: {exc}") from exc

    async def get_auction(self, auction_id: str) -> dict[str, Any] | None:
        try:
            row = await self.pool.fetchrow("SELECT * FROM auctions WHERE id = $1", auction_id)
        except _UNREACHABLE as exc:
            raise Unavailable(f"Postgres unreachable: {exc}") from exc
        return None if row is None else dict(row)

    async def list_auctions(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM auctions ORDER BY created_ms, id")
        return [dict(r) for r in rows]

    async def ping(self) -> bool:
        try:
            return bool(await self.pool.fetchval("SELECT 1"))
        except (*_UNREACHABLE, asyncpg.PostgresError):
            return False
