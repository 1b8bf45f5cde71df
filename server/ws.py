"""The WebSocket endpoint: frames <-> protocol messages <-> engine commands.

Why the subprotocol picks the codec: ``fairlot.v1.msgpack`` (binary frames) or
``fairlot.v1.json`` (text frames); a client that offers none gets JSON. Every reply to a
command is typed: ``ack`` with the event's seq only once it is durable, or ``reject``
with a stable code. A client's bad frame gets an ``error`` (or ``reject``) and the
connection stays up unless the protocol marks the error fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bidding import Rejected
from engine.errors import EngineError, NotFound
from engine.projection import public_view
from protocol import (
    SUBPROTOCOLS,
    Ack,
    Error,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Reject,
    Snapshot,
    Subscribe,
    Unsubscribe,
    Welcome,
    codec_for_subprotocol,
)
from protocol.limits import PROTOCOL_VERSION, SEND_QUEUE_MAX_FRAMES
from server.auth import AuthError, Identity
from server.commands import to_command

DEFAULT_SUBPROTOCOL = "fairlot.v1.json"
SLOW_CONSUMER_CLOSE = 4008


class Connection:
    """One client: its codec, identity, rooms and bounded send queue."""

    def __init__(self, websocket: WebSocket, codec_name: str) -> None:
        self.websocket = websocket
        self.codec_name = codec_name
        self.codec = codec_for_subprotocol(codec_name)
        self.binary = codec_name.endswith("msgpack")
        self.identity: Identity | None = None
        self.rooms: set[str] = set()
        self.queue: asyncio.Queue[bytes | str | None] = asyncio.Queue(SEND_QUEUE_MAX_FRAMES)
        self.closed = False
        self.close_code: int | None = None
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def enqueue(self, frame: bytes | str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.closed = True
            self.close_code = SLOW_CONSUMER_CLOSE
            asyncio.get_running_loop().create_task(self._abort(SLOW_CONSUMER_CLOSE, "slow_consumer"))

    def send(self, message: Any) -> None:
        self.enqueue(self.codec.encode(message))

    async def _write_loop(self) -> None:
        ws = self.websocket
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    return
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_text(frame)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True

    async def _abort(self, code: int, reason: str) -> None:
        if self._writer is not None:
            self._writer.cancel()
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Flush what is queued, then close."""
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer, 2)
        self.closed = True
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)


def choose_subprotocol(offered: list[str]) -> str | None:
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


async def endpoint(websocket: WebSocket) -> None:
    offered = list(websocket.scope.get("subprotocols") or [])
    chosen = choose_subprotocol(offered)
    if offered and chosen is None:
        await websocket.close(1002, "no supported subprotocol")
        return
    await websocket.accept(subprotocol=chosen)
    conn = Connection(websocket, chosen or DEFAULT_SUBPROTOCOL)
    conn.start()
    app = websocket.app
    rooms = app.state.rooms
    try:
        while not conn.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                data = message.get("text", "")
            await handle_frame(app, conn, data)
    except WebSocketDisconnect:
        pass
    finally:
        rooms.leave_all(conn)
        await conn.close(conn.close_code or 1000)


async def handle_frame(app: Any, conn: Connection, data: bytes | str) -> None:
    try:
        msg = conn.codec.decode(data)
    except ProtocolError as exc:
        if exc.command_id is not None:
            conn.send(Reject(id=exc.command_id, code=exc.code, message=exc.message))
        else:
            conn.send(Error(code=exc.code, message=exc.message))
        if exc.fatal:
            await conn.close(exc.close_code, exc.code)
        return
    await dispatch(app, conn, msg)


async def dispatch(app: Any, conn: Connection, msg: Any) -> None:
    state = app.state
    match msg:
        case Hello(version=version, token=token):
            if version != PROTOCOL_VERSION:
                conn.send(
                    Error(code="unsupported_version", message=f"server speaks version {PROTOCOL_VERSION}")
                )
                await conn.close(4001, "unsupported_version")
                return
            if token is not None:
                try:
                    conn.identity = state.signer.check(token, state.clock.now())
                except AuthError as exc:
                    conn.send(Error(code=exc.code, message=exc.message))
                    return
            conn.send(
                Welcome(
                    session_id=secrets.token_hex(8),
                    version=PROTOCOL_VERSION,
                    server_time=state.clock.now(),
                    user_id=conn.identity.user_id if conn.identity else None,
                )
            )
        case Ping(nonce=nonce):
            conn.send(Pong(nonce=nonce))
        case Subscribe(room=room, since=since):
            try:
                last = await state.rooms.join(conn, room, since)
            except NotFound:
                conn.send(Error(code="not_found", message=f"no room {room!r}"))
                return
            conn.rooms.add(room)
            if since is None:
                actor = state.registry.peek(room)
                if actor is not None:
                    conn.send(Snapshot(room=room, seq=last, state=public_view(actor.stream, actor.created)))
        case Unsubscribe(room=room):
            state.rooms.leave(conn, room)
            conn.rooms.discard(room)
        case _:
            await run_command(app, conn, msg)


async def run_command(app: Any, conn: Connection, msg: Any) -> None:
    command_id = getattr(msg, "id", None)
    room = getattr(msg, "room", None)
    if command_id is None or room is None:
        conn.send(Error(code="unexpected_message", message=f"{msg.type} is not accepted from clients"))
        return
    if conn.identity is None or not conn.identity.can("bidder"):
        conn.send(
            Reject(id=command_id, code="unauthorized", message="bidding needs a bidder token (send hello)")
        )
        return
    try:
        actor = await app.state.registry.get(room)
        command = to_command(actor.stream, msg, conn.identity)
        events = await actor.submit(command)
    except Rejected as rejection:
        conn.send(Reject(id=command_id, code=rejection.code, message=rejection.message))
        return
    except EngineError as exc:
        conn.send(Reject(id=command_id, code=exc.code, message=exc.message))
        return
    seq = events[-1].seq if events else actor.durable_version
    conn.send(Ack(id=command_id, room=room, seq=seq))
