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

from server.config import Settings
from server.stores import EmbeddedStores, start_embedded


@dataclass
class StoreServers:
    redis_url: str
    database_url: str
    embedded: bool
    started: EmbeddedStores | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None

    def stop(self) -> None:
        if self.started is not None:
            self.started.stop()
        if self.tmp is not None:
            self.tmp.cleanup()


def start_store_servers() -> StoreServers:
    """The URLs from the environment when both are set, else what ``fairlot serve``
    would start (the same ``start_embedded``), under a temporary folder."""
    redis_url = os.environ.get("REDIS_URL") or None
    database_url = os.environ.get("DATABASE_URL") or None
    if redis_url and database_url:
        return StoreServers(redis_url, database_url, embedded=False)
    tmp = tempfile.TemporaryDirectory(prefix="fairlot-test-")
    try:
        wanted = Settings(data_dir=Path(tmp.name), redis_url=redis_url, database_url=database_url)
        settings, started = start_embedded(wanted)
    except BaseException:
        tmp.cleanup()
        raise
    assert settings.redis_url and settings.database_url
    return StoreServers(settings.redis_url, settings.database_url, embedded=True, started=started, tmp=tmp)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
