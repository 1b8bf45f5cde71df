"""The embedded stores start, serve, and leave nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import redis

from engine.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.procs import alive


async def test_embedded_stores_serve_and_stop(tmp_path: Path) -> None:
    r, p = EmbeddedRedis(tmp_path), EmbeddedPostgres(tmp_path)
    try:
        client = redis.Redis.from_url(r.start())
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        rewrite = client.config_get("auto-aof-rewrite-min-size")["auto-aof-rewrite-min-size"]
        assert int(rewrite) == 1 << 30  # rewrites rare: each one stalls the acks' fsyncs
        client.close()
        conn = await asyncpg.connect(p.start())
        assert await conn.fetchval("SELECT 41 + 1") == 42
        await conn.close()
        pids = [r.pid, p.pid]
        assert all(pid is not None and alive(pid) for pid in pids)
    finally:
        r.stop()
        p.stop()
    assert not any(alive(pid) for pid in pids if pid is not None)


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from engine.embedded import EmbeddedRedis, EmbeddedPostgres
        r = EmbeddedRedis(Path({str(tmp_path)!r})); r.start()
        p = EmbeddedPostgres(Path({str(tmp_path)!r})); p.start()
        print(r.pid, p.pid, flush=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    pids = [int(x) for x in line.split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
