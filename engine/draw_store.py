"""Postgres tables a draw needs besides its events (migration 0003).

Why not in the events: an upload may be megabytes and names every entrant; the log keeps
only its SHA-256, which the signed commitment pins, and the bytes live here under that
hash (so an identical re-upload is stored once). Per-draw secrets and hosts' signing keys
are private by nature. Host API keys are kept as SHA-256 hashes only.

Every call maps a lost connection to ``Unavailable`` (nothing applied, never a false ack).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.errors import Unavailable, unavailable_on
from engine.store_postgres import UNREACHABLE

__all__ = ["ApiKeyRow", "DrawSecrets", "DrawStore"]


@dataclass(frozen=True, slots=True)
class DrawSecrets:
    host_secret: bytes
    reveal: bytes


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    key_hash: str
    user_id: str
    role: str
    label: str
    created_ms: int
    revoked_ms: int | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "user_id": self.user_id,
            "role": self.role,
            "label": self.label,
            "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms,
        }


class DrawStore:
    def __init__(self, pool: asyncpg.Pool | None) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise Unavailable("draws need the Postgres record store")
        return self._pool

    # -- uploads --------------------------------------------------------------------

    async def put_upload(self, sha256: str, source_format: str, raw: bytes, now_ms: int) -> None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "INSERT INTO draw_uploads (sha256, format, size, raw, created_ms) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (sha256) DO NOTHING",
                sha256,
                source_format,
                len(raw),
                raw,
                now_ms,
            )

    async def get_upload(self, sha256: str) -> tuple[str, bytes] | None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            row = await self.pool.fetchrow("SELECT format, raw FROM draw_uploads WHERE sha256 = $1", sha256)
        return None if row is None else (row["format"], bytes(row["raw"]))

    # -- secrets and keys -----------------------------------------------------------

    async def new_secrets(self, draw_id: str) -> DrawSecrets:
        found = DrawSecrets(secrets.token_bytes(32), secrets.token_bytes(32))
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "INSERT INTO draw_secrets (draw_id, host_secret, reveal) VALUES ($1, $2, $3)",
                draw_id,
                found.host_secret,
                found.reveal,
            )
        return found

    async def get_secrets(self, draw_id: str) -> DrawSecrets | None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            row = await self.pool.fetchrow(
                "SELECT host_secret, reveal FROM draw_secrets WHERE draw_id = $1", draw_id
            )
        return None if row is None else DrawSecrets(bytes(row["host_secret"]), bytes(row["reveal"]))

    async def signing_key(self, host_id: str) -> bytes:
        """The host's Ed25519 seed, made on first use (one key per host, for its chain)."""
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "INSERT INTO draw_host_keys (host_id, signing_key) VALUES ($1, $2)"
                " ON CONFLICT (host_id) DO NOTHING",
                host_id,
                secrets.token_bytes(32),
            )
            key = await self.pool.fetchval(
                "SELECT signing_key FROM draw_host_keys WHERE host_id = $1", host_id
            )
        return bytes(key)

    # -- API keys -------------------------------------------------------------------

    async def add_api_key(self, row: ApiKeyRow) -> None:
        with unavailable_on(UNREACHABLE, "Postgres"):
            await self.pool.execute(
                "INSERT INTO api_keys (key_id, key_hash, user_id, role, label, created_ms)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                row.key_id,
                row.key_hash,
                row.user_id,
                row.role,
                row.label,
                row.created_ms,
            )

    async def revoke_api_key(self, key_id: str, user_id: str | None, now_ms: int) -> ApiKeyRow | None:
        """Revoke ``key_id`` (of ``user_id`` unless None: an admin); the row, or None."""
        with unavailable_on(UNREACHABLE, "Postgres"):
            row = await self.pool.fetchrow(
                "UPDATE api_keys SET revoked_ms = COALESCE(revoked_ms, $3)"
                " WHERE key_id = $1 AND ($2::text IS NULL OR user_id = $2) RETURNING *",
                key_id,
                user_id,
                now_ms,
            )
        return None if row is None else ApiKeyRow(**dict(row))

    async def api_keys(self, user_id: str | None = None) -> list[ApiKeyRow]:
        with unavailable_on(UNREACHABLE, "Postgres"):
            rows = await self.pool.fetch(
                "SELECT * FROM api_keys WHERE ($1::text IS NULL OR user_id = $1) ORDER BY created_ms, key_id",
                user_id,
            )
        return [ApiKeyRow(**dict(r)) for r in rows]
