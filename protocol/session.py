"""A sans-I/O protocol session: the server side of one WebSocket connection.

Like websockets' ``Protocol`` and h11's ``Connection``, the session never touches a
socket, a clock or an event loop. The caller moves bytes::

    session = Session(codec)
    session.receive_data(frame)                 # one WebSocket message payload
    for event in session.events_received():     # ClientMessage or RemoteProtocolError
        ...
    session.send(Ack(id=..., room=..., seq=...))
    session.send_frame(event_frame)             # pre-encoded fan-out frame
    for frame in session.data_to_send():        # bytes (msgpack) or str (JSON)
        await websocket.send(frame)
    if session.state is SessionState.CLOSING:
        await websocket.close(session.close_code)

What the session does by itself:

- checks each message against the state tables in ``protocol.states`` (hello first;
  no second hello) and the session rules: the protocol version, at most
  ``MAX_ROOMS_PER_SESSION`` rooms, room commands only for subscribed rooms;
- answers ``ping`` with ``pong`` (the ping is not surfaced as an event);
- answers every protocol error with a ``reject`` (when the bad frame carried a readable
  command ``id``) or an ``error`` frame, surfaces the error as an event and keeps going,
  unless the error is fatal or the peer has made more than ``MAX_PROTOCOL_ERRORS``;
  then it queues the error frame and moves to CLOSING with ``close_code`` set;
- bounds its send queue: ``send`` raises ``SlowConsumer`` (and queues nothing) when
  the frame would make more than ``SEND_QUEUE_MAX_FRAMES`` frames or
  ``SEND_QUEUE_MAX_BYTES`` bytes (characters for JSON) wait undrained; an empty queue
  always takes one frame. The server may then drain and resync the client with a
  snapshot, or close with 4008.

Subscriptions are recorded when ``subscribe`` is received; a server that refuses one
(unknown room, not authorised) sends its own reject or error and calls ``leave(room)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from protocol import limits
from protocol.codec import AnyCodec
from protocol.errors import (
    HelloRequired,
    InvalidState,
    NotSubscribed,
    RemoteProtocolError,
    SlowConsumer,
    TooManyErrors,
    TooManyRooms,
    UnexpectedMessage,
    UnsupportedVersion,
)
from protocol.messages import (
    ClientMessage,
    Error,
    Hello,
    Ping,
    Pong,
    Reject,
    ServerMessage,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from protocol.states import RECEIVABLE, SENDABLE, SessionState, Trigger, next_state

__all__ = ["ReceivedEvent", "Session", "SessionStatistics"]

#: What ``events_received`` yields: a valid client message, or the error a bad one caused
#: (already answered on the wire).
ReceivedEvent = ClientMessage | RemoteProtocolError

_CLOSING_OR_CLOSED: Final = (SessionState.CLOSING, SessionState.CLOSED)


@dataclass(frozen=True, slots=True)
class SessionStatistics:
    """A snapshot of a session's counters, for metrics and tests."""

    state: SessionState
    rooms: int
    frames_received: int
    frames_sent: int
    protocol_errors: int
    queued_frames: int
    queued_bytes: int


class Session:
    """Server side of one connection; see the module docstring for the contract."""

    __slots__ = (
        "_codec",
        "_events",
        "_frame_type",
        "_max_errors",
        "_max_queue_bytes",
        "_max_queue_frames",
        "_max_rooms",
        "_out",
        "_out_bytes",
        "_rooms",
        "_state",
        "close_code",
        "close_reason",
        "frames_received",
        "frames_sent",
        "hello",
        "protocol_errors",
    )

    def __init__(
        self,
        codec: AnyCodec,
        *,
        max_rooms: int = limits.MAX_ROOMS_PER_SESSION,
        max_errors: int = limits.MAX_PROTOCOL_ERRORS,
        max_queue_frames: int = limits.SEND_QUEUE_MAX_FRAMES,
        max_queue_bytes: int = limits.SEND_QUEUE_MAX_BYTES,
    ) -> None:
        self._codec = codec
        self._frame_type: type[bytes] | type[str] = bytes if codec.binary else str
        self._max_rooms = max_rooms
        self._max_errors = max_errors
        self._max_queue_frames = max_queue_frames
        self._max_queue_bytes = max_queue_bytes
        self._state = SessionState.CONNECTING
        self._rooms: set[str] = set()
        self._events: list[ReceivedEvent] = []
        self._out: list[bytes | str] = []
        self._out_bytes = 0
        #: The client's hello, once received.
        self.hello: Hello | None = None
        #: WebSocket close code to use once the session is CLOSING (first reason wins).
        self.close_code: int | None = None
        self.close_reason = ""
        self.frames_received = 0
        self.frames_sent = 0
        self.protocol_errors = 0

    # ------------------------------------------------------------------ inspection

    @property
    def codec(self) -> AnyCodec:
        """The codec of the negotiated subprotocol."""
        return self._codec

    @property
    def state(self) -> SessionState:
        """Current state (see ``protocol.states``)."""
        return self._state

    @property
    def rooms(self) -> frozenset[str]:
        """Rooms the client is subscribed to."""
        return frozenset(self._rooms)

    def is_subscribed(self, room: str) -> bool:
        """True if the client is subscribed to ``room``."""
        return room in self._rooms

    def statistics(self) -> SessionStatistics:
        """Counters and queue depth, as a frozen snapshot."""
        return SessionStatistics(
            state=self._state,
            rooms=len(self._rooms),
            frames_received=self.frames_received,
            frames_sent=self.frames_sent,
            protocol_errors=self.protocol_errors,
            queued_frames=len(self._out),
            queued_bytes=self._out_bytes,
        )

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | str) -> None:
        """Feed one WebSocket message payload; results appear in ``events_received``.

        Never raises for anything the peer sent. Raises ``InvalidState`` if the session
        is CLOSED (the caller should have stopped reading); data in CLOSING is dropped.
        """
        state = self._state
        if state is not SessionState.OPEN and state in _CLOSING_OR_CLOSED:
            if state is SessionState.CLOSED:
                raise InvalidState("receive_data() on a closed session")
            return
        self.frames_received += 1
        try:
            msg = self._codec.decode(data)
            if msg.type not in RECEIVABLE[state]:
                raise self._out_of_order(msg)
            self._accept(msg)
        except RemoteProtocolError as err:
            self._fail(err)

    def _accept(self, msg: ClientMessage) -> None:
        """Apply the session rules to a decoded message, then surface it."""
        match msg:
            case Subscribe(room=room):
                if room not in self._rooms and len(self._rooms) >= self._max_rooms:
                    raise TooManyRooms(f"at most {self._max_rooms} rooms per session")
                self._rooms.add(room)
            case Unsubscribe(room=room):
                if room not in self._rooms:
                    raise NotSubscribed(f"not subscribed to {room!r}")
                self._rooms.discard(room)
            case Ping(nonce=nonce):
                self._reply(Pong(nonce=nonce))
                return
            case Hello(version=version):
                if version not in limits.SUPPORTED_VERSIONS:
                    supported = sorted(limits.SUPPORTED_VERSIONS)
                    raise UnsupportedVersion(f"version {version} unsupported; use {supported}")
                self.hello = msg
                self._transition(Trigger.RECV_HELLO)
            case _:  # a room command
                if msg.room not in self._rooms:
                    raise NotSubscribed(f"{msg.type}: subscribe to {msg.room!r} first", command_id=msg.id)
        self._events.append(msg)

    def _out_of_order(self, msg: ClientMessage) -> RemoteProtocolError:
        command_id = getattr(msg, "id", None)
        if self._state is SessionState.CONNECTING:
            return HelloRequired(f"{msg.type} before hello", command_id=command_id)
        return UnexpectedMessage(f"{msg.type} is not allowed now", command_id=command_id)

    def _fail(self, err: RemoteProtocolError) -> None:
        """Answer a protocol error, surface it, and close if it is fatal or one too many."""
        self.protocol_errors += 1
        self._events.append(err)
        message = err.message[: limits.MAX_MESSAGE_LEN]
        if err.command_id is not None:
            self._reply(Reject(id=err.command_id, code=err.code, message=message))
        else:
            self._reply(Error(code=err.code, message=message))
        if err.fatal:
            self.close(err.close_code, err.code)
        elif self.protocol_errors > self._max_errors:
            too_many = TooManyErrors(f"more than {self._max_errors} protocol errors")
            self._events.append(too_many)
            self._reply(Error(code=too_many.code, message=too_many.message))
            self.close(too_many.close_code, too_many.code)

    def _reply(self, msg: ServerMessage) -> None:
        """Queue a reply the session makes by itself; a full queue closes the session."""
        try:
            self.send(msg)
        except SlowConsumer as err:
            self._events.append(err)
            self.close(err.close_code, err.code)

    def events_received(self) -> list[ReceivedEvent]:
        """Messages and errors received since the last call, in order (drains)."""
        events, self._events = self._events, []
        return events

    def leave(self, room: str) -> None:
        """Forget a subscription (the server refused or ended it)."""
        self._rooms.discard(room)

    # ------------------------------------------------------------------ sending

    def send(self, msg: ServerMessage) -> None:
        """Encode ``msg`` and queue the frame.

        Raises ``InvalidState`` if the message may not be sent in the current state
        (an ``ack`` before ``welcome``), ``SlowConsumer`` if the queue is full, and
        ``EncodeError`` if the message cannot be encoded. Sends in CLOSING or CLOSED are
        discarded.
        """
        state = self._state
        if msg.type not in SENDABLE[state]:
            if state in _CLOSING_OR_CLOSED:
                return
            raise InvalidState(f"cannot send {msg.type} in state {state.value}")
        self._enqueue(self._codec.encode(msg))
        if type(msg) is Welcome:
            self._transition(Trigger.SEND_WELCOME)

    def send_frame(self, frame: bytes | str) -> None:
        """Queue an already-encoded server frame (fan-out: encode once, send to many).

        The frame must come from this session's codec (``bytes`` for msgpack, ``str``
        for JSON) and the session must be OPEN; in CLOSING or CLOSED it is discarded.
        """
        state = self._state
        if state is not SessionState.OPEN:
            if state in _CLOSING_OR_CLOSED:
                return
            raise InvalidState(f"cannot send a frame in state {state.value}")
        if type(frame) is not self._frame_type:
            raise InvalidState(f"{type(frame).__name__} frame on {self._codec.subprotocol}")
        self._enqueue(frame)

    def _enqueue(self, frame: bytes | str) -> None:
        # An empty queue always takes one frame, so a snapshot larger than the byte
        # bound can still be sent to a client that keeps up.
        size = self._out_bytes + len(frame)
        out = self._out
        if out and (len(out) >= self._max_queue_frames or size > self._max_queue_bytes):
            raise SlowConsumer(f"send queue full ({len(self._out)} frames, {self._out_bytes} bytes)")
        self._out.append(frame)
        self._out_bytes = size

    def data_to_send(self) -> list[bytes | str]:
        """Frames to write, in order (drains the queue)."""
        out, self._out = self._out, []
        self.frames_sent += len(out)
        self._out_bytes = 0
        return out

    # ------------------------------------------------------------------ closing

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start closing: nothing more is received or sent; queued frames still go out.

        The first close decides ``close_code`` and ``close_reason``. No-op once CLOSED.
        """
        if self._state is SessionState.CLOSED:
            return
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self._transition(Trigger.CLOSE)

    def connection_lost(self) -> None:
        """The transport is gone: the session is CLOSED."""
        self._transition(Trigger.CONNECTION_LOST)

    def _transition(self, trigger: Trigger) -> None:
        new = next_state(self._state, trigger)
        if new is None:
            raise InvalidState(f"{trigger.value} not allowed in state {self._state.value}")
        self._state = new
