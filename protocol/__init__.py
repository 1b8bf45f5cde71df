"""fairlot wire protocol: message catalogue, codecs and a sans-I/O session.

Pure: no I/O, no clock, no asyncio. ``server/ws.py`` drives it.

Session (one per connection; see ``protocol.session`` for the full contract)::

    session = Session(codec_for_subprotocol(negotiated))
    session.receive_data(payload)                  # bytes or str, one WebSocket message
    for event in session.events_received():        # drains
        match event:
            case Hello(token=token): ...           # then session.send(Welcome(...))
            case Subscribe(room=room, since=since): ...
            case PlaceBid(id=cid, room=room, amount=amount, currency=cur): ...
            case RemoteProtocolError():  ...       # already answered on the wire; log it
    session.send(Ack(id=cid, room=room, seq=seq))  # raises SlowConsumer when the queue is full
    session.send_frame(event_frame)                # pre-encoded fan-out frame
    for frame in session.data_to_send():           # list[bytes | str], drains
        ...                                        # bytes -> binary frame, str -> text frame
    if session.state is SessionState.CLOSING:      # fatal error or session.close()
        ...                                        # close the socket with session.close_code
    session.connection_lost()                      # transport gone -> CLOSED

Codecs (built once, shared)::

    codec = codec_for_subprotocol("fairlot.v1.msgpack")   # or "fairlot.v1.json", None -> JSON
    frame = codec.encode(msg)          # bytes (msgpack, binary frame) or str (JSON, text frame)
    msg = codec.decode(frame)          # strict ClientMessage, or a RemoteProtocolError subclass
    event_frame = codec.encode_event(room, seq, kind, time_ms, data)  # encode once, fan out
    batch_frame = codec.encode_batch(room, [event_frame, ...])        # splice, no re-encode
"""

from protocol import limits
from protocol.codec import (
    DEFAULT_SUBPROTOCOL,
    JSON,
    JSON_SUBPROTOCOL,
    MSGPACK,
    MSGPACK_SUBPROTOCOL,
    SUBPROTOCOLS,
    AnyCodec,
    Codec,
    Frame,
    JsonCodec,
    MsgpackCodec,
    codec_for_subprotocol,
    select_subprotocol,
)
from protocol.errors import (
    BadFrame,
    BatchTooLarge,
    EncodeError,
    FrameTooLarge,
    HelloRequired,
    InvalidField,
    InvalidMessage,
    InvalidState,
    LocalProtocolError,
    MissingField,
    NotSubscribed,
    ProtocolError,
    RemoteProtocolError,
    SlowConsumer,
    TooManyErrors,
    TooManyRooms,
    UnexpectedField,
    UnexpectedMessage,
    UnknownType,
    UnsupportedFrame,
    UnsupportedSubprotocol,
    UnsupportedVersion,
)
from protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    Ack,
    Batch,
    Buy,
    ClientMessage,
    Confirm,
    DrawEnter,
    Error,
    Event,
    Hello,
    Hold,
    Message,
    Ping,
    PlaceBid,
    Pong,
    Reject,
    RoomCommand,
    SealedCommit,
    SealedReveal,
    ServerMessage,
    SetProxy,
    Snapshot,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from protocol.session import ReceivedEvent, Session, SessionStatistics
from protocol.states import RECEIVABLE, SENDABLE, TRANSITIONS, SessionState, Trigger

__all__ = [
    "CLIENT_MESSAGE_TYPES",
    "DEFAULT_SUBPROTOCOL",
    "JSON",
    "JSON_SUBPROTOCOL",
    "MSGPACK",
    "MSGPACK_SUBPROTOCOL",
    "RECEIVABLE",
    "SENDABLE",
    "SERVER_MESSAGE_TYPES",
    "SUBPROTOCOLS",
    "TRANSITIONS",
    "Ack",
    "AnyCodec",
    "BadFrame",
    "Batch",
    "BatchTooLarge",
    "Buy",
    "ClientMessage",
    "Codec",
    "Confirm",
    "DrawEnter",
    "EncodeError",
    "Error",
    "Event",
    "Frame",
    "FrameTooLarge",
    "Hello",
    "HelloRequired",
    "Hold",
    "InvalidField",
    "InvalidMessage",
    "InvalidState",
    "JsonCodec",
    "LocalProtocolError",
    "Message",
    "MissingField",
    "MsgpackCodec",
    "NotSubscribed",
    "Ping",
    "PlaceBid",
    "Pong",
    "ProtocolError",
    "ReceivedEvent",
    "Reject",
    "RemoteProtocolError",
    "RoomCommand",
    "SealedCommit",
    "SealedReveal",
    "ServerMessage",
    "Session",
    "SessionState",
    "SessionStatistics",
    "SetProxy",
    "SlowConsumer",
    "Snapshot",
    "Subscribe",
    "TooManyErrors",
    "TooManyRooms",
    "Trigger",
    "UnexpectedField",
    "UnexpectedMessage",
    "UnknownType",
    "Unsubscribe",
    "UnsupportedFrame",
    "UnsupportedSubprotocol",
    "UnsupportedVersion",
    "Welcome",
    "codec_for_subprotocol",
    "limits",
    "select_subprotocol",
]
