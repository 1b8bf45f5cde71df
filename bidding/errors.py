"""One documented error tree for the bidding core.

Why a tree: the engine and the server need to tell *a client's mistake* (a
:class:`Rejected` command, answered with a stable machine code) apart from *a
corrupted log* (:class:`SequenceError`, :class:`ChainError`,
:class:`InvalidTransition`), which must never be shown to a client as its own
fault and usually means stopping the actor.

::

    BiddingError
    ├── Rejected            a command was refused; ``code`` is stable (see Code)
    ├── InvalidParams       auction parameters are malformed (also a ValueError)
    ├── SequenceError       an event's seq is not version + 1 (gap or duplicate)
    ├── ChainError          an event's prev_hash / hash does not match the chain
    ├── InvalidTransition   an event is not a legal step from the current state
    └── TranscriptError     a transcript document is malformed
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BiddingError",
    "ChainError",
    "Code",
    "InvalidParams",
    "InvalidTransition",
    "Rejected",
    "SequenceError",
    "TranscriptError",
]


class Code(StrEnum):
    """Stable rejection codes. Values are part of the public contract: never rename.

    The server maps each code to an HTTP status / WebSocket close code in one table.
    """

    #: The bid (or max) is below the minimum acceptable amount right now.
    BID_TOO_LOW = "bid_too_low"
    #: A reverse-auction offer is not low enough (above the required decrement).
    BID_TOO_HIGH = "bid_too_high"
    #: The auction has not started yet (``now < start``).
    NOT_OPEN = "not_open"
    #: The auction is closed (``now >= current end``, or already awarded).
    CLOSED = "closed"
    #: The current leader tried to outbid themselves, or a supplier raised its own offer.
    SELF_RAISE = "self_raise"
    #: The command would take the bidder over their spending limit.
    OVER_LIMIT = "over_limit"
    #: Velocity rule: too many bids by this bidder within the window.
    RATE_LIMITED = "rate_limited"
    #: A sealed-bid reveal does not match its commitment (or a commitment is malformed).
    BAD_COMMITMENT = "bad_commitment"
    #: The referenced bid, bidder, order or hold does not exist.
    NOT_FOUND = "not_found"
    #: The command is malformed or not valid for this format / phase.
    INVALID_COMMAND = "invalid_command"
    #: Nothing left to sell (Dutch lots, flash-sale stock).
    SOLD_OUT = "sold_out"
    #: A flash-sale hold has expired.
    HOLD_EXPIRED = "hold_expired"
    #: The actor is not allowed to issue this command (e.g. a bidder closing the auction).
    FORBIDDEN = "forbidden"
    #: The same command id was reused for a different command.
    DUPLICATE_COMMAND_ID = "duplicate_command_id"
    #: Buy-it-now is no longer available.
    BUY_NOW_UNAVAILABLE = "buy_now_unavailable"
    #: The bidder already has a bid/commitment where only one is allowed.
    ALREADY_BID = "already_bid"
    #: A per-buyer quantity limit would be exceeded.
    LIMIT_EXCEEDED = "limit_exceeded"
    #: The command arrived too early for a timer (e.g. Close before the end).
    TOO_EARLY = "too_early"


class BiddingError(Exception):
    """Base of every error raised by :mod:`bidding`."""


class Rejected(BiddingError):
    """A command was refused. Nothing changed; no event was produced.

    ``code`` is one of :class:`Code` (a ``str``, stable across versions);
    ``message`` is for humans and may change. Two rejections are equal when code
    and message are equal, which lets idempotent retries return "the same" rejection.
    """

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = str(code)
        self.message = message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rejected):
            return NotImplemented
        return self.code == other.code and self.message == other.message

    def __hash__(self) -> int:
        return hash((self.code, self.message))

    def __repr__(self) -> str:
        return f"Rejected({self.code!r}, {self.message!r})"


class InvalidParams(BiddingError, ValueError):
    """Auction parameters are malformed (negative prices, unsorted tables, ...)."""


class SequenceError(BiddingError):
    """An event's ``seq`` is not ``version + 1``: a gap or a duplicate in the log."""


class ChainError(BiddingError):
    """An event's ``prev_hash`` is not the previous event's hash, or its hash is wrong."""


class InvalidTransition(BiddingError):
    """An event is not a legal step from the current state (a forged or corrupt log)."""


class TranscriptError(BiddingError):
    """A transcript document is malformed (missing fields, wrong version, floats...)."""
