"""The protocol's one error tree.

Errors are split by who caused them, like h11's Local/Remote pair::

    ProtocolError                     code                     close  fatal
    ├── LocalProtocolError            local_error              1011   yes
    │   ├── InvalidState              invalid_state            1011   yes
    │   ├── EncodeError               encode_error             1011   no
    │   └── BatchTooLarge             batch_too_large          1011   no
    └── RemoteProtocolError           remote_error             1002   no
        ├── BadFrame                  bad_frame                1007   no
        ├── UnsupportedFrame          unsupported_frame        1003   no
        ├── FrameTooLarge             frame_too_large          1009   no
        ├── InvalidMessage            invalid_message          1008   no
        │   ├── UnknownType           unknown_type             1008   no
        │   ├── MissingField          missing_field            1008   no
        │   ├── UnexpectedField       unexpected_field         1008   no
        │   └── InvalidField          invalid_field            1008   no
        ├── UnexpectedMessage         unexpected_message       1008   no
        ├── HelloRequired             hello_required           1008   no
        ├── UnsupportedVersion        unsupported_version      4001   yes
        ├── UnsupportedSubprotocol    unsupported_subprotocol  1002   yes
        ├── NotSubscribed             not_subscribed           4004   no
        ├── TooManyRooms              too_many_rooms           4005   no
        ├── TooManyErrors             too_many_errors          1008   yes
        └── SlowConsumer              slow_consumer            4008   yes

Local errors mean our own code misused the API (a bug here, never the peer's fault);
remote errors mean the peer sent something the protocol does not allow. Each class's
docstring says when it is raised.

Each class carries a stable machine ``code`` (sent to the peer in ``error``/``reject``
frames), a WebSocket ``close_code`` hint for when the connection is closed because of it
(server/errors.py owns the final mapping), and ``fatal``: whether the session closes.
A client's mistake is never fatal unless it is repeated past ``MAX_PROTOCOL_ERRORS``, the
client cannot be spoken to (unsupported version) or cannot keep up (slow consumer).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadFrame",
    "BatchTooLarge",
    "EncodeError",
    "FrameTooLarge",
    "HelloRequired",
    "InvalidField",
    "InvalidMessage",
    "InvalidState",
    "LocalProtocolError",
    "MissingField",
    "NotSubscribed",
    "ProtocolError",
    "RemoteProtocolError",
    "SlowConsumer",
    "TooManyErrors",
    "TooManyRooms",
    "UnexpectedField",
    "UnexpectedMessage",
    "UnknownType",
    "UnsupportedFrame",
    "UnsupportedSubprotocol",
    "UnsupportedVersion",
]


class ProtocolError(Exception):
    """Base of every error the protocol package raises.

    ``field`` names the offending message field when there is one; ``command_id`` is
    the client's command id when it could be read from the bad frame, so that the reply
    can be a ``reject`` the client can match to its command instead of a bare ``error``.
    """

    code: ClassVar[str] = "protocol_error"
    close_code: ClassVar[int] = 1002
    fatal: ClassVar[bool] = False

    def __init__(self, message: str, *, field: str | None = None, command_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.command_id = command_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class LocalProtocolError(ProtocolError):
    """Our side misused the protocol (a bug in the caller, not the peer's fault)."""

    code = "local_error"
    close_code = 1011
    fatal = True


class InvalidState(LocalProtocolError, AssertionError):
    """An operation was attempted in a session state that does not allow it.

    Also an ``AssertionError``: it always means the calling code is wrong.
    """

    code = "invalid_state"


class EncodeError(LocalProtocolError):
    """A message could not be encoded (for example an integer beyond 64 bits)."""

    code = "encode_error"
    fatal = False


class BatchTooLarge(LocalProtocolError):
    """A batch frame would hold more than ``limits.MAX_BATCH_EVENTS`` events."""

    code = "batch_too_large"
    fatal = False


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""

    code = "remote_error"


class BadFrame(RemoteProtocolError):
    """The frame is not decodable: broken msgpack or JSON, invalid UTF-8, trailing data."""

    code = "bad_frame"
    close_code = 1007


class UnsupportedFrame(RemoteProtocolError):
    """A text frame arrived on the binary (msgpack) subprotocol."""

    code = "unsupported_frame"
    close_code = 1003


class FrameTooLarge(RemoteProtocolError):
    """The frame is larger than the limit; it is rejected before parsing."""

    code = "frame_too_large"
    close_code = 1009


class InvalidMessage(RemoteProtocolError):
    """The frame decoded, but it is not a message object with a string ``type``."""

    code = "invalid_message"
    close_code = 1008


class UnknownType(InvalidMessage):
    """The ``type`` tag names no message the receiver accepts."""

    code = "unknown_type"


class MissingField(InvalidMessage):
    """A required field is absent."""

    code = "missing_field"


class UnexpectedField(InvalidMessage):
    """A field the message does not define is present."""

    code = "unexpected_field"


class InvalidField(InvalidMessage):
    """A field has the wrong type (``true`` is not an integer), range, length or form."""

    code = "invalid_field"


class UnexpectedMessage(RemoteProtocolError):
    """A valid message that is not allowed at this point (for example a second hello)."""

    code = "unexpected_message"
    close_code = 1008


class HelloRequired(RemoteProtocolError):
    """A message other than ``hello`` or ``ping`` arrived before ``hello``."""

    code = "hello_required"
    close_code = 1008


class UnsupportedVersion(RemoteProtocolError):
    """``hello`` asked for a protocol version this server does not speak."""

    code = "unsupported_version"
    close_code = 4001
    fatal = True


class UnsupportedSubprotocol(RemoteProtocolError):
    """The client asked for a WebSocket subprotocol this server has no codec for."""

    code = "unsupported_subprotocol"
    close_code = 1002
    fatal = True


class NotSubscribed(RemoteProtocolError):
    """A room command or ``unsubscribe`` named a room the session has not subscribed to."""

    code = "not_subscribed"
    close_code = 4004


class TooManyRooms(RemoteProtocolError):
    """``subscribe`` would exceed ``limits.MAX_ROOMS_PER_SESSION``."""

    code = "too_many_rooms"
    close_code = 4005


class TooManyErrors(RemoteProtocolError):
    """The peer made more than ``limits.MAX_PROTOCOL_ERRORS`` protocol errors."""

    code = "too_many_errors"
    close_code = 1008
    fatal = True


class SlowConsumer(RemoteProtocolError):
    """The peer does not read fast enough: the session's send queue is full.

    Raised by ``Session.send``; the frame is not queued. The server either switches the
    client to snapshot mode (drain, then send a fresh snapshot) or closes with 4008.
    """

    code = "slow_consumer"
    close_code = 4008
    fatal = True
