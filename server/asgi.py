"""The ASGI entry point: WebSockets on ``/ws`` go straight to their endpoint.

Why: a WebSocket lives as long as its viewer, and every frame of the call chain that
reached the endpoint lives with it. Through Starlette's middleware stack (error and
exception middleware, exception-handler wrappers, router, route) that chain held about
4.7 KB per connection (Python allocations under tracemalloc, 2,000 viewers: 57.2 MB
before, 47.7 MB after); rooms of 10,000 viewers pay it 10,000 times. The endpoint
handles its own errors and closes with its own codes (docs/protocol.md), so nothing
those layers do applies to it; every other request, and a WebSocket on any other path,
takes the normal route.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.websockets import WebSocket

from server import ws
from server.transport import RAW_SEND_KEY

WS_PATH = "/ws"


class App(Starlette):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope.get("path") == WS_PATH:
            scope["app"] = self
            scope[RAW_SEND_KEY] = send
            await ws.endpoint(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)
