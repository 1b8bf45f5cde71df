"""Settings from the environment, read once at start-up.

Why environment variables: the Procfile and every PaaS hand configuration over that way,
and the embedded default needs nothing at all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".fairlot")
    redis_url: str | None = None
    database_url: str | None = None
    redis_prefix: str = "fl"
    pg_schema: str = "public"
    commit_linger_ms: float = 0.0
    redis_wait_replicas: int = 0
    #: "inline": the app runs the Postgres projector in its own event loop;
    #: "process": ``fairlot serve`` runs it as a child process, on the other core.
    projector: str = "inline"

    @property
    def embedded(self) -> bool:
        return self.redis_url is None or self.database_url is None

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **clean)  # type: ignore[arg-type]


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    schema = env.get("FAIRLOT_PG_SCHEMA", "public")
    if not _NAME.match(schema):
        raise ValueError(f"FAIRLOT_PG_SCHEMA must be a plain identifier, got {schema!r}")
    return Settings(
        host=env.get("HOST", "127.0.0.1"),
        port=int(env.get("PORT", "8000")),
        data_dir=Path(env.get("FAIRLOT_DATA_DIR", ".fairlot")),
        redis_url=env.get("REDIS_URL") or None,
        database_url=env.get("DATABASE_URL") or None,
        redis_prefix=env.get("FAIRLOT_REDIS_PREFIX", "fl"),
        pg_schema=schema,
        commit_linger_ms=float(env.get("FAIRLOT_COMMIT_LINGER_MS", "0")),
        redis_wait_replicas=int(env.get("FAIRLOT_REDIS_WAIT_REPLICAS", "0")),
    )
