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
    #: CPU priority (nice) of an embedded Postgres: acks never wait on it (see
    #: docs/architecture.md), so it yields to Redis and the server when cores are short.
    pg_nice: int = 10
    #: Per-connection send queue bounds (frames, bytes) before a client counts as slow.
    send_queue_frames: int = 1024
    send_queue_bytes: int = 4 * 1024 * 1024
    #: Resyncs (queue dropped, fresh snapshot) a slow client gets before 4008 closes it.
    slow_resyncs: int = 1
    #: Kernel send buffer per WebSocket (bytes); 0 leaves the kernel's autotuning.
    ws_sndbuf: int = 0
    #: High-water mark (bytes) of each WebSocket transport's user-space buffer; 0 keeps
    #: the event loop's default (64 KiB). Lower bounds memory per slow client further.
    ws_write_high: int = 0
    #: Write pre-framed fan-out bytes straight to uvicorn's transport when possible.
    ws_fastpath: bool = True
    #: ``since`` further back than this many events gets a snapshot instead of a replay.
    resume_max_events: int = 10_000
    #: Token buckets: commands per second and burst, per user and per client IP.
    rate_user_per_s: float = 20.0
    rate_user_burst: int = 40
    rate_ip_per_s: float = 100.0
    rate_ip_burst: int = 200
    #: Flash-sale waiting room: admitted per round, and the round period (ms).
    waiting_batch: int = 100
    waiting_interval_ms: int = 1000
    #: Webhook deliveries: attempts and the first retry delay (ms, doubled each time).
    webhook_attempts: int = 5
    webhook_backoff_ms: int = 500
    #: Seed a demo auction, sale and draw at start-up and allow demo sign-in (pages).
    demo: bool = False

    @property
    def embedded(self) -> bool:
        return self.redis_url is None or self.database_url is None

    def with_overrides(self, **changes: object) -> Settings:
        clean = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **clean)  # type: ignore[arg-type]


class ConfigError(ValueError):
    """A variable that does not parse; the message names it (``fairlot serve`` prints it)."""


def _int(env: dict[str, str], name: str, default: str) -> int:
    value = env.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _float(env: dict[str, str], name: str, default: str) -> float:
    value = env.get(name, default)
    try:
        result = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return result


def from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    schema = env.get("FAIRLOT_PG_SCHEMA", "public")
    if not _NAME.match(schema):
        raise ConfigError(f"FAIRLOT_PG_SCHEMA must be a plain identifier, got {schema!r}")
    return Settings(
        host=env.get("HOST", "127.0.0.1"),
        port=_int(env, "PORT", "8000"),
        data_dir=Path(env.get("FAIRLOT_DATA_DIR", ".fairlot")),
        redis_url=env.get("REDIS_URL") or None,
        database_url=env.get("DATABASE_URL") or None,
        redis_prefix=env.get("FAIRLOT_REDIS_PREFIX", "fl"),
        pg_schema=schema,
        commit_linger_ms=_float(env, "FAIRLOT_COMMIT_LINGER_MS", "0"),
        redis_wait_replicas=_int(env, "FAIRLOT_REDIS_WAIT_REPLICAS", "0"),
        pg_nice=_int(env, "FAIRLOT_PG_NICE", "10"),
        send_queue_frames=_int(env, "FAIRLOT_SEND_QUEUE_FRAMES", "1024"),
        send_queue_bytes=_int(env, "FAIRLOT_SEND_QUEUE_BYTES", str(4 * 1024 * 1024)),
        slow_resyncs=_int(env, "FAIRLOT_SLOW_RESYNCS", "1"),
        ws_sndbuf=_int(env, "FAIRLOT_WS_SNDBUF", "0"),
        ws_write_high=_int(env, "FAIRLOT_WS_WRITE_HIGH", "0"),
        ws_fastpath=env.get("FAIRLOT_WS_FASTPATH", "1") not in ("0", "false", "no"),
        resume_max_events=_int(env, "FAIRLOT_RESUME_MAX_EVENTS", "10000"),
        rate_user_per_s=_float(env, "FAIRLOT_RATE_USER_PER_S", "20"),
        rate_user_burst=_int(env, "FAIRLOT_RATE_USER_BURST", "40"),
        rate_ip_per_s=_float(env, "FAIRLOT_RATE_IP_PER_S", "100"),
        rate_ip_burst=_int(env, "FAIRLOT_RATE_IP_BURST", "200"),
        waiting_batch=_int(env, "FAIRLOT_WAITING_BATCH", "100"),
        waiting_interval_ms=_int(env, "FAIRLOT_WAITING_INTERVAL_MS", "1000"),
        webhook_attempts=_int(env, "FAIRLOT_WEBHOOK_ATTEMPTS", "5"),
        webhook_backoff_ms=_int(env, "FAIRLOT_WEBHOOK_BACKOFF_MS", "500"),
        demo=env.get("FAIRLOT_DEMO", "0") in ("1", "true", "yes"),
    )
