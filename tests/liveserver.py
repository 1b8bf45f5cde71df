"""A real ``fairlot serve`` process on a free port, for tests over real sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from engine.embedded import free_port
from server.auth import TokenSigner
from server.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-0123456789abcdef"


def mint_token(user: str, role: str = "bidder", ttl_ms: int = 3_600_000) -> str:
    """A bearer token signed with the test servers' secret."""
    return TokenSigner(TEST_SECRET.encode()).mint(user, role, time.time_ns() // 1_000_000 + ttl_ms)


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(self, user: str, role: str = "bidder", ttl_ms: int = 3_600_000) -> str:
        return mint_token(user, role, ttl_ms)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def server_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        FAIRLOT_SECRET=TEST_SECRET,
        FAIRLOT_PG_SCHEMA=settings.pg_schema,
        FAIRLOT_REDIS_PREFIX=settings.redis_prefix,
        FAIRLOT_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server not ready within {timeout}s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def live_server(settings: Settings, data_dir: Path, timeout: float = 60.0) -> Iterator[LiveServer]:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=server_env(settings, data_dir),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(proc, port, log_path)
    try:
        wait_ready(server.http, proc, timeout, log_path)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
