"""The WebSocket endpoint: frames <-> ``protocol.Session`` <-> engine commands.

Why a sans-I/O session: ``protocol.Session`` decides everything about the wire (decode,
state tables, ping, protocol errors and their replies, the bounded send queue); this
module only moves bytes between it and the socket, like websockets' ``data_received``:
``receive_data`` -> ``events_received`` in, ``send``/``send_frame`` -> ``data_to_send``
out.

Every command gets exactly one typed reply: ``ack`` with the event's seq once it is
durable, or ``reject`` with a stable code. Identity comes only from the verified token
of ``hello``; the message never names the actor. Checks, in order: subscribed (the
session), token present and unexpired, role at least ``bidder``, rate limits (user and
IP), the flash-sale waiting room, then the format's own rules.

Slow consumers: fan-out frames never wait for a connection. When the transport is
paused they queue in the session (bounded); when the queue overflows the connection is
dropped from its rooms, its queue is discarded and, once it reads again, it gets a fresh
``snapshot`` per room (``slow_resyncs`` times); after that it is closed with 4008.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bidding import Envelope, Rejected
from engine.draw_service import API_KEY_PREFIX
from engine.errors import EngineError, NotFound, Unavailable
from protocol import (
    Ack,
    AnyCodec,
    Error,
    Hello,
    ProtocolError,
    Reject,
    ServerMessage,
    Session,
    SessionState,
    SlowConsumer,
    Subscribe,
    Unsubscribe,
    Welcome,
    codec_for_subprotocol,
    select_subprotocol,
)
from protocol.limits import MAX_MESSAGE_LEN, PROTOCOL_VERSION
from server.auth import AuthError, Identity, identity_of
from server.commands import confirm_hold, is_two_step, to_command
from server.errors import CLOSE_SLOW_CONSUMER, CLOSE_UNAUTHORIZED
from server.framing import ws_frame
from server.rooms import Outgoing, Room
from server.transport import RAW_SEND_KEY, DirectWriter

if TYPE_CHECKING:
    from starlette.datastructures import State

    from engine.actor import AuctionActor
    from server.config import Settings
    from server.metrics import Metrics

log = logging.getLogger("fairlot.ws")

__all__ = ["Connection", "endpoint"]

OPEN = SessionState.OPEN
CLOSING_OR_CLOSED = (SessionState.CLOSING, SessionState.CLOSED)
KILL_GRACE_S = 2.0


class Connection:
    """One client: its session, identity, rooms and writer."""

    __slots__ = (
        "_corked",
        "_corks",
        "_loop",
        "_pending",
        "_resync",
        "_resyncs_left",
        "_wake",
        "_writer",
        "api_key",
        "codec",
        "direct",
        "fast_write",
        "identity",
        "ip",
        "joined",
        "killed",
        "metrics",
        "session",
        "state",
        "tasks",
        "websocket",
    )

    def __init__(
        self, websocket: WebSocket, codec: AnyCodec, state: State, direct: DirectWriter | None
    ) -> None:
        settings: Settings = state.settings
        self.websocket = websocket
        self.codec = codec
        self.state = state
        self.metrics: Metrics = state.metrics
        self.session = Session(
            codec, max_queue_frames=settings.send_queue_frames, max_queue_bytes=settings.send_queue_bytes
        )
        self.direct = direct
        #: The transport's write while rooms may call it directly (see ``server.rooms``).
        self.fast_write: Callable[[bytes], object] | None = None
        #: Rooms this connection is live in (kept by the rooms).
        self.joined: dict[Room, None] = {}
        if direct is not None:
            direct.on_blocked = self._demote
        self.identity: Identity | None = None
        #: The host API key this session said hello with (checked again per command:
        #: a revocation takes effect at once, as in REST).
        self.api_key: str | None = None
        client = websocket.scope.get("client")
        self.ip: str | None = client[0] if client else None
        self.killed = False
        self._pending = False  # frames may sit in the session queue or with the writer
        self._resync: set[str] = set()
        self._resyncs_left = settings.slow_resyncs
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        #: Rooms with a command of this connection in flight (how many), and the room
        #: frames written meanwhile: they go out with the command's reply (``cork``).
        self._corks: dict[Room, int] = {}
        self._corked: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ writing

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._writer = self._loop.create_task(self._write_loop())

    def send(self, msg: ServerMessage) -> None:
        """Queue a reply (ack, reject, welcome...) and write it as soon as possible."""
        try:
            self.session.send(msg)
        except SlowConsumer:
            self._overflow()
            return
        self.flush()

    def flush(self) -> None:
        """Write what the session queued (its own replies too: pong, error, reject)."""
        direct = self.direct
        if direct is not None and not self._pending and direct.ready():
            frames = self.session.data_to_send()
            corked = self._corked
            if corked:  # the room's frames of a command in flight, then its reply: one send
                wires = [*corked, *(ws_frame(frame) for frame in frames)]
                corked.clear()
                direct.write(b"".join(wires))
            else:
                for frame in frames:
                    direct.write(ws_frame(frame))
            self.metrics.messages_out += len(frames)
            if self.fast_write is None:
                self._promote()
        else:
            self._spill()
            self.wake()

    # -------------------------------------------------------------- the cork
    #
    # A bidder's command makes its room publish an event to the bidder too, one loop
    # turn before the command's ack: two sends per bid on the same socket, each a
    # system call and a wake-up of the client. While a command is in flight, its room
    # writes this connection's frames into a buffer instead, and the reply takes them
    # along in one write. The buffer never waits longer than the next loop turn
    # (``_spill``), and it goes out before anything else this connection writes or
    # queues, so the order of frames is unchanged.

    def cork(self, room_id: str) -> Room | None:
        """A command is in flight in ``room_id``: buffer its frames until ``uncork``."""
        room: Room | None = self.state.rooms.get(room_id)
        if room is None or room not in self.joined:
            return None
        held = self._corks.get(room, 0)
        self._corks[room] = held + 1
        if not held and self.fast_write is not None:
            room.set_fast(self, self._cork_write)
        return room

    def uncork(self, room: Room | None) -> None:
        """The command in ``room`` is answered (its reply, sent next, takes the buffer)."""
        if room is None:
            return
        held = self._corks.get(room, 0) - 1
        if held > 0:
            self._corks[room] = held
            return
        self._corks.pop(room, None)
        if self.fast_write is not None and room in self.joined:
            room.set_fast(self, self.fast_write)

    def _cork_write(self, wire: bytes) -> None:
        corked = self._corked
        corked.append(wire)
        if len(corked) == 1 and self._loop is not None:
            self._loop.call_soon(self._spill)  # a reply due this turn goes first, with it

    def _spill(self) -> None:
        """Write the buffered frames now (nothing may overtake them)."""
        corked = self._corked
        if not corked:
            return
        wire = corked[0] if len(corked) == 1 else b"".join(corked)
        corked.clear()
        direct = self.direct
        if direct is not None and not self.killed:
            # Straight to the transport even if it paused: at most one turn of one
            # room's frames, as a fan-out write already in the buffer would have been.
            with contextlib.suppress(RuntimeError, OSError):  # lost an instant ago
                direct.write(wire)

    def push(self, frames: Sequence[Outgoing]) -> None:
        """Pre-encoded frames (a room's slow path, a join's history or snapshot, the
        waiting room): written at once when nothing is queued, else queued."""
        session = self.session
        if session.state is not OPEN or self.killed:
            return
        self._spill()
        direct = self.direct
        if direct is not None and not self._pending and direct.ready():
            for _, wire in frames:
                direct.write(wire)
            if self.fast_write is None:
                self._promote()
            return
        try:
            for frame, _ in frames:
                session.send_frame(frame)
        except SlowConsumer:
            self._overflow()
            return
        self.wake()

    def _promote(self) -> None:
        """Back on the fast path, if nothing is queued and the transport takes writes."""
        direct = self.direct
        if (
            direct is not None
            and not self._pending
            and not self.killed
            and self.session.state is OPEN
            and direct.ready()
        ):
            write = self.fast_write = direct.transport_write
            corks = self._corks
            for room in list(self.joined):
                room.set_fast(self, self._cork_write if room in corks else write)

    def _demote(self) -> None:
        """Off the fast path: frames go through the session queue until it drains."""
        if self.fast_write is not None:
            self.fast_write = None
            for room in list(self.joined):
                room.set_fast(self, None)

    async def _write_loop(self) -> None:
        session = self.session
        websocket = self.websocket
        direct = self.direct
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while True:
                    self._spill()  # older than anything queued
                    frames = session.data_to_send()
                    if frames:
                        for frame in frames:
                            if direct is None:
                                if isinstance(frame, bytes):
                                    await websocket.send_bytes(frame)
                                else:
                                    await websocket.send_text(frame)
                                continue
                            if not direct.ready():
                                await direct.wait_writable()
                                if direct.gone:
                                    return
                            direct.write(ws_frame(frame))
                        continue
                    if self._resync and not self.killed:
                        if direct is not None and not direct.ready():
                            await direct.wait_writable()
                            if direct.gone:
                                return
                        await self._do_resync()
                        continue
                    break
                self._pending = False
                self._promote()
                if session.state is SessionState.CLOSING:
                    await self._close(session.close_code or 1000, session.close_reason)
                    return
        except (WebSocketDisconnect, RuntimeError, OSError, asyncio.CancelledError):
            return
        except Exception:  # a bug must not leave the reader waiting forever
            log.exception("writer failed")
            self.kill(1011, "internal_error")

    def wake(self) -> None:
        """Make the writer flush the session queue (and close if the session is closing)."""
        self._pending = True
        self._demote()
        self._wake.set()

    async def _do_resync(self) -> None:
        rooms_ = self.state.rooms
        for room in sorted(self._resync):
            self._resync.discard(room)
            if self.session.is_subscribed(room):
                with contextlib.suppress(EngineError):
                    await rooms_.resync(self, room)

    def _overflow(self) -> None:
        """The session queue is full: resync from a snapshot, or close with 4008."""
        session = self.session
        session.data_to_send()  # drop what the client did not read
        rooms_ = self.state.rooms
        if self._resyncs_left > 0:
            self._resyncs_left -= 1
            self.metrics.slow_resyncs += 1
            for room in session.rooms:
                rooms_.pause(self, room)
                self._resync.add(room)
            self.wake()
            return
        self.metrics.slow_closes += 1
        self.kill(CLOSE_SLOW_CONSUMER, "slow_consumer")

    def kill(self, code: int, reason: str) -> None:
        """Close now, without flushing: for clients that do not read."""
        if self.killed:
            return
        self.killed = True
        self._demote()
        self.state.rooms.leave_all(self, sorted(self.session.rooms))
        self._corked.clear()  # like the queue: a client that does not read gets nothing more
        session = self.session
        session.data_to_send()
        session.close(code, reason)
        if self.direct is not None:
            self.direct.kill(code, reason, KILL_GRACE_S)
            if self._writer is not None:
                self._writer.cancel()
        elif self._writer is not None:
            self._writer.cancel()
            task = asyncio.get_running_loop().create_task(self._close(code, reason))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, reason[:120]), KILL_GRACE_S)

    async def finish(self) -> None:
        """The reader is done: flush what is queued (briefly), then close."""
        self._spill()
        self._demote()
        self.state.rooms.leave_all(self, sorted(self.session.rooms))
        if self.session.state is OPEN or self.session.state is SessionState.HANDSHAKE:
            self.session.close(1000)
        writer = self._writer
        if writer is not None and not writer.done():
            self.wake()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), KILL_GRACE_S)
            writer.cancel()
        with contextlib.suppress(Exception):
            self.session.connection_lost()
        if not self.killed:
            await self._close(self.session.close_code or 1000, self.session.close_reason)

    async def shutdown(self) -> None:
        """Server shutdown: close with 1001."""
        self.session.close(1001, "server shutting down")
        self.wake()


async def endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    offered = list(websocket.scope.get("subprotocols") or [])
    chosen = select_subprotocol(offered)
    if offered and chosen is None:
        await websocket.close(1002, "no supported subprotocol")
        return
    await websocket.accept(subprotocol=chosen)
    settings: Settings = state.settings
    direct = None
    if settings.ws_fastpath:
        direct = DirectWriter.attach(
            websocket.scope.get(RAW_SEND_KEY), settings.ws_sndbuf, settings.ws_write_high
        )
    conn = Connection(websocket, codec_for_subprotocol(chosen), state, direct)
    state.connections.add(conn)
    state.metrics.connections_total += 1
    conn.start()
    session = conn.session
    try:
        while session.state not in CLOSING_OR_CLOSED and not conn.killed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                data = message.get("text", "")
            session.receive_data(data)
            for event in session.events_received():
                await handle(conn, event)
            if session.state in CLOSING_OR_CLOSED:
                conn._demote()  # no fan-out frame may follow the close frame
            conn.flush()
    except WebSocketDisconnect:
        pass
    finally:
        state.connections.discard(conn)
        await conn.finish()


async def handle(conn: Connection, event: Any) -> None:
    """One decoded message or protocol error from the session."""
    state = conn.state
    metrics: Metrics = state.metrics
    if isinstance(event, ProtocolError):
        metrics.count_protocol_error(event.code)
        return
    metrics.count_in(event.type)
    match event:
        case Hello(token=token):
            hello(conn, token)
        case Subscribe(room=room, since=since):
            await subscribe(conn, room, since)
        case Unsubscribe(room=room):
            state.rooms.leave(conn, room)
        case _:
            await command(conn, event)


def hello(conn: Connection, token: str | None) -> None:
    state = conn.state
    if token is not None:
        try:
            conn.identity = identity_of(state, token)
        except AuthError as exc:
            conn.send(Error(code=exc.code, message=exc.message))
            conn.session.close(CLOSE_UNAUTHORIZED, exc.code)
            conn.wake()
            return
        conn.api_key = token if token.startswith(API_KEY_PREFIX) else None
    conn.send(
        Welcome(
            session_id=secrets.token_hex(8),
            version=PROTOCOL_VERSION,
            server_time=state.clock.now(),
            user_id=conn.identity.user_id if conn.identity else None,
        )
    )


async def subscribe(conn: Connection, room: str, since: int | None) -> None:
    state = conn.state
    try:
        await state.rooms.join(conn, room, since)
    except NotFound:
        conn.session.leave(room)
        conn.send(Error(code="not_found", message=f"no room {room[:200]!r}"))
        return
    except EngineError as exc:
        conn.session.leave(room)
        conn.send(Error(code=exc.code, message=exc.message[:MAX_MESSAGE_LEN]))
        return
    waiting = getattr(state, "waiting", None)
    if waiting is not None and conn.identity is not None:
        waiting.arrive(room, conn.identity.user_id, conn)


def reject(
    conn: Connection, command_id: str, code: str, message: str, retry_after_ms: int | None = None
) -> None:
    conn.metrics.count_reject(code)
    conn.send(
        Reject(id=command_id, code=code, message=message[:MAX_MESSAGE_LEN], retry_after_ms=retry_after_ms)
    )


def refuse(conn: Connection, command_id: str, failure: BaseException) -> None:
    """The ``reject`` for why a command failed: the rules (``Rejected``), the engine
    (``EngineError``), or anything else, which the actor's contract does not raise; it
    still gets an answer (``unavailable``), never silence."""
    if isinstance(failure, Rejected):
        reject(conn, command_id, str(failure.code), failure.message)
    elif isinstance(failure, EngineError):
        reject(conn, command_id, failure.code, failure.message)
    else:
        log.error("command %s: unexpected failure", command_id, exc_info=failure)
        refuse(conn, command_id, Unavailable("the command was not applied; retry"))


async def command(conn: Connection, msg: Any) -> None:
    """A room command: checks, then the actor; the reply comes when it is durable."""
    state = conn.state
    started = time.perf_counter()
    command_id: str = msg.id
    identity = conn.identity
    now = state.clock.now()
    if identity is None:
        reject(conn, command_id, "unauthorized", "this needs a bidder token (send it in hello)")
        return
    if identity.expires_ms <= now:
        reject(conn, command_id, "token_expired", "the token has expired; reconnect with a fresh one")
        return
    if conn.api_key is not None and state.registry.draws.api_key(conn.api_key) is None:
        reject(conn, command_id, "invalid_token", "the API key was revoked; reconnect with a valid one")
        return
    if not identity.can("bidder"):
        reject(conn, command_id, "forbidden", f"a {identity.role} token cannot place commands")
        return
    limited = state.limiter.check(identity.user_id, conn.ip, now)
    if limited is not None:
        reject(
            conn,
            command_id,
            "rate_limited",
            f"too many commands per {limited.scope}; retry later",
            retry_after_ms=limited.retry_after_ms,
        )
        return
    waiting = getattr(state, "waiting", None)
    if waiting is not None:
        refusal = waiting.check(msg.room, identity.user_id)
        if refusal is not None:
            reject(conn, command_id, refusal[0], refusal[1], retry_after_ms=refusal[2])
            return
    try:
        actor = state.registry.peek(msg.room) or await state.registry.get(msg.room)
        core = to_command(actor.stream, msg, identity)
        # Submitted here, synchronously: the actor sees a connection's commands in
        # arrival order, and a client may pipeline them.
        fut = actor.submit_nowait(core)
    except (Rejected, EngineError) as exc:
        refuse(conn, command_id, exc)
        return
    if is_two_step(msg, core):  # a flash-sale buy: its confirm waits for the reserve
        task = asyncio.get_running_loop().create_task(buy(conn, actor, msg, identity, fut, started))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)
        return
    # A callback, not a task per command (py-spy put ~9% of the server's samples in
    # creating them; bench_durable_ws could not separate the gain from its noise).
    fut.add_done_callback(
        functools.partial(answered, conn, command_id, msg.room, actor, started, conn.cork(msg.room))
    )


def answered(
    conn: Connection,
    command_id: str,
    room: str,
    actor: AuctionActor,
    started: float,
    corked: Room | None,
    fut: asyncio.Future[tuple[Envelope, ...]],
) -> None:
    """The command's one reply, once the actor's future is settled (it takes along the
    room's frames written meanwhile: ``Connection.cork``)."""
    conn.uncork(corked)
    if fut.cancelled():
        refuse(conn, command_id, Unavailable("the command was not applied; retry"))
        return
    failure = fut.exception()
    if failure is None:
        acknowledge(conn, command_id, room, actor, fut.result(), started)
    else:
        refuse(conn, command_id, failure)


def acknowledge(
    conn: Connection,
    command_id: str,
    room: str,
    actor: AuctionActor,
    events: tuple[Envelope, ...],
    started: float,
) -> None:
    seq = events[-1].seq if events else actor.durable_version
    conn.metrics.acks += 1
    conn.metrics.ack_latency_ms.observe((time.perf_counter() - started) * 1000.0)
    conn.send(Ack(id=command_id, room=room, seq=seq))


async def buy(
    conn: Connection,
    actor: AuctionActor,
    msg: Any,
    identity: Identity,
    reserved: asyncio.Future[tuple[Envelope, ...]],
    started: float,
) -> None:
    command_id: str = msg.id
    try:
        events = await confirm_hold(actor, msg, identity, await reserved)
    except (Rejected, EngineError) as exc:
        refuse(conn, command_id, exc)
        return
    acknowledge(conn, command_id, msg.room, actor, events, started)
