"""English ascending auction with proxy (max) bids, eBay style.

Rules (docs/formats.md has the full table):

* A bid is a *max*: the engine bids on the bidder's behalf up to it.
  price = min(leader's max, second max + increment(second max)), never above the
  leader's max; the first bid sets the price to ``opening``.
* A challenger must bid at least ``price + increment(price)``; a challenger whose
  max does not exceed the leader's max loses and only pushes the price up. Equal
  maxima: the earlier one leads.
* The leader may raise their own max; that never raises the price (no bidding
  against oneself), except that when the raise meets the hidden reserve the
  price jumps to the reserve. A leader cannot lower their max.
* Hidden reserve: ``reserve_met`` is public, the amount is not (the server must
  redact ``params.reserve`` and bid maxima from live views; transcripts, published
  after the close, contain them so anyone can recompute).
* Buy-it-now at ``buy_now`` while available: until the first bid
  (``buy_now_until="first_bid"``) or until the reserve is met (``"reserve_met"``).
* Hard or soft close (:mod:`bidding.softclose`): only an accepted bid that changes
  the price or the leader extends; every time check uses the current end.
* The host may retract a bid with a reason; price and leader are recomputed from
  the remaining maxima (so the price may go down).

Events (payloads):

``bid``        {bidder, max, price, leader, reserve_met, end}: ``end`` is the end
               after this bid (larger than before when it extended the close).
``bought``     {bidder, price}: buy-it-now; the auction is over.
``retracted``  {bidder, reason, price, leader, reserve_met}
``closed``     {awards: [{bidder, price, quantity}], price, reserve_met}

``evolve`` recomputes every derived value from the bid inputs and refuses an
event whose stated price, leader, end or award differs, so replaying a log is
also a check that the rules were applied.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bidding import base
from bidding.base import (
    Award,
    Close,
    Command,
    FastHandle,
    NewEvent,
    PlaceBid,
    Retract,
    Stream,
    register_format,
)
from bidding.canonical import MAX_INT
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope, SealedEnvelope
from bidding.money import EBAY_US, IncrementTable, check_amount, check_currency
from bidding.softclose import CloseRule, close_keys, parse_close_params

try:
    from bidding import _fast
except ImportError:  # pragma: no cover - tests/bidding/test_fast.py::test_fast_path_is_built fails then
    _fast = None  # type: ignore[assignment]

__all__ = ["ENGLISH", "BuyNow", "EnglishFormat", "EnglishParams", "EnglishState"]

OPEN = "open"
CLOSED = "closed"

_BASE_KEYS = (
    "currency",
    "host",
    "opening",
    "increments",
    "reserve",
    "buy_now",
    "buy_now_until",
    "start",
    "end",
)


@dataclass(frozen=True, slots=True)
class BuyNow:
    """Buy the lot at the buy-it-now price, if still available."""

    command_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class EnglishParams:
    """Validated parameters (the normal form is :meth:`EnglishFormat.normalize_params`)."""

    currency: str
    host: str
    opening: int
    increments: IncrementTable
    reserve: int | None
    buy_now: int | None
    buy_now_until_reserve: bool
    start: int
    end: int
    close: CloseRule
    #: ``increments`` unpacked for the hot path (see :class:`IncrementTable`).
    inc_bounds: tuple[int, ...]
    inc_steps: tuple[int, ...]

    def to_data(self) -> dict[str, Any]:
        """Canonical form (the state hash covers the params through this)."""
        return {
            "currency": self.currency,
            "host": self.host,
            "opening": self.opening,
            "increments": self.increments.to_data(),
            "reserve": self.reserve,
            "buy_now": self.buy_now,
            "buy_now_until_reserve": self.buy_now_until_reserve,
            "start": self.start,
            "end": self.end,
            "close": [
                self.close.soft,
                self.close.window,
                self.close.extension,
                self.close.reset,
                self.close.cap,
            ],
        }


@dataclass(slots=True)
class EnglishState:
    """Mutable state of one English auction (one writer: its stream)."""

    params: EnglishParams
    status: str
    end: int
    price: int
    leader: str | None
    leader_max: int
    reserve_met: bool
    #: bidder -> [max, seq of the event that set it]; ties go to the lower seq.
    maxima: dict[str, tuple[int, int]]
    bids: int
    buyer: str | None


def _parse(params: Mapping[str, Any]) -> tuple[EnglishParams, dict[str, Any]]:
    unknown = set(params) - set(_BASE_KEYS) - set(close_keys())
    if unknown:
        raise InvalidParams(f"unknown English params: {sorted(unknown)}")
    out: dict[str, Any] = {}
    currency = out["currency"] = check_currency(params.get("currency", "EUR"))
    host = params.get("host", "host")
    if not isinstance(host, str) or not host:
        raise InvalidParams("host must be a non-empty actor id")
    out["host"] = host
    opening = out["opening"] = check_amount(params.get("opening"), "opening", minimum=1)
    rows = params.get("increments")
    table = IncrementTable(EBAY_US if rows is None else rows)
    out["increments"] = table.to_data()
    reserve = params.get("reserve")
    if reserve is not None:
        reserve = check_amount(reserve, "reserve", minimum=1)
    out["reserve"] = reserve
    buy_now = params.get("buy_now")
    if buy_now is not None:
        buy_now = check_amount(buy_now, "buy_now", minimum=1)
        if buy_now < opening or (reserve is not None and buy_now < reserve):
            raise InvalidParams("buy_now must be at least the opening price and the reserve")
    out["buy_now"] = buy_now
    until = params.get("buy_now_until", "first_bid")
    if until not in ("first_bid", "reserve_met"):
        raise InvalidParams("buy_now_until must be 'first_bid' or 'reserve_met'")
    out["buy_now_until"] = until
    start = out["start"] = check_amount(params.get("start", 0), "start")
    end = out["end"] = check_amount(params.get("end"), "end")
    if end <= start:
        raise InvalidParams("end must be after start")
    rule = parse_close_params(params, out, end)
    parsed = EnglishParams(
        currency,
        host,
        opening,
        table,
        reserve,
        buy_now,
        until == "reserve_met",
        start,
        end,
        rule,
        table.bounds,
        table.steps,
    )
    return parsed, out


def _outcome(s: EnglishState, bidder: str, amount: int) -> tuple[int, str, int, bool]:
    """(price, leader, leader's max, reserve met) after ``bidder`` bids max ``amount``.

    Raises :class:`Rejected` when the bid is not acceptable. Shared by ``decide``
    and ``evolve`` so the log is checked against the very same rule. This is the
    hot path: the increment lookup is inlined (``bisect`` on the table's bounds).
    """
    p = s.params
    leader = s.leader
    if leader is None:
        if amount < p.opening:
            raise Rejected(Code.BID_TOO_LOW, f"minimum bid is {p.opening}")
        price = p.opening
        lmax = amount
        leader = bidder
    elif bidder == leader:
        if amount <= s.leader_max:
            raise Rejected(Code.BID_TOO_LOW, "the leader can only raise their max")
        price = s.price
        lmax = amount
    else:
        bounds = p.inc_bounds
        steps = p.inc_steps
        price = s.price
        minimum = price + steps[bisect_right(bounds, price)]
        if amount < minimum:
            raise Rejected(Code.BID_TOO_LOW, f"minimum bid is {minimum}")
        lmax = s.leader_max
        if amount > lmax:
            second = lmax + steps[bisect_right(bounds, lmax)]
            price = amount if amount < second else second
            lmax = amount
            leader = bidder
        else:
            second = amount + steps[bisect_right(bounds, amount)]
            price = lmax if lmax < second else second
    reserve = p.reserve
    if reserve is None:
        return price, leader, lmax, True
    if lmax >= reserve:
        return (reserve if price < reserve else price), leader, lmax, True
    return price, leader, lmax, False


def _standing(s: EnglishState, maxima: Mapping[str, tuple[int, int]]) -> tuple[int, str | None, int, bool]:
    """(price, leader, leader's max, reserve met) recomputed from scratch from ``maxima``."""
    p = s.params
    order = sorted(maxima.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
    if not order:
        return 0, None, 0, p.reserve is None
    leader, (lmax, _) = order[0]
    if len(order) == 1:
        price = p.opening
    else:
        second = order[1][1][0]
        price = min(lmax, second + p.increments.increment(second))
    reserve = p.reserve
    met = reserve is None or lmax >= reserve
    if reserve is not None and met and price < reserve:
        price = reserve
    return price, leader, lmax, met


def _buy_now_open(s: EnglishState) -> bool:
    p = s.params
    if p.buy_now is None:
        return False
    if p.buy_now_until_reserve:
        return not (s.reserve_met and s.leader is not None)
    return s.bids == 0


class EnglishFormat:
    """The English format object (stateless; use :data:`ENGLISH`)."""

    kind = "english"

    #: The C fast path for accepted bids (``bidding/_fast.c``), or ``None`` (not built, or
    #: :data:`PURE_PYTHON_ENV` set): see the bottom of this module. Streams read it when
    #: they are created; setting it to ``None`` makes later streams pure Python.
    fast_handle: ClassVar[FastHandle | None] = None

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate, fill defaults (eBay US increments, hard close), return plain data."""
        return _parse(params)[1]

    def initial(self, params: Mapping[str, Any]) -> EnglishState:
        """State before any bid."""
        p = _parse(params)[0]
        return EnglishState(p, OPEN, p.end, 0, None, 0, p.reserve is None, {}, 0, None)

    # -- decide -------------------------------------------------------------------------

    def decide(self, state: EnglishState, command: Command, now: int) -> list[NewEvent]:
        """Validate ``command`` against ``state`` at ``now``; return events or raise."""
        if type(command) is PlaceBid:
            # The hot path: _outcome() and the soft-close check inlined (one Python
            # call less per bid). evolve() re-derives every value through _outcome(),
            # so a replay cross-checks this copy of the rule on every bid.
            s = state
            end = s.end
            if now >= end or s.status != OPEN:
                raise Rejected(Code.CLOSED, "the auction has ended")
            p = s.params
            if now < p.start:
                raise Rejected(Code.NOT_OPEN, "the auction has not started")
            _, bidder, amount = command
            if type(amount) is not int or amount > MAX_INT:
                raise Rejected(Code.INVALID_COMMAND, "amount must be an integer of minor units")
            if bidder == p.host:
                raise Rejected(Code.FORBIDDEN, "the host cannot bid")
            price = s.price
            leader = s.leader
            if leader is None:
                if amount < p.opening:
                    raise Rejected(Code.BID_TOO_LOW, f"minimum bid is {p.opening}")
                new_price = p.opening
                new_leader = bidder
                lmax = amount
            elif bidder == leader:
                if amount <= s.leader_max:
                    raise Rejected(Code.BID_TOO_LOW, "the leader can only raise their max")
                new_price = price
                new_leader = leader
                lmax = amount
            else:
                bounds = p.inc_bounds
                steps = p.inc_steps
                minimum = price + steps[bisect_right(bounds, price)]
                if amount < minimum:
                    raise Rejected(Code.BID_TOO_LOW, f"minimum bid is {minimum}")
                lmax = s.leader_max
                if amount > lmax:
                    second = lmax + steps[bisect_right(bounds, lmax)]
                    new_price = amount if amount < second else second
                    new_leader = bidder
                    lmax = amount
                else:
                    second = amount + steps[bisect_right(bounds, amount)]
                    new_price = lmax if lmax < second else second
                    new_leader = leader
            reserve = p.reserve
            if reserve is None:
                met = True
            elif lmax >= reserve:
                met = True
                if new_price < reserve:
                    new_price = reserve
            else:
                met = False
            rule = p.close
            if rule.soft and now >= end - rule.window and (new_price != price or new_leader != leader):
                end = rule.extended_end(end, now)
            return [
                (
                    "bid",
                    {
                        "bidder": bidder,
                        "end": end,
                        "leader": new_leader,
                        "max": amount,
                        "price": new_price,
                        "reserve_met": met,
                    },
                )
            ]
        if isinstance(command, Close):
            return self._close(state, now)
        if isinstance(command, BuyNow):
            return self._buy_now(state, command, now)
        if isinstance(command, Retract):
            return self._retract(state, command)
        if isinstance(command, PlaceBid):
            return self._bid(state, command, now)
        raise Rejected(Code.INVALID_COMMAND, f"English auctions do not take {type(command).__name__}")

    def _check_open(self, s: EnglishState, now: int) -> None:
        if s.status != OPEN or now >= s.end:
            raise Rejected(Code.CLOSED, "the auction has ended")
        if now < s.params.start:
            raise Rejected(Code.NOT_OPEN, "the auction has not started")

    def _bid(self, s: EnglishState, cmd: PlaceBid, now: int) -> list[NewEvent]:
        if s.status != OPEN or now >= s.end:
            raise Rejected(Code.CLOSED, "the auction has ended")
        p = s.params
        if now < p.start:
            raise Rejected(Code.NOT_OPEN, "the auction has not started")
        amount = cmd.amount
        if type(amount) is not int or amount > MAX_INT:
            raise Rejected(Code.INVALID_COMMAND, "amount must be an integer of minor units")
        bidder = cmd.actor
        if bidder == p.host:
            raise Rejected(Code.FORBIDDEN, "the host cannot bid")
        price, leader, _, met = _outcome(s, bidder, amount)
        end = s.end
        if price != s.price or leader != s.leader:
            end = p.close.extended_end(end, now)
        return [
            (
                "bid",
                {
                    "bidder": bidder,
                    "max": amount,
                    "price": price,
                    "leader": leader,
                    "reserve_met": met,
                    "end": end,
                },
            )
        ]

    def _buy_now(self, s: EnglishState, cmd: BuyNow, now: int) -> list[NewEvent]:
        self._check_open(s, now)
        if cmd.actor == s.params.host:
            raise Rejected(Code.FORBIDDEN, "the host cannot buy")
        if not _buy_now_open(s):
            raise Rejected(Code.BUY_NOW_UNAVAILABLE, "buy-it-now is no longer available")
        return [("bought", {"bidder": cmd.actor, "price": s.params.buy_now})]

    def _retract(self, s: EnglishState, cmd: Retract) -> list[NewEvent]:
        if cmd.actor != s.params.host:
            raise Rejected(Code.FORBIDDEN, "only the host retracts bids")
        if s.status != OPEN:
            raise Rejected(Code.CLOSED, "the auction has ended")
        if not cmd.reason:
            raise Rejected(Code.INVALID_COMMAND, "a retraction needs a reason")
        if cmd.bidder not in s.maxima:
            raise Rejected(Code.NOT_FOUND, f"no bid by {cmd.bidder!r}")
        rest = {b: m for b, m in s.maxima.items() if b != cmd.bidder}
        price, leader, _, met = _standing(s, rest)
        return [
            (
                "retracted",
                {
                    "bidder": cmd.bidder,
                    "reason": cmd.reason,
                    "price": price,
                    "leader": leader,
                    "reserve_met": met,
                },
            )
        ]

    def _close(self, s: EnglishState, now: int) -> list[NewEvent]:
        if s.status != OPEN:
            raise Rejected(Code.CLOSED, "the auction is already closed")
        if now < s.end:
            raise Rejected(Code.TOO_EARLY, f"the auction ends at {s.end}")
        return [("closed", self._closing_payload(s))]

    def _closing_payload(self, s: EnglishState) -> dict[str, Any]:
        awards = [] if s.leader is None or not s.reserve_met else [Award(s.leader, s.price)]
        return {
            "awards": [a.to_dict() for a in awards],
            "price": s.price,
            "reserve_met": s.reserve_met,
        }

    # -- evolve -------------------------------------------------------------------------

    def evolve_trusted(self, state: EnglishState, event: Envelope) -> EnglishState:
        """Apply an event this stream's ``decide`` just produced (no re-checks)."""
        _, seq, _, _, type_, _, _, pl, _ = event
        if type_ != "bid":
            return self.evolve(state, event)
        bidder = pl["bidder"]
        amount = pl["max"]
        state.maxima[bidder] = (amount, seq)
        if pl["leader"] == bidder:
            state.leader = bidder
            state.leader_max = amount
        state.price = pl["price"]
        state.reserve_met = pl["reserve_met"]
        state.end = pl["end"]
        state.bids += 1
        return state

    def evolve(self, state: EnglishState, event: Envelope) -> EnglishState:
        """Apply one event in place, re-checking it against the rules."""
        s = state
        pl = event.payload
        t = event.type
        if t == "bid":
            if s.status != OPEN or not s.params.start <= event.time < s.end:
                raise InvalidTransition(f"seq {event.seq}: bid outside the open period")
            bidder = pl["bidder"]
            amount = pl["max"]
            if bidder != event.actor or bidder == s.params.host:
                raise InvalidTransition(f"seq {event.seq}: bid not made by its bidder")
            try:
                price, leader, lmax, met = _outcome(s, bidder, amount)
            except Rejected as exc:
                raise InvalidTransition(f"seq {event.seq}: bid breaks the rules: {exc}") from None
            end = s.end
            if price != s.price or leader != s.leader:
                end = s.params.close.extended_end(end, event.time)
            if (
                pl["price"] != price
                or pl["leader"] != leader
                or pl["reserve_met"] is not met
                or pl["end"] != end
            ):
                raise InvalidTransition(f"seq {event.seq}: stated price/leader/end are wrong")
            s.maxima[bidder] = (amount, event.seq)
            s.price = price
            s.leader = leader
            s.leader_max = lmax
            s.reserve_met = met
            s.end = end
            s.bids += 1
            return s
        if t == "closed":
            if s.status != OPEN or event.time < s.end:
                raise InvalidTransition(f"seq {event.seq}: close before the end")
            if dict(pl) != self._closing_payload(s):
                raise InvalidTransition(f"seq {event.seq}: stated award is wrong")
            s.status = CLOSED
            return s
        if t == "bought":
            if s.status != OPEN or not s.params.start <= event.time < s.end:
                raise InvalidTransition(f"seq {event.seq}: buy-it-now outside the open period")
            if not _buy_now_open(s) or pl["price"] != s.params.buy_now:
                raise InvalidTransition(f"seq {event.seq}: buy-it-now was not available")
            if pl["bidder"] != event.actor or event.actor == s.params.host:
                raise InvalidTransition(f"seq {event.seq}: buy-it-now not made by its buyer")
            s.buyer = pl["bidder"]
            s.status = CLOSED
            return s
        if t == "retracted":
            bidder = pl["bidder"]
            if s.status != OPEN or event.actor != s.params.host or bidder not in s.maxima:
                raise InvalidTransition(f"seq {event.seq}: invalid retraction")
            if not pl["reason"]:
                raise InvalidTransition(f"seq {event.seq}: retraction without a reason")
            del s.maxima[bidder]
            price, standing, lmax, met = _standing(s, s.maxima)
            if pl["price"] != price or pl["leader"] != standing or pl["reserve_met"] is not met:
                raise InvalidTransition(f"seq {event.seq}: stated price/leader are wrong")
            s.price = price
            s.leader = standing
            s.leader_max = lmax
            s.reserve_met = met
            return s
        raise InvalidTransition(f"seq {event.seq}: unknown English event {t!r}")

    # -- queries ------------------------------------------------------------------------

    def next_deadline(self, state: EnglishState) -> int | None:
        """The current (possibly extended) end while open."""
        return state.end if state.status == OPEN else None

    def result(self, state: EnglishState) -> list[Award] | None:
        """Winner and price once closed: buy-it-now buyer, or leader if the reserve is met."""
        if state.status != CLOSED:
            return None
        if state.buyer is not None:
            assert state.params.buy_now is not None
            return [Award(state.buyer, state.params.buy_now)]
        if state.leader is None or not state.reserve_met:
            return []
        return [Award(state.leader, state.price)]

    def commitment(self, state: EnglishState, command: Command, now: int) -> int | None:
        """A max bid commits up to its amount; buy-it-now commits the BIN price."""
        if isinstance(command, PlaceBid):
            return command.amount
        if isinstance(command, BuyNow):
            return state.params.buy_now or 0
        return None

    def exposure(self, state: EnglishState) -> dict[str, int]:
        """Open: the leader may pay up to their max. Closed: the winner owes the price."""
        if state.status == OPEN:
            return {state.leader: state.leader_max} if state.leader is not None else {}
        awards = self.result(state) or []
        return {a.bidder: a.price * a.quantity for a in awards}

    def min_bid(self, state: EnglishState, bidder: str) -> int:
        """The smallest max ``bidder`` may bid now (for UIs): opening, or price + increment;
        for the leader, one more than their current max."""
        if state.leader is None:
            return state.params.opening
        if bidder == state.leader:
            return state.leader_max + 1
        return state.price + state.params.increments.increment(state.price)

    def public_view(self, state: EnglishState) -> dict[str, Any]:
        """What anyone may see live: no maxima, no reserve amount."""
        return {
            "status": state.status,
            "price": state.price if state.leader is not None else state.params.opening,
            "leader": state.leader,
            "bids": state.bids,
            "reserve_met": state.reserve_met,
            "has_reserve": state.params.reserve is not None,
            "end": state.end,
            "buy_now": state.params.buy_now if _buy_now_open(state) else None,
        }


#: The English format singleton, registered under ``"english"``.
ENGLISH = EnglishFormat()
register_format(ENGLISH)

#: ``FAIRLOT_PURE_PYTHON=1`` in the environment at import turns the C fast path off, so
#: every English bid runs the Python above (the reference the fast path is tested against).
PURE_PYTHON_ENV = "FAIRLOT_PURE_PYTHON"

if _fast is not None:
    _fast.setup(
        Stream,
        EnglishState,
        EnglishParams,
        CloseRule,
        SealedEnvelope,
        PlaceBid,
        vars(base),
        OPEN,
        str(base._fingerprint(PlaceBid("", "", 0))[0]),  # type: ignore[index]
        deque,
    )
    if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
        EnglishFormat.fast_handle = _fast.english_bid
