"""Real Redis and Postgres for tests: the machine's when URLs are set, else embedded.

Why session-scoped servers with per-test schemas and key prefixes: starting Postgres
costs about a second, a schema costs milliseconds, and isolation is what matters. There
is no skip path: a test that asks for a store fails when none can be had.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.embedded import EmbeddedPostgres, EmbeddedRedis


@dataclass
class StoreServers:
    redis_url: str
    database_url: str
    embedded: bool
    redis: EmbeddedRedis | None = None
    postgres: EmbeddedPostgres | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None

    def stop(self) -> None:
        for child in (self.redis, self.postgres):
            if child is not None:
                child.stop()
        if self.tmp is not None:
            self.tmp.cleanup()


def start_store_servers() -> StoreServers:
    redis_url = os.environ.get("REDIS_URL") or None
    database_url = os.environ.get("DATABASE_URL") or None
    if redis_url and database_url:
        return StoreServers(redis_url, database_url, embedded=False)
    tmp = tempfile.TemporaryDirectory(prefix="fairlot-test-")
    servers = StoreServers("", "", embedded=True, tmp=tmp)
    try:
        if redis_url is None:
            servers.redis = EmbeddedRedis(Path(tmp.name))
            redis_url = servers.redis.start()
        if database_url is None:
            servers.postgres = EmbeddedPostgres(Path(tmp.name))
            database_url = servers.postgres.start()
    except BaseException:
        servers.stop()
        raise
    servers.redis_url, servers.database_url = redis_url, database_url
    return servers


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
