"""The message catalogue: frozen, slotted dataclasses tagged by a ``type`` class attribute.

This is the msgspec ``Struct(tag=True)`` pattern without msgspec: each message class
has a ``type: ClassVar[str]`` tag, written as the ``"type"`` key on the wire, and the two
unions ``ClientMessage`` and ``ServerMessage`` let callers ``match`` on the class::

    match msg:
        case PlaceBid(id=cid, room=room, amount=amount): ...
        case Subscribe(room=room, since=since): ...

Field types are ``Annotated`` aliases from ``protocol.fields``; they carry the wire
constraints the decoder enforces. Money is an integer count of minor units plus an ISO
4217 currency; times are integer milliseconds since the Unix epoch (UTC).

``Event`` names its event kind ``kind`` (``"bid_accepted"``...), because ``type`` is the
message tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, get_args

from protocol.fields import (
    Amount,
    Code,
    CommandId,
    Commitment,
    Currency,
    HumanText,
    JsonObject,
    Nonce,
    PingNonce,
    Quantity,
    RoomId,
    Seq,
    Tickets,
    TimeMs,
    Token,
    Version,
)

__all__ = [
    "CLIENT_MESSAGE_TYPES",
    "SERVER_MESSAGE_TYPES",
    "Ack",
    "Batch",
    "Buy",
    "ClientMessage",
    "Confirm",
    "DrawEnter",
    "Error",
    "Event",
    "Hello",
    "Hold",
    "Message",
    "Ping",
    "PlaceBid",
    "Pong",
    "Reject",
    "RoomCommand",
    "SealedCommit",
    "SealedReveal",
    "ServerMessage",
    "SetProxy",
    "Snapshot",
    "Subscribe",
    "Unsubscribe",
    "Welcome",
]

# --------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True)
class Hello:
    """First message of a session: the protocol version and an optional bearer token.

    Viewers of public rooms may omit the token; bidding and hosting need one.
    """

    type: ClassVar[str] = "hello"
    version: Version
    token: Token | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Join a room. ``since`` resumes after that sequence number (exclusive).

    Without ``since`` the server sends a snapshot, then the live tail.
    """

    type: ClassVar[str] = "subscribe"
    room: RoomId
    since: Seq | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Leave a room."""

    type: ClassVar[str] = "unsubscribe"
    room: RoomId


@dataclass(frozen=True, slots=True)
class PlaceBid:
    """Bid ``amount`` minor units of ``currency``. ``id`` is the client's idempotency key."""

    type: ClassVar[str] = "place_bid"
    id: CommandId
    room: RoomId
    amount: Amount
    currency: Currency


@dataclass(frozen=True, slots=True)
class SetProxy:
    """Set (or raise) a proxy bid: the engine bids for the client up to ``max_amount``."""

    type: ClassVar[str] = "set_proxy"
    id: CommandId
    room: RoomId
    max_amount: Amount
    currency: Currency


@dataclass(frozen=True, slots=True)
class Buy:
    """Buy ``quantity`` units now: a flash-sale purchase or a Dutch-clock accept."""

    type: ClassVar[str] = "buy"
    id: CommandId
    room: RoomId
    quantity: Quantity


@dataclass(frozen=True, slots=True)
class Hold:
    """Reserve ``quantity`` units of a flash sale for the hold's time-to-live."""

    type: ClassVar[str] = "hold"
    id: CommandId
    room: RoomId
    quantity: Quantity


@dataclass(frozen=True, slots=True)
class Confirm:
    """Turn the hold ``hold_id`` into a purchase before it expires."""

    type: ClassVar[str] = "confirm"
    id: CommandId
    room: RoomId
    hold_id: CommandId


@dataclass(frozen=True, slots=True)
class SealedCommit:
    """Commit to a sealed bid: ``commitment`` is the hex SHA-256 of the bid and nonce."""

    type: ClassVar[str] = "sealed_commit"
    id: CommandId
    room: RoomId
    commitment: Commitment


@dataclass(frozen=True, slots=True)
class SealedReveal:
    """Reveal a committed sealed bid: the amount and the hex nonce hashed into it."""

    type: ClassVar[str] = "sealed_reveal"
    id: CommandId
    room: RoomId
    amount: Amount
    nonce: Nonce


@dataclass(frozen=True, slots=True)
class DrawEnter:
    """Enter a live draw with ``tickets`` entries (the draw's rules cap it)."""

    type: ClassVar[str] = "draw_enter"
    id: CommandId
    room: RoomId
    tickets: Tickets = 1


@dataclass(frozen=True, slots=True)
class Ping:
    """Liveness probe; the session answers ``pong`` with the same nonce by itself."""

    type: ClassVar[str] = "ping"
    nonce: PingNonce


# --------------------------------------------------------------------------- server


@dataclass(frozen=True, slots=True)
class Welcome:
    """Answer to ``hello``: session id, version in use, server clock (ms, UTC), user."""

    type: ClassVar[str] = "welcome"
    session_id: CommandId
    version: Version
    server_time: TimeMs
    user_id: CommandId | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """Command ``id`` was accepted and is durable; its event has sequence ``seq``."""

    type: ClassVar[str] = "ack"
    id: CommandId
    room: RoomId
    seq: Seq


@dataclass(frozen=True, slots=True)
class Reject:
    """Command ``id`` was refused with machine ``code``; retry after ``retry_after_ms``."""

    type: ClassVar[str] = "reject"
    id: CommandId
    code: Code
    message: HumanText
    retry_after_ms: TimeMs | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a room's log: sequence ``seq``, ``kind``, time (ms) and payload."""

    type: ClassVar[str] = "event"
    room: RoomId
    seq: Seq
    kind: Code
    time: TimeMs
    data: JsonObject


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A room's state as of sequence ``seq``; events after it follow."""

    type: ClassVar[str] = "snapshot"
    room: RoomId
    seq: Seq
    state: JsonObject


@dataclass(frozen=True, slots=True)
class Batch:
    """Several consecutive events of one room, coalesced into one frame.

    Each element is a complete ``event`` object, byte-identical to the event's own
    frame, so servers splice pre-encoded events and clients reuse one handler.
    """

    type: ClassVar[str] = "batch"
    room: RoomId
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Pong:
    """Answer to ``ping``, echoing its nonce."""

    type: ClassVar[str] = "pong"
    nonce: PingNonce


@dataclass(frozen=True, slots=True)
class Error:
    """A protocol or server error not tied to a command id."""

    type: ClassVar[str] = "error"
    code: Code
    message: HumanText


ClientMessage = (
    Hello
    | Subscribe
    | Unsubscribe
    | PlaceBid
    | SetProxy
    | Buy
    | Hold
    | Confirm
    | SealedCommit
    | SealedReveal
    | DrawEnter
    | Ping
)
ServerMessage = Welcome | Ack | Reject | Event | Snapshot | Batch | Pong | Error
Message = ClientMessage | ServerMessage

#: Client commands that act on a room and carry an idempotency ``id``.
RoomCommand = PlaceBid | SetProxy | Buy | Hold | Confirm | SealedCommit | SealedReveal | DrawEnter

CLIENT_MESSAGE_TYPES: tuple[type[Any], ...] = get_args(ClientMessage)
SERVER_MESSAGE_TYPES: tuple[type[Any], ...] = get_args(ServerMessage)
