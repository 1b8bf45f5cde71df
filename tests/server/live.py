"""An in-process uvicorn server (same protocol stack as ``fairlot serve``) and WS clients.

Why in-process: tests over real sockets that also need to look inside the server
(rooms, connections, metrics) or to start in a fraction of a second. The stack is the
one ``server/cli.py`` configures: uvloop is not used (the test's own loop runs it), but
httptools and uvicorn's ``websockets-sansio`` protocol are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from server.app import create_app
from server.config import Settings
from tests.liveserver import TEST_SECRET, mint_token

FAR_FUTURE = 4_102_444_800_000
JSON_SUB: Any = ["fairlot.v1.json"]


@dataclass
class Running:
    app: Starlette
    server: uvicorn.Server
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(self, user: str, role: str = "bidder", ttl_ms: int = 3_600_000) -> str:
        return mint_token(user, role, ttl_ms)

    def auth(self, user: str = "host-1", role: str = "host") -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(user, role)}"}


@contextlib.asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[Running]:
    """Serve ``create_app(settings)`` on a free port for the duration of the block."""
    import os

    os.environ["FAIRLOT_SECRET"] = TEST_SECRET
    app = create_app(replace(settings, **overrides))
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_level="warning",
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(2000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.005)
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(app, server, port)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)


async def recv(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    data = await asyncio.wait_for(ws.recv(), wait)
    message = orjson.loads(data)
    assert isinstance(message, dict)
    return message


async def recv_until(ws: ClientConnection, type_: str, wait: float = 10) -> dict[str, Any]:
    while True:
        message = await recv(ws, wait)
        if message["type"] == type_:
            return message


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(message).decode())


async def client(
    live: Running, user: str | None = None, role: str = "bidder", **kwargs: Any
) -> tuple[ClientConnection, dict[str, Any]]:
    """A connected, greeted JSON client (and its welcome)."""
    ws = await connect(live.ws, subprotocols=JSON_SUB, compression=None, **kwargs)
    token = live.token(user, role) if user is not None else None
    await send(ws, {"type": "hello", "version": 1, "token": token})
    return ws, await recv_until(ws, "welcome")


async def create(live: Running, fmt: str = "english", **params: Any) -> str:
    import httpx

    body = {"format": fmt, "params": {"currency": "EUR", "opening": 100, "end": FAR_FUTURE, **params}}
    if fmt != "english":
        body["params"] = {"currency": "EUR", **params}
    path = "/sales" if fmt == "flash" else "/auctions"
    async with httpx.AsyncClient(base_url=live.http) as http:
        r = await http.post(path, json=body, headers=live.auth())
    assert r.status_code == 201, r.text
    room: str = r.json()["id"]
    return room
