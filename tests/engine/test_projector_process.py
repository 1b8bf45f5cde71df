"""The projector child process stops promptly on SIGTERM, even while a store is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.embedded import free_port
from server.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_projector_stops_on_sigterm_while_postgres_is_unreachable(settings: Settings) -> None:
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url or "",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        "FAIRLOT_REDIS_PREFIX": settings.redis_prefix,
        "FAIRLOT_PG_SCHEMA": settings.pg_schema,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.projector"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(1.5)  # it is now retrying the connection
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
