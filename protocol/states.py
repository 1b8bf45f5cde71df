"""Session states and their transitions, as data (h11's ``EVENT_TRIGGERED_TRANSITIONS``).

::

    CONNECTING --recv hello--> HANDSHAKE --send welcome--> OPEN
        |                          |                         |
        +---------- close ---------+----------- close -------+--> CLOSING
        +------------------- connection lost ------------------------------> CLOSED

``RECEIVABLE`` and ``SENDABLE`` say which message tags may cross the wire in each state.
The session consults these tables and nothing else, so the rules can be read (and
documented, and tested) in one place.
"""

from __future__ import annotations

import enum
from typing import Final

from protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES

__all__ = [
    "RECEIVABLE",
    "SENDABLE",
    "TRANSITIONS",
    "SessionState",
    "Trigger",
    "next_state",
]


class SessionState(enum.Enum):
    """Where a session is in its life."""

    CONNECTING = "connecting"  # transport open, waiting for the client's hello
    HANDSHAKE = "handshake"  # hello received, the server has not sent welcome yet
    OPEN = "open"  # welcome sent: rooms, commands and events flow
    CLOSING = "closing"  # close decided locally; only queued frames still go out
    CLOSED = "closed"  # transport gone


class Trigger(enum.Enum):
    """What moves a session from one state to another."""

    RECV_HELLO = "recv_hello"
    SEND_WELCOME = "send_welcome"
    CLOSE = "close"  # Session.close(), or a fatal protocol error
    CONNECTION_LOST = "connection_lost"


_S = SessionState
_T = Trigger

TRANSITIONS: Final[dict[tuple[SessionState, Trigger], SessionState]] = {
    (_S.CONNECTING, _T.RECV_HELLO): _S.HANDSHAKE,
    (_S.HANDSHAKE, _T.SEND_WELCOME): _S.OPEN,
    (_S.CONNECTING, _T.CLOSE): _S.CLOSING,
    (_S.HANDSHAKE, _T.CLOSE): _S.CLOSING,
    (_S.OPEN, _T.CLOSE): _S.CLOSING,
    (_S.CLOSING, _T.CLOSE): _S.CLOSING,
    (_S.CONNECTING, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.HANDSHAKE, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.OPEN, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.CLOSING, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.CLOSED, _T.CONNECTION_LOST): _S.CLOSED,
}

_ALL_CLIENT: Final = frozenset(cls.type for cls in CLIENT_MESSAGE_TYPES)
_ALL_SERVER: Final = frozenset(cls.type for cls in SERVER_MESSAGE_TYPES)
_REPLIES: Final = frozenset({"error", "reject", "pong"})

#: Client message tags accepted in each state. Frames arriving in CLOSING are dropped
#: unread; feeding data to a CLOSED session is a local error.
RECEIVABLE: Final[dict[SessionState, frozenset[str]]] = {
    _S.CONNECTING: frozenset({"hello", "ping"}),
    _S.HANDSHAKE: _ALL_CLIENT - {"hello"},  # clients may pipeline commands after hello
    _S.OPEN: _ALL_CLIENT - {"hello"},
    _S.CLOSING: frozenset(),
    _S.CLOSED: frozenset(),
}

#: Server message tags that may be sent in each state. Sends in CLOSING and CLOSED are
#: discarded (a room may fan out to a session that is on its way out).
SENDABLE: Final[dict[SessionState, frozenset[str]]] = {
    _S.CONNECTING: _REPLIES,
    _S.HANDSHAKE: _REPLIES | {"welcome"},
    _S.OPEN: _ALL_SERVER - {"welcome"},
    _S.CLOSING: frozenset(),
    _S.CLOSED: frozenset(),
}


def next_state(state: SessionState, trigger: Trigger) -> SessionState | None:
    """The state ``trigger`` leads to from ``state``, or None if it is not allowed."""
    return TRANSITIONS.get((state, trigger))
