"""Multi-unit call auction: N units, sealed (quantity, limit price) bids, one clearing.

Bids are collected until the close, then cleared at once ("called"). Every bid
rests in an order book (:class:`bidding.book_engine.Book`) as a buy order, so the
allocation walks the bids in the book's price-time priority:

* higher limit prices are served first; at equal prices the earlier bid is served
  first (**ties at the margin by time**);
* the marginal bid may get only part of its quantity (**partial allocation**);
* bids below the reserve get nothing; units nobody bid for stay unsold.

Price rules (parameter ``price_rule``):

* ``"uniform"`` (default): every winner pays the **lowest accepted bid price**:
  the limit of the last bid that received units (the marginal bid). It never
  exceeds any winner's limit, and with demand at or below supply it is the lowest
  bid at or above the reserve. (US Treasury auctions use this rule.)
* ``"uniform_rejected"``: every winner pays the **highest rejected price**: the
  highest limit among units bid but not allocated (the marginal bid's own price
  when it is cut, otherwise the best losing bid), or the reserve when no unit at
  or above the reserve was rejected. Never above the lowest accepted price.
* ``"pay_as_bid"``: each winner pays its own limit for each unit it gets (the
  book's maker price).

Parameters: ``units`` (N, required), ``reserve`` (minimum unit price, default 1),
``price_rule``, ``tick`` (prices are multiples of it, default 1), ``max_per_bidder``
(total quantity a bidder may have bid, default N), ``currency`` (default EUR),
``start``/``end`` (ms, optional), ``host`` (default ``"host"``).

Events: ``bid_placed`` ``{bid_id, qty, price}`` (bidder = envelope actor),
``bid_withdrawn`` ``{bid_id}``, ``auction_cleared`` ``{price, units_sold,
allocations: [[bid_id, bidder, qty, unit_price], ...]}`` (``price`` is the uniform
price, or ``null`` under pay-as-bid). ``evolve`` recomputes the clearing and
refuses an ``auction_cleared`` event that claims anything else.

"Sealed" is a visibility rule: bid events go to the host and the bidder, and the
server shows others only counts until the clearing. For bids hidden even from the
operator use the sealed commit-reveal format.

Rejections: ``invalid_command`` (quantity or price malformed, off tick, bid id
reused), ``bid_too_low`` (below the reserve), ``limit_exceeded`` (bidder's total
quantity over ``max_per_bidder``), ``not_open``, ``closed``, ``not_found`` /
``forbidden`` (withdrawing a bid that is gone / someone else's), ``too_early``
(timer close before ``end``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, register_format
from bidding.book_engine import GTC, Book, Fill
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import check_amount, check_currency

__all__ = [
    "CALL_AUCTION",
    "PRICE_RULES",
    "CallAuctionFormat",
    "CallBid",
    "CallState",
    "WithdrawBid",
    "clear",
]

#: Accepted values of the ``price_rule`` parameter.
PRICE_RULES = ("uniform", "uniform_rejected", "pay_as_bid")


@dataclass(frozen=True, slots=True)
class CallBid:
    """Bid for ``qty`` units at up to ``price`` each. ``bid_id`` is unique per auction."""

    command_id: str
    actor: str
    bid_id: str
    qty: int
    price: int


@dataclass(frozen=True, slots=True)
class WithdrawBid:
    """Withdraw one of one's bids before the close."""

    command_id: str
    actor: str
    bid_id: str


class CallState(Mapping[str, Any]):
    """Call auction state; the mapping view is the canonical form that is hashed."""

    __slots__ = ("bids", "book", "cleared", "params", "qty_by_bidder")

    _KEYS = ("bids", "cleared", "params")

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params: dict[str, Any] = dict(params)
        #: Every bid ever placed, in arrival order: id -> ``[bidder, qty, price, live]``
        #: (withdrawn bids stay, not live, so their ids are never reused).
        self.bids: dict[str, list[Any]] = {}
        #: Total quantity bid per bidder (live bids only).
        self.qty_by_bidder: dict[str, int] = {}
        #: The bids as resting buy orders: the book gives the priority order.
        self.book = Book()
        #: ``None`` until cleared, then the ``auction_cleared`` payload.
        self.cleared: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        if key == "params":
            return self.params
        if key == "bids":
            return self.bids
        if key == "cleared":
            return self.cleared
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


def clear(state: CallState) -> dict[str, Any]:
    """Compute the clearing (pure; the state is not changed).

    Walks the live bids in the book's price-time priority, giving each as many of
    the remaining units as it asks for; returns ``{"price", "units_sold",
    "allocations"}`` as described in the module docstring.
    """
    params = state.params
    remaining: int = params["units"]
    allocations: list[list[Any]] = []
    highest_rejected: int | None = None
    for bid_id, bidder, limit, qty in state.book.resting(True):
        take = qty if qty <= remaining else remaining
        if take:
            allocations.append([bid_id, bidder, take, limit])
            remaining -= take
        if take < qty and highest_rejected is None:
            highest_rejected = limit
    rule = params["price_rule"]
    price: int | None = None
    if allocations and rule == "uniform":
        price = allocations[-1][3]
    elif allocations and rule == "uniform_rejected":
        price = params["reserve"] if highest_rejected is None else highest_rejected
    if price is not None:
        for a in allocations:
            a[3] = price
    return {
        "price": price,
        "units_sold": params["units"] - remaining,
        "allocations": allocations,
    }


class CallAuctionFormat:
    """The ``callauction`` format (see the module docstring)."""

    kind = "callauction"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and complete the host's parameters."""
        known = {
            "units", "reserve", "price_rule", "tick", "max_per_bidder",
            "currency", "start", "end", "host",
        }  # fmt: skip
        unknown = set(params) - known
        if unknown:
            raise InvalidParams(f"unknown call auction parameters: {sorted(unknown)}")
        if "units" not in params:
            raise InvalidParams("units (the number of units offered) is required")
        units = check_amount(params["units"], "units", minimum=1)
        rule = params.get("price_rule", "uniform")
        if rule not in PRICE_RULES:
            raise InvalidParams(f"price_rule must be one of {PRICE_RULES}")
        out: dict[str, Any] = {
            "units": units,
            "reserve": check_amount(params.get("reserve", 1), "reserve", minimum=1),
            "price_rule": rule,
            "tick": check_amount(params.get("tick", 1), "tick", minimum=1),
            "max_per_bidder": check_amount(params.get("max_per_bidder", units), "max_per_bidder", minimum=1),
            "currency": check_currency(params.get("currency", "EUR")),
            "start": None,
            "end": None,
            "host": params.get("host", "host"),
        }
        if not isinstance(out["host"], str):
            raise InvalidParams("host must be an actor id (string)")
        for name in ("start", "end"):
            if params.get(name) is not None:
                out[name] = check_amount(params[name], name)
        if out["start"] is not None and out["end"] is not None and out["end"] <= out["start"]:
            raise InvalidParams("end must be after start")
        return out

    def initial(self, params: Mapping[str, Any]) -> CallState:
        """No bids yet."""
        return CallState(params)

    # ------------------------------------------------------------------ decide

    def decide(self, state: CallState, command: Command, now: int) -> list[NewEvent]:
        """Validate a command and return its events."""
        if isinstance(command, Close):
            return self._decide_close(state, command, now)
        self._check_open(state, now)
        if isinstance(command, CallBid):
            return self._decide_bid(state, command)
        if isinstance(command, WithdrawBid):
            bid = state.bids.get(command.bid_id)
            if bid is None or not bid[3]:
                raise Rejected(Code.NOT_FOUND, "no live bid with this id")
            if bid[0] != command.actor:
                raise Rejected(Code.FORBIDDEN, "only the bidder may withdraw a bid")
            return [("bid_withdrawn", {"bid_id": command.bid_id})]
        raise Rejected(Code.INVALID_COMMAND, f"{type(command).__name__} is not a call command")

    def _check_open(self, state: CallState, now: int) -> None:
        params = state.params
        end = params["end"]
        if state.cleared is not None or (end is not None and now >= end):
            raise Rejected(Code.CLOSED, "bidding is closed")
        start = params["start"]
        if start is not None and now < start:
            raise Rejected(Code.NOT_OPEN, "bidding has not started")

    def _decide_bid(self, state: CallState, cmd: CallBid) -> list[NewEvent]:
        params = state.params
        qty, price = cmd.qty, cmd.price
        if type(qty) is not int or not 0 < qty <= params["units"]:
            raise Rejected(Code.INVALID_COMMAND, "quantity must be in [1, units]")
        if type(price) is not int or price <= 0 or price % params["tick"]:
            raise Rejected(Code.INVALID_COMMAND, "price must be a positive multiple of the tick")
        if price < params["reserve"]:
            raise Rejected(Code.BID_TOO_LOW, f"the reserve is {params['reserve']}")
        if type(cmd.bid_id) is not str or cmd.bid_id in state.bids:
            raise Rejected(Code.INVALID_COMMAND, "bid id already used")
        if state.qty_by_bidder.get(cmd.actor, 0) + qty > params["max_per_bidder"]:
            raise Rejected(Code.LIMIT_EXCEEDED, f"at most {params['max_per_bidder']} units")
        return [("bid_placed", {"bid_id": cmd.bid_id, "qty": qty, "price": price})]

    def _decide_close(self, state: CallState, cmd: Close, now: int) -> list[NewEvent]:
        if state.cleared is not None:
            raise Rejected(Code.CLOSED, "already cleared")
        end = state.params["end"]
        if cmd.actor != state.params["host"] and (end is None or now < end):
            raise Rejected(Code.TOO_EARLY, "the auction clears at its end time")
        return [("auction_cleared", clear(state))]

    # ------------------------------------------------------------------ evolve

    def evolve(self, state: CallState, event: Envelope) -> CallState:
        """Apply one event; refuse one that cannot follow (forged or corrupt log)."""
        p = event.payload
        t = event.type
        if state.cleared is not None:
            raise InvalidTransition("the auction is already cleared")
        if t == "bid_placed":
            bid_id = p["bid_id"]
            if bid_id in state.bids:
                raise InvalidTransition(f"bid {bid_id!r} placed twice")
            out: list[Fill] = []
            state.book.limit(bid_id, event.actor, True, p["price"], p["qty"], GTC, out)
            state.bids[bid_id] = [event.actor, p["qty"], p["price"], True]
            by = state.qty_by_bidder
            by[event.actor] = by.get(event.actor, 0) + p["qty"]
        elif t == "bid_withdrawn":
            bid = state.bids.get(p["bid_id"])
            if bid is None or not bid[3]:
                raise InvalidTransition(f"bid {p['bid_id']!r} is not live")
            bid[3] = False
            state.book.cancel(p["bid_id"])
            left = state.qty_by_bidder[bid[0]] - bid[1]
            if left:
                state.qty_by_bidder[bid[0]] = left
            else:
                del state.qty_by_bidder[bid[0]]
        elif t == "auction_cleared":
            expected = clear(state)
            if dict(p) != expected:
                raise InvalidTransition("auction_cleared does not match the bids")
            state.cleared = expected
        else:
            raise InvalidTransition(f"unknown call auction event {t!r}")
        return state

    # ------------------------------------------------------------------ queries

    def next_deadline(self, state: CallState) -> int | None:
        """The end time until cleared."""
        end: int | None = state.params["end"]
        return None if state.cleared is not None else end

    def public_event(self, params: Mapping[str, Any], event: Envelope) -> dict[str, Any] | None:
        """A sealed bid shows only that it arrived (its quantity and limit stay hidden
        until the clearing event publishes the result); ``None``: the generic redaction."""
        if event.type != "bid_placed":
            return None
        return {"bid_id": event.payload.get("bid_id")}

    def result(self, state: CallState) -> list[Award] | None:
        """After the clearing: one award per allocated bid, in allocation order."""
        if state.cleared is None:
            return None
        return [Award(b, price, qty) for _, b, qty, price in state.cleared["allocations"]]

    def commitment(self, state: CallState, command: Command, now: int) -> int | None:
        """A bid commits its limit value on top of the bidder's other live bids."""
        if not isinstance(command, CallBid):
            return None
        mine = self.exposure(state).get(command.actor, 0)
        if type(command.qty) is int and type(command.price) is int:
            return mine + command.qty * command.price
        return mine

    def exposure(self, state: CallState) -> dict[str, int]:
        """Before clearing: live bids at their limits; after: what winners pay."""
        out: dict[str, int] = {}
        if state.cleared is None:
            for bidder, qty, price, live in state.bids.values():
                if live:
                    out[bidder] = out.get(bidder, 0) + qty * price
        else:
            for _, bidder, qty, price in state.cleared["allocations"]:
                out[bidder] = out.get(bidder, 0) + qty * price
        return out


#: The registered call auction format.
CALL_AUCTION = CallAuctionFormat()
register_format(CALL_AUCTION)
