"""Reverse auction / RFQ (Ariba, Oracle style): suppliers bid prices down, lowest wins.

* A supplier's offer (:class:`~bidding.base.PlaceBid`, ``amount`` = total price)
  must improve on its own previous offer by the minimum decrement, absolute
  (``decrement_mode="absolute"``: minor units) or relative
  (``"bps"``: basis points of the previous offer, rounded up). Raising one's own
  offer is refused with ``self_raise``; a too-small improvement with
  ``bid_too_high``. The first offer must not exceed ``ceiling`` (if set).
* ``decrement_from="best"`` (only with full feedback) also requires a supplier
  that is not leading to beat the best offer by the decrement.
* Lowest offer leads; equal offers: the earlier one leads.
* Feedback: ``full`` (a supplier sees the best offer) or ``rank_only`` (a supplier
  sees only its own rank); :func:`view_for` is what the server may show a
  supplier. The event log itself holds all offers (it is the audit trail); the
  server must show suppliers only their view.
* Overtime works like a soft close (:mod:`bidding.softclose`): only an offer that
  changes the best price or the leader extends.

Events: ``offer`` {supplier, amount, best, leader, end}; ``closed`` {awards}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, PlaceBid, register_format
from bidding.canonical import MAX_INT
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import bps_ceil, check_amount, check_currency
from bidding.softclose import CloseRule, close_keys, parse_close_params

__all__ = ["REVERSE", "ReverseFormat", "ReverseState", "view_for"]

OPEN = "open"
CLOSED = "closed"

_KEYS = (
    "currency",
    "host",
    "start",
    "end",
    "ceiling",
    "decrement_mode",
    "decrement",
    "decrement_from",
    "feedback",
)


@dataclass(slots=True)
class ReverseState:
    """Mutable state of one reverse auction."""

    params: dict[str, Any]
    rule: CloseRule
    status: str
    end: int
    leader: str | None = None
    best: int = 0
    #: supplier -> (amount, seq of the offer event)
    offers: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """Canonical form (the close rule is already in ``params``)."""
        return {
            "params": self.params,
            "status": self.status,
            "end": self.end,
            "leader": self.leader,
            "best": self.best,
            "offers": {k: list(v) for k, v in self.offers.items()},
        }


def _decrement(s: ReverseState, amount: int) -> int:
    p = s.params
    step: int = p["decrement"]
    return bps_ceil(amount, step) if p["decrement_mode"] == "bps" else step


def _check_offer(s: ReverseState, supplier: str, amount: int) -> tuple[int, str]:
    """(best, leader) after ``supplier`` offers ``amount``; raise Rejected if not allowed."""
    p = s.params
    prev = s.offers.get(supplier)
    if prev is not None:
        own = prev[0]
        if amount > own:
            raise Rejected(Code.SELF_RAISE, "a supplier cannot raise its own offer")
        limit = own - _decrement(s, own)
        if amount > limit:
            raise Rejected(Code.BID_TOO_HIGH, f"improve your offer to at most {limit}")
    elif p["ceiling"] is not None and amount > p["ceiling"]:
        raise Rejected(Code.BID_TOO_HIGH, f"the ceiling is {p['ceiling']}")
    leader = s.leader
    if leader is None:
        return amount, supplier
    if p["decrement_from"] == "best" and supplier != leader:
        limit = s.best - _decrement(s, s.best)
        if amount > limit:
            raise Rejected(Code.BID_TOO_HIGH, f"beat the best offer: at most {limit}")
    if amount < s.best:
        return amount, supplier
    return s.best, leader


def rank_of(state: ReverseState, supplier: str) -> int | None:
    """1-based rank of ``supplier`` (lowest offer first, earlier first), or None."""
    own = state.offers.get(supplier)
    if own is None:
        return None
    return 1 + sum(1 for other in state.offers.values() if other < own)


def view_for(state: ReverseState, supplier: str) -> dict[str, Any]:
    """What ``supplier`` may see now, according to the feedback mode."""
    own = state.offers.get(supplier)
    view: dict[str, Any] = {
        "status": state.status,
        "end": state.end,
        "your_offer": None if own is None else own[0],
        "rank": rank_of(state, supplier),
    }
    if state.params["feedback"] == "full":
        view["best"] = state.best if state.leader is not None else None
        view["leading"] = state.leader == supplier
        view["suppliers"] = len(state.offers)
    return view


class ReverseFormat:
    """The reverse-auction format object (stateless; use :data:`REVERSE`)."""

    kind = "reverse"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate; defaults: absolute decrement, own-offer improvement, full feedback."""
        unknown = set(params) - set(_KEYS) - set(close_keys())
        if unknown:
            raise InvalidParams(f"unknown reverse params: {sorted(unknown)}")
        host = params.get("host", "host")
        if not isinstance(host, str) or not host:
            raise InvalidParams("host must be a non-empty actor id")
        start = check_amount(params.get("start", 0), "start")
        end = check_amount(params.get("end"), "end")
        if end <= start:
            raise InvalidParams("end must be after start")
        ceiling = params.get("ceiling")
        if ceiling is not None:
            ceiling = check_amount(ceiling, "ceiling", minimum=1)
        mode = params.get("decrement_mode", "absolute")
        if mode not in ("absolute", "bps"):
            raise InvalidParams("decrement_mode must be 'absolute' or 'bps'")
        decrement = check_amount(params.get("decrement", 1), "decrement", minimum=1)
        if mode == "bps" and decrement > 10_000:
            raise InvalidParams("a decrement in basis points is at most 10000")
        feedback = params.get("feedback", "full")
        if feedback not in ("full", "rank_only"):
            raise InvalidParams("feedback must be 'full' or 'rank_only'")
        frm = params.get("decrement_from", "own")
        if frm not in ("own", "best"):
            raise InvalidParams("decrement_from must be 'own' or 'best'")
        if frm == "best" and feedback == "rank_only":
            raise InvalidParams("decrement_from='best' would leak the best offer in rank_only")
        out: dict[str, Any] = {
            "currency": check_currency(params.get("currency", "EUR")),
            "host": host,
            "start": start,
            "end": end,
            "ceiling": ceiling,
            "decrement_mode": mode,
            "decrement": decrement,
            "decrement_from": frm,
            "feedback": feedback,
        }
        parse_close_params(params, out, end)
        return out

    def initial(self, params: Mapping[str, Any]) -> ReverseState:
        """No offers yet."""
        p = dict(params)
        rule = parse_close_params(p, {}, p["end"])
        return ReverseState(p, rule, OPEN, p["end"])

    def decide(self, state: ReverseState, command: Command, now: int) -> list[NewEvent]:
        """Offers while open (current end), close after the end."""
        s = state
        if isinstance(command, PlaceBid):
            if s.status != OPEN or now >= s.end:
                raise Rejected(Code.CLOSED, "the auction has ended")
            if now < s.params["start"]:
                raise Rejected(Code.NOT_OPEN, "the auction has not started")
            if command.actor == s.params["host"]:
                raise Rejected(Code.FORBIDDEN, "the buyer cannot offer")
            amount = command.amount
            if type(amount) is not int or not 1 <= amount <= MAX_INT:
                raise Rejected(Code.INVALID_COMMAND, "amount must be a positive integer")
            best, leader = _check_offer(s, command.actor, amount)
            end = s.end
            if best != s.best or leader != s.leader:
                end = s.rule.extended_end(end, now)
            payload = {
                "supplier": command.actor,
                "amount": amount,
                "best": best,
                "leader": leader,
                "end": end,
            }
            return [("offer", payload)]
        if isinstance(command, Close):
            if s.status != OPEN:
                raise Rejected(Code.CLOSED, "already closed")
            if now < s.end:
                raise Rejected(Code.TOO_EARLY, f"the auction ends at {s.end}")
            return [("closed", {"awards": [a.to_dict() for a in self._awards(s)]})]
        name = type(command).__name__
        raise Rejected(Code.INVALID_COMMAND, f"reverse auctions do not take {name}")

    def _awards(self, s: ReverseState) -> list[Award]:
        return [] if s.leader is None else [Award(s.leader, s.best)]

    def evolve(self, state: ReverseState, event: Envelope) -> ReverseState:
        """Apply one event, re-checking the decrement, ranking and overtime rules."""
        s = state
        pl = event.payload
        if s.status != OPEN:
            raise InvalidTransition(f"seq {event.seq}: event after the close")
        if event.type == "offer":
            supplier = pl["supplier"]
            amount = pl["amount"]
            if (
                not s.params["start"] <= event.time < s.end
                or supplier != event.actor
                or supplier == s.params["host"]
            ):
                raise InvalidTransition(f"seq {event.seq}: offer outside the rules")
            try:
                best, leader = _check_offer(s, supplier, amount)
            except Rejected as exc:
                raise InvalidTransition(f"seq {event.seq}: offer breaks the rules: {exc}") from None
            end = s.end
            if best != s.best or leader != s.leader:
                end = s.rule.extended_end(end, event.time)
            if pl["best"] != best or pl["leader"] != leader or pl["end"] != end:
                raise InvalidTransition(f"seq {event.seq}: stated best/leader/end are wrong")
            s.offers[supplier] = (amount, event.seq)
            s.best = best
            s.leader = leader
            s.end = end
            return s
        if event.type == "closed":
            expected = [a.to_dict() for a in self._awards(s)]
            if event.time < s.end or pl["awards"] != expected:
                raise InvalidTransition(f"seq {event.seq}: wrong close")
            s.status = CLOSED
            return s
        raise InvalidTransition(f"seq {event.seq}: unknown reverse event {event.type!r}")

    def next_deadline(self, state: ReverseState) -> int | None:
        """The current (possibly extended) end while open."""
        return state.end if state.status == OPEN else None

    def result(self, state: ReverseState) -> list[Award] | None:
        """The lowest offer once closed (the buyer pays it to that supplier)."""
        return self._awards(state) if state.status == CLOSED else None

    def commitment(self, state: ReverseState, command: Command, now: int) -> int | None:
        """Offers are bids (velocity counts them) but commit the supplier to no spending."""
        return 0 if isinstance(command, PlaceBid) else None

    def exposure(self, state: ReverseState) -> dict[str, int]:
        """Suppliers sell; nobody's spending limit is engaged."""
        return {}

    def view_for(self, state: ReverseState, supplier: str) -> dict[str, Any]:
        """See :func:`view_for`."""
        return view_for(state, supplier)

    def public_event(self, params: Mapping[str, Any], event: Envelope) -> dict[str, Any] | None:
        """What a live room may show of an event (``None``: the generic redaction).

        An offer shows only the new end (and the best offer when the feedback is
        ``full``), never who offered what: suppliers learn the rest from ``view_for``."""
        if event.type != "offer":
            return None
        shown: dict[str, Any] = {"end": event.payload.get("end")}
        if params.get("feedback") == "full":
            shown["best"] = event.payload.get("best")
        return shown


#: The reverse-auction format singleton, registered under ``"reverse"``.
REVERSE = ReverseFormat()
register_format(REVERSE)
