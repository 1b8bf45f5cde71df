"""``fairlot serve``: embedded stores when no URL is set, none when both are; Ctrl-C
leaves nothing running."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from engine.embedded import free_port
from server.config import Settings
from tests.liveserver import ROOT, server_env, wait_ready
from tests.procs import alive, children_of, processes_using


def serve(env: dict[str, str], data_dir: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    """``fairlot serve`` with a *relative* ``--data-dir`` (as a user types it), run from
    the data folder's parent."""
    port = free_port()
    log = data_dir.parent / f"{data_dir.name}.log"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", data_dir.name],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=data_dir.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, port, log


def test_serve_embedded_then_ctrl_c_leaves_nothing(settings: Settings, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = server_env(settings, data_dir)
    del env["REDIS_URL"], env["DATABASE_URL"]
    proc, port, log = serve(env, data_dir)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, 60, log)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready == {"redis": "ok", "postgres": "ok", "schema": "current", "ready": True}
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        children = children_of(proc.pid)
        assert {"redis-server", "postgres"} <= set(children.values()), children
        assert len(children) == 3, children  # the stores and the projector
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(30)
    output = log.read_text()
    assert "embedded" in output and "stopped embedded stores" in output
    assert processes_using(str(data_dir)) == []
    assert not any(alive(pid) for pid in children)
    assert proc.returncode == 0


def test_serve_with_urls_starts_nothing(settings: Settings, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    proc, port, log = serve(server_env(settings, data_dir), data_dir)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, 60, log)
        assert processes_using(str(data_dir)) == []
        # Only the projector (a python child) runs beside the server: no store process.
        assert set(children_of(proc.pid).values()) <= {"python", "python3", Path(sys.executable).name}
        assert not (data_dir / "postgres").exists() and not (data_dir / "redis").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    output = log.read_text()
    assert "redis    external" in output and "postgres external" in output
    assert proc.returncode == 0
