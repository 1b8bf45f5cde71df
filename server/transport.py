"""Direct writes to uvicorn's WebSocket transport: the fan-out fast path.

Why: going through ASGI costs a coroutine, a dict and a websockets frame build per
message per viewer (about 15 µs); a fan-out frame is the same bytes for every viewer
(``server.framing``), so writing them straight to the transport costs little more than
the ``send`` system call. This only applies to uvicorn's ``websockets-sansio``
protocol (what ``fairlot serve`` runs) on a connection with no extension negotiated
(permessage-deflate makes every connection's bytes different); anything else falls
back to the ASGI ``send``. ``FAIRLOT_WS_FASTPATH=0`` turns it off.

The writer honours the transport's flow control (uvicorn's ``writable`` event, cleared
by ``pause_writing``): it never writes to a paused transport, so the user-space buffer
per connection stays below the high-water mark plus one frame. Rooms call the
transport's ``write`` straight from their publish loop (``transport_write``) while the
connection is on the fast path, so the writer tells its connection, synchronously, when
that must stop: ``on_blocked`` runs when the transport pauses and when the connection
is lost (before uvicorn hears of either).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from server.framing import close_frame

__all__ = ["RAW_SEND_KEY", "DirectWriter", "RawSendMiddleware"]

#: Scope key under which the middleware keeps the server's own ``send`` callable.
RAW_SEND_KEY = "fairlot.raw_send"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class RawSendMiddleware:
    """Pure ASGI middleware: remember the server's ``send`` for WebSocket scopes.

    Starlette's exception middleware wraps ``send``; this one sits outside it, so the
    endpoint can reach the protocol object behind the server's bound method.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


class DirectWriter:
    """Writes pre-framed bytes to one uvicorn websockets-sansio connection."""

    __slots__ = ("_proto", "_transport", "_writable", "on_blocked", "transport_write")

    def __init__(self, proto: Any) -> None:
        self._proto = proto
        self._transport: asyncio.Transport = proto.transport
        self._writable: asyncio.Event = proto.writable
        #: The transport's own ``write`` (a C method under uvloop): the fan-out hot loop.
        self.transport_write: Callable[[bytes], object] = self._transport.write
        #: Called when the transport pauses or the connection is lost.
        self.on_blocked: Callable[[], None] | None = None
        pause_writing = proto.pause_writing
        connection_lost = proto.connection_lost

        def paused() -> None:
            pause_writing()
            if self.on_blocked is not None:
                self.on_blocked()

        def lost(exc: Exception | None) -> None:
            try:
                if self.on_blocked is not None:
                    self.on_blocked()
            finally:
                connection_lost(exc)

        # The transport looks these up on the protocol each time it calls them.
        proto.pause_writing = paused
        proto.connection_lost = lost

    @classmethod
    def attach(cls, raw_send: Any, sndbuf: int = 0, write_high: int = 0) -> DirectWriter | None:
        """A writer for the connection behind ``raw_send``, or None if not applicable."""
        proto = getattr(raw_send, "__self__", None)
        if proto is None or type(proto).__name__ != "WebSocketsSansIOProtocol":
            return None
        conn = getattr(proto, "conn", None)
        transport = getattr(proto, "transport", None)
        if (
            conn is None
            or transport is None
            or not isinstance(getattr(proto, "writable", None), asyncio.Event)
        ):
            return None
        if getattr(conn, "extensions", None):  # permessage-deflate: bytes differ per connection
            return None
        if write_high:
            transport.set_write_buffer_limits(high=write_high)
        if sndbuf:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        return cls(proto)

    def ready(self) -> bool:
        """True when a write goes out now (not paused, not closing)."""
        proto = self._proto
        return self._writable.is_set() and not proto.close_sent and not proto.disconnected

    @property
    def gone(self) -> bool:
        return bool(self._proto.disconnected or self._proto.close_sent or self._transport.is_closing())

    def write(self, wire: bytes) -> None:
        self._transport.write(wire)

    async def wait_writable(self) -> None:
        """Until the transport drains below its low-water mark (or the peer is gone)."""
        await self._writable.wait()

    def buffered(self) -> int:
        """Bytes waiting in the transport's user-space buffer."""
        return int(self._transport.get_write_buffer_size())

    def kill(self, code: int, reason: str, grace_s: float) -> None:
        """Queue a close frame behind what is buffered, then drop the connection.

        For a client that does not read: the close frame is there if it ever reads; the
        transport is aborted after ``grace_s`` either way, so it holds no memory.
        """
        transport = self._transport
        if transport.is_closing():
            return
        transport.write(close_frame(code, reason))
        transport.close()
        asyncio.get_running_loop().call_later(grace_s, transport.abort)
