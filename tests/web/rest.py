"""Setting up rooms for the browser tests through the public REST API."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.liveserver import LiveServer


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create(server: LiveServer, fmt: str, params: dict[str, Any], title: str = "") -> str:
    """Create an auction (or a flash sale) as a host; returns its id."""
    headers = {"authorization": f"Bearer {server.token('host-t', 'host')}"}
    path = "/sales" if fmt == "flash" else "/auctions"
    r = httpx.post(server.http + path, json={"format": fmt, "params": params}, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    room: str = r.json()["id"]
    if title:
        r = httpx.put(
            f"{server.http}/web/items/{room}",
            json={"title": title, "description": "A browser test lot."},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
    return room
