"""A draw survives a SIGKILL of the server: one committed draw and one counting down to
its beacon, the process killed and restarted on the same stores, both finish and their
certificates verify (leaves recomputed from the stored upload)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx

from draws import verify_certificate
from server.config import Settings
from tests.liveserver import LiveServer, live_server

ENTRIES = ("user_id,handle,text\n" + "".join(f"{i},@p{i},hello #win\n" for i in range(40))).encode()


def auth(server: LiveServer, user: str) -> dict[str, str]:
    return {"authorization": f"Bearer {server.token(user, 'host')}"}


def prepare(server: LiveServer, host: str, **params: Any) -> str:
    with httpx.Client(base_url=server.http, timeout=10) as http:
        r = http.post("/draws", json={"winners": 3, "alternates": 2, **params}, headers=auth(server, host))
        assert r.status_code == 201, r.text
        draw_id = str(r.json()["id"])
        files = {"file": ("entries.csv", ENTRIES, "text/csv")}
        r = http.post(f"/draws/{draw_id}/entries", files=files, headers=auth(server, host))
        assert r.status_code == 200, r.text
        r = http.post(f"/draws/{draw_id}/commit", headers=auth(server, host))
        assert r.status_code == 200 and r.json()["status"] == "committed", r.text
    return draw_id


def wait_complete(http: httpx.Client, draw_id: str, within: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        view: dict[str, Any] = http.get(f"/draws/{draw_id}").json()
        if view["status"] == "complete":
            return view
        time.sleep(0.05)
    raise AssertionError(f"{draw_id} did not complete: {view}")


def test_draws_survive_sigkill_and_certificates_verify(settings: Settings, tmp_path: Path) -> None:
    with live_server(settings, tmp_path) as first:
        committed = prepare(first, "host-a")
        waiting = prepare(first, "host-b", beacon={"kind": "commit-reveal", "delay_ms": 2500})
        with httpx.Client(base_url=first.http, timeout=10) as http:
            r = http.post(
                f"/draws/{waiting}/run", json={"reveal_interval_ms": 50}, headers=auth(first, "host-b")
            )
            assert r.status_code == 202 and r.json()["status"] == "scheduled", r.text
            before = http.get(f"/draws/{committed}").json()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)

    with live_server(settings, tmp_path) as second, httpx.Client(base_url=second.http, timeout=10) as http:
        after = http.get(f"/draws/{committed}").json()
        assert after["status"] == "committed" and after["state_hash"] == before["state_hash"]
        assert after["commitment_hash"] == before["commitment_hash"]
        r = http.post(
            f"/draws/{committed}/run", json={"reveal_interval_ms": 0}, headers=auth(second, "host-a")
        )
        assert r.status_code == 200, r.text
        # The draw that was counting down was re-armed by recovery: nobody calls run again.
        for draw_id in (committed, waiting):
            view = wait_complete(http, draw_id)
            assert len(view["revealed"]) == 3
            cert = http.get(f"/draws/{draw_id}/certificate").json()
            leaves = http.get(f"/certificates/{cert['certificate_hash']}/leaves").content
            report = verify_certificate(cert, leaves=leaves)
            assert report.ok, report
            assert [w["index"] for w in view["revealed"]] == [w["index"] for w in cert["body"]["winners"]]
