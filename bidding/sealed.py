"""Sealed-bid auction, first-price or second-price (Vickrey), with commit–reveal.

Phases (times in ms, from params): commit ``[start, end)``, reveal
``[end, reveal_end)``, then :class:`~bidding.base.Close` at or after
``reveal_end``. During the commit phase a bidder sends only a commitment, so not
even the operator sees amounts before the close::

    commitment = hex(SHA-256( amount  as 8-byte unsigned big-endian
                             || nonce  as 32 raw bytes (sent as 64 hex chars)
                             || len(bidder)  as 2-byte big-endian || bidder  UTF-8
                             || len(auction) as 2-byte big-endian || auction UTF-8 ))

``auction`` is the ``auction`` param (the stream id, checked on every event).
The length prefixes make the layout unambiguous. A reveal that does not match
its commitment is rejected (``bad_commitment``) and changes nothing; a bidder
who has not revealed a matching amount by ``reveal_end`` loses.

Winner: the highest revealed amount at or above ``reserve`` (a public minimum,
default 1); equal amounts: the earlier commitment wins. Price: ``first``: the
winner's amount; ``second``: the highest other eligible amount, or the reserve
if that is higher or there is none.

Events: ``committed`` {bidder, commitment}; ``revealed`` {bidder, amount, nonce};
``closed`` {awards, unrevealed: [bidders]}.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, register_format
from bidding.canonical import MAX_INT
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import check_amount, check_currency

__all__ = [
    "SEALED",
    "Commit",
    "Reveal",
    "SealedFormat",
    "SealedState",
    "sealed_commitment",
]

OPEN = "open"
CLOSED = "closed"

_KEYS = ("currency", "host", "auction", "mode", "reserve", "start", "end", "reveal_end")
_HEX = frozenset("0123456789abcdef")


def _is_hex32(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def sealed_commitment(amount: int, nonce: str, bidder: str, auction: str) -> str:
    """The commitment for a sealed bid (layout in the module docstring).

    ``nonce`` is 64 lower-case hex characters (32 random bytes chosen by the bidder).
    """
    if not 0 <= amount <= MAX_INT:
        raise ValueError("amount out of range")
    if not _is_hex32(nonce):
        raise ValueError("nonce must be 64 lower-case hex characters")
    b = bidder.encode()
    a = auction.encode()
    if len(b) > 0xFFFF or len(a) > 0xFFFF:
        raise ValueError("bidder or auction id too long")
    data = (
        amount.to_bytes(8, "big")
        + bytes.fromhex(nonce)
        + len(b).to_bytes(2, "big")
        + b
        + len(a).to_bytes(2, "big")
        + a
    )
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit to a sealed bid (only the hash travels)."""

    command_id: str
    actor: str
    commitment: str


@dataclass(frozen=True, slots=True)
class Reveal:
    """Reveal the amount and nonce behind an earlier commitment."""

    command_id: str
    actor: str
    amount: int
    nonce: str


@dataclass(slots=True)
class SealedState:
    """Mutable state of one sealed-bid auction."""

    params: dict[str, Any]
    status: str
    #: bidder -> (commitment, seq of the commit event)
    commits: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: bidder -> revealed amount (only matching reveals)
    reveals: dict[str, int] = field(default_factory=dict)


def _ranking(s: SealedState) -> list[tuple[str, int]]:
    """Eligible (bidder, amount), best first: amount desc, earlier commit first."""
    reserve: int = s.params["reserve"]
    eligible = [(b, a) for b, a in s.reveals.items() if a >= reserve]
    eligible.sort(key=lambda ba: (-ba[1], s.commits[ba[0]][1]))
    return eligible


def _awards(s: SealedState) -> list[Award]:
    ranking = _ranking(s)
    if not ranking:
        return []
    winner, amount = ranking[0]
    if s.params["mode"] == "first":
        return [Award(winner, amount)]
    reserve: int = s.params["reserve"]
    second = ranking[1][1] if len(ranking) > 1 else reserve
    return [Award(winner, max(second, reserve))]


class SealedFormat:
    """The sealed-bid format object (stateless; use :data:`SEALED`)."""

    kind = "sealed"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate; ``mode`` is ``"first"`` (default) or ``"second"`` (Vickrey)."""
        unknown = set(params) - set(_KEYS)
        if unknown:
            raise InvalidParams(f"unknown sealed params: {sorted(unknown)}")
        host = params.get("host", "host")
        auction = params.get("auction")
        if not isinstance(host, str) or not host:
            raise InvalidParams("host must be a non-empty actor id")
        if not isinstance(auction, str) or not auction:
            raise InvalidParams("auction (the id bids commit to) is required")
        mode = params.get("mode", "first")
        if mode not in ("first", "second"):
            raise InvalidParams("mode must be 'first' or 'second'")
        start = check_amount(params.get("start", 0), "start")
        end = check_amount(params.get("end"), "end")
        reveal_end = check_amount(params.get("reveal_end"), "reveal_end")
        if not start < end < reveal_end:
            raise InvalidParams("need start < end < reveal_end")
        return {
            "currency": check_currency(params.get("currency", "EUR")),
            "host": host,
            "auction": auction,
            "mode": mode,
            "reserve": check_amount(params.get("reserve", 1), "reserve", minimum=1),
            "start": start,
            "end": end,
            "reveal_end": reveal_end,
        }

    def initial(self, params: Mapping[str, Any]) -> SealedState:
        """No commitments yet."""
        return SealedState(dict(params), OPEN)

    def decide(self, state: SealedState, command: Command, now: int) -> list[NewEvent]:
        """Commit during bidding, reveal after it, close after the reveal phase."""
        s = state
        p = s.params
        if isinstance(command, Commit):
            if s.status != OPEN or now >= p["end"]:
                raise Rejected(Code.CLOSED, "bidding has ended")
            if now < p["start"]:
                raise Rejected(Code.NOT_OPEN, "bidding has not started")
            if command.actor == p["host"]:
                raise Rejected(Code.FORBIDDEN, "the host cannot bid")
            if not _is_hex32(command.commitment):
                raise Rejected(Code.BAD_COMMITMENT, "a commitment is 64 lower-case hex chars")
            if command.actor in s.commits:
                raise Rejected(Code.ALREADY_BID, "one sealed bid per bidder")
            return [("committed", {"bidder": command.actor, "commitment": command.commitment})]
        if isinstance(command, Reveal):
            if s.status != OPEN or now >= p["reveal_end"]:
                raise Rejected(Code.CLOSED, "the reveal phase has ended")
            if now < p["end"]:
                raise Rejected(Code.NOT_OPEN, "reveals open when bidding ends")
            entry = s.commits.get(command.actor)
            if entry is None:
                raise Rejected(Code.NOT_FOUND, "no commitment by this bidder")
            if command.actor in s.reveals:
                raise Rejected(Code.ALREADY_BID, "already revealed")
            amount = command.amount
            if type(amount) is not int or not 0 <= amount <= MAX_INT:
                raise Rejected(Code.INVALID_COMMAND, "amount must be an integer of minor units")
            if not _is_hex32(command.nonce):
                raise Rejected(Code.BAD_COMMITMENT, "the nonce is 64 lower-case hex chars")
            if sealed_commitment(amount, command.nonce, command.actor, p["auction"]) != entry[0]:
                raise Rejected(Code.BAD_COMMITMENT, "amount and nonce do not match the commitment")
            payload = {"bidder": command.actor, "amount": amount, "nonce": command.nonce}
            return [("revealed", payload)]
        if isinstance(command, Close):
            if s.status != OPEN:
                raise Rejected(Code.CLOSED, "already closed")
            if now < p["reveal_end"]:
                raise Rejected(Code.TOO_EARLY, f"the reveal phase ends at {p['reveal_end']}")
            return [("closed", self._closing_payload(s))]
        name = type(command).__name__
        raise Rejected(Code.INVALID_COMMAND, f"sealed auctions do not take {name}")

    def _closing_payload(self, s: SealedState) -> dict[str, Any]:
        return {
            "awards": [a.to_dict() for a in _awards(s)],
            "unrevealed": sorted(set(s.commits) - set(s.reveals)),
        }

    def evolve(self, state: SealedState, event: Envelope) -> SealedState:
        """Apply one event; reveals are re-hashed, so a forged amount cannot replay."""
        s = state
        p = s.params
        pl = event.payload
        t = event.time
        if s.status != OPEN or event.stream_id != p["auction"]:
            raise InvalidTransition(f"seq {event.seq}: event after close or for another auction")
        if event.type == "committed":
            bidder = pl["bidder"]
            if (
                not p["start"] <= t < p["end"]
                or bidder != event.actor
                or bidder == p["host"]
                or bidder in s.commits
                or not _is_hex32(pl["commitment"])
            ):
                raise InvalidTransition(f"seq {event.seq}: invalid commitment")
            s.commits[bidder] = (pl["commitment"], event.seq)
            return s
        if event.type == "revealed":
            bidder = pl["bidder"]
            entry = s.commits.get(bidder)
            if (
                not p["end"] <= t < p["reveal_end"]
                or bidder != event.actor
                or entry is None
                or bidder in s.reveals
                or not _is_hex32(pl["nonce"])
                or sealed_commitment(pl["amount"], pl["nonce"], bidder, p["auction"]) != entry[0]
            ):
                raise InvalidTransition(f"seq {event.seq}: reveal does not match")
            s.reveals[bidder] = pl["amount"]
            return s
        if event.type == "closed":
            if t < p["reveal_end"] or dict(pl) != self._closing_payload(s):
                raise InvalidTransition(f"seq {event.seq}: wrong close")
            s.status = CLOSED
            return s
        raise InvalidTransition(f"seq {event.seq}: unknown sealed event {event.type!r}")

    def next_deadline(self, state: SealedState) -> int | None:
        """The end of the reveal phase while open."""
        return int(state.params["reveal_end"]) if state.status == OPEN else None

    def result(self, state: SealedState) -> list[Award] | None:
        """Recomputed from the revealed amounts once closed."""
        return _awards(state) if state.status == CLOSED else None

    def commitment(self, state: SealedState, command: Command, now: int) -> int | None:
        """Amounts are hidden until the reveal, so limits apply to the reveal (its
        amount is the most the bidder can owe); a commit counts as a bid for velocity."""
        if isinstance(command, Reveal):
            return command.amount if type(command.amount) is int else 0
        if isinstance(command, Commit):
            return 0
        return None

    def exposure(self, state: SealedState) -> dict[str, int]:
        """Revealed amounts while open (any may win); the winner's price once closed."""
        if state.status == OPEN:
            return dict(state.reveals)
        return {a.bidder: a.price for a in _awards(state)}


#: The sealed-bid format singleton, registered under ``"sealed"``.
SEALED = SealedFormat()
register_format(SEALED)
