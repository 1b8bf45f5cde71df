"""Flash sale: fixed price, limited stock, per-buyer limit, holds with a TTL, waitlist.

What it must never do is oversell (magento #6363, nopCommerce #4184: concurrent
checkouts drove stock negative). Here a sale has one writer (its actor) and every
unit is in exactly one of three places, so the invariant is arithmetic:

    sold + held + available == stock        (hence sold + held <= stock, always)

Flow:

* ``Reserve(qty)``: if ``qty`` units are available and nobody is waiting, the
  buyer gets a **hold** that expires at ``now + hold_ttl_ms``. If the units exist
  but are held by others (or others already wait), the buyer **joins the
  waitlist** (FIFO). If they can never be had (``stock - sold < qty``): ``sold_out``.
* ``Confirm(hold_id)``: the purchase. Refused with ``hold_expired`` at or after
  the hold's expiry, even if the expiry has not been processed yet (and with
  ``closed`` at or after ``end``: every end check uses ``now``). Waiters who
  can no longer be served (``stock - sold < qty``) then leave the waitlist.
* ``Release(hold_id)``: the buyer gives the hold back.
* ``Tick``: the timer (the engine sends it at :func:`next_deadline`): every hold
  whose expiry is ``<= now`` is released, and returned units go to the waitlist
  in order, each head getting a **new hold** with a fresh TTL. Strict FIFO: a
  head that does not fit yet blocks those behind it; a head that can never fit
  (``stock - sold < qty``) is dropped.
* ``LeaveWaitlist``; ``Close`` (host any time, timer at ``end``): releases every
  hold and empties the waitlist.

A ``Reserve`` first applies the expiries that are due at its ``now`` (in the same
decision, as events), so a late timer never lets a stale hold block stock.

**Per-buyer limit** (``per_buyer_limit``) is across the whole sale, not per
checkout: ``bought + held + waiting + qty <= limit`` for that buyer.

Parameters: ``price`` (unit price, minor units), ``currency``, ``stock``,
``per_buyer_limit``, ``hold_ttl_ms``, ``start``/``end`` (optional), ``host``.

Events: ``hold_placed`` ``{hold_id, buyer, qty, expires, from_waitlist}``,
``waitlisted`` ``{buyer, qty}``, ``purchased`` ``{hold_id, buyer, qty, amount}``,
``hold_released`` ``{hold_id, reason}`` (``expired``/``released``/``closed``),
``waitlist_left`` ``{buyer, reason}`` (``left``/``sold_out``/``closed``),
``sale_closed`` ``{}``.

Rejections: ``invalid_command``, ``not_open``, ``closed``, ``sold_out``,
``limit_exceeded``, ``already_bid`` (already waiting), ``not_found``,
``forbidden``, ``hold_expired``, ``too_early``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, Tick, register_format
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import check_amount, check_currency

__all__ = [
    "FLASH_SALE",
    "Confirm",
    "FlashSaleFormat",
    "FlashState",
    "LeaveWaitlist",
    "Release",
    "Reserve",
    "next_deadline",
]


@dataclass(frozen=True, slots=True)
class Reserve:
    """Ask for a hold on ``qty`` units (or a place on the waitlist)."""

    command_id: str
    actor: str
    qty: int = 1


@dataclass(frozen=True, slots=True)
class Confirm:
    """Buy the units of one's hold (before it expires)."""

    command_id: str
    actor: str
    hold_id: str


@dataclass(frozen=True, slots=True)
class Release:
    """Give a hold back."""

    command_id: str
    actor: str
    hold_id: str


@dataclass(frozen=True, slots=True)
class LeaveWaitlist:
    """Leave the waitlist."""

    command_id: str
    actor: str


@dataclass(slots=True)
class FlashState:
    """Flash-sale state: plain data, hashed as is by :func:`bidding.state_hash`."""

    params: dict[str, Any]
    sold: int = 0
    held: int = 0
    #: Live holds, hold id -> ``[buyer, qty, expires]``.
    holds: dict[str, list[Any]] = field(default_factory=dict)
    #: Hold ids in creation order = expiry order (the TTL is fixed and time only
    #: moves forward); ids of holds already gone are skipped lazily.
    expiry: deque[str] = field(default_factory=deque)
    #: FIFO waitlist of ``[buyer, qty]``.
    waitlist: list[list[Any]] = field(default_factory=list)
    #: Per buyer: ``[bought, held, waiting]``.
    buyers: dict[str, list[int]] = field(default_factory=dict)
    #: Counter behind hold ids ``h1``, ``h2``, ...
    holds_made: int = 0
    closed: bool = False


def next_deadline(state: FlashState) -> int | None:
    """The earliest live hold's expiry, or the end; ``None`` when nothing is due."""
    if state.closed:
        return None
    end: int | None = state.params["end"]
    for hold_id in state.expiry:
        hold = state.holds.get(hold_id)
        if hold is not None:
            exp: int = hold[2]
            return exp if end is None or exp < end else end
    return end


class _Plan:
    """A scratch copy of the counters ``decide`` needs to plan several events."""

    __slots__ = ("available", "events", "made", "sold", "waitlist")

    def __init__(self, state: FlashState) -> None:
        self.sold = state.sold
        self.available = state.params["stock"] - state.sold - state.held
        self.made = state.holds_made
        self.waitlist = state.waitlist
        self.events: list[NewEvent] = []


def _promote(state: FlashState, plan: _Plan, start: int, now: int) -> int:
    """Hand available units to the waitlist in FIFO order; return the new head index."""
    stock = state.params["stock"]
    ttl = state.params["hold_ttl_ms"]
    wl = plan.waitlist
    i = start
    while i < len(wl):
        buyer, qty = wl[i]
        if stock - plan.sold < qty:
            plan.events.append(("waitlist_left", {"buyer": buyer, "reason": "sold_out"}))
        elif qty <= plan.available:
            plan.made += 1
            plan.available -= qty
            plan.events.append(
                (
                    "hold_placed",
                    {
                        "hold_id": f"h{plan.made}",
                        "buyer": buyer,
                        "qty": qty,
                        "expires": now + ttl,
                        "from_waitlist": True,
                    },
                )
            )
        else:
            break
        i += 1
    return i


def _expire_due(state: FlashState, now: int) -> tuple[_Plan, int]:
    """Plan the release of every hold due at ``now`` and the waitlist promotions."""
    plan = _Plan(state)
    head = 0
    holds = state.holds
    for hold_id in state.expiry:
        hold = holds.get(hold_id)
        if hold is None:
            continue
        if hold[2] > now:
            break
        plan.available += hold[1]
        plan.events.append(("hold_released", {"hold_id": hold_id, "reason": "expired"}))
        head = _promote(state, plan, head, now)
    return plan, head


class FlashSaleFormat:
    """The ``flash`` format (see the module docstring)."""

    kind = "flash"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and complete the host's parameters."""
        known = {
            "price", "currency", "stock", "per_buyer_limit", "hold_ttl_ms",
            "start", "end", "host",
        }  # fmt: skip
        unknown = set(params) - known
        if unknown:
            raise InvalidParams(f"unknown flash sale parameters: {sorted(unknown)}")
        for name in ("price", "stock"):
            if name not in params:
                raise InvalidParams(f"{name} is required")
        out: dict[str, Any] = {
            "price": check_amount(params["price"], "price", minimum=1),
            "currency": check_currency(params.get("currency", "EUR")),
            "stock": check_amount(params["stock"], "stock"),
            "per_buyer_limit": check_amount(params.get("per_buyer_limit", 1), "per_buyer_limit", minimum=1),
            "hold_ttl_ms": check_amount(params.get("hold_ttl_ms", 600_000), "hold_ttl_ms", minimum=1),
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

    def initial(self, params: Mapping[str, Any]) -> FlashState:
        """Nothing sold, nothing held."""
        return FlashState(dict(params))

    # ------------------------------------------------------------------ decide

    def decide(self, state: FlashState, command: Command, now: int) -> list[NewEvent]:
        """Due expiries first, then the command's own events."""
        if isinstance(command, Tick):
            if state.closed:
                raise Rejected(Code.CLOSED, "the sale is closed")
            return _expire_due(state, now)[0].events
        if isinstance(command, Close):
            return self._decide_close(state, command, now)
        if isinstance(command, Confirm | Release):
            return self._decide_hold(state, command, now)
        self._check_open(state, now)
        if isinstance(command, Reserve):
            return self._decide_reserve(state, command, now)
        if isinstance(command, LeaveWaitlist):
            if state.buyers.get(command.actor, (0, 0, 0))[2] == 0:
                raise Rejected(Code.NOT_FOUND, "not on the waitlist")
            return [("waitlist_left", {"buyer": command.actor, "reason": "left"})]
        raise Rejected(Code.INVALID_COMMAND, f"{type(command).__name__} is not a flash command")

    def _check_open(self, state: FlashState, now: int) -> None:
        params = state.params
        end = params["end"]
        if state.closed or (end is not None and now >= end):
            raise Rejected(Code.CLOSED, "the sale is closed")
        start = params["start"]
        if start is not None and now < start:
            raise Rejected(Code.NOT_OPEN, "the sale has not started")

    def _decide_reserve(self, state: FlashState, cmd: Reserve, now: int) -> list[NewEvent]:
        qty = cmd.qty
        params = state.params
        if type(qty) is not int or qty < 1:
            raise Rejected(Code.INVALID_COMMAND, "quantity must be a positive integer")
        mine = state.buyers.get(cmd.actor)
        if mine is not None and mine[2]:
            raise Rejected(Code.ALREADY_BID, "already on the waitlist")
        if (sum(mine) if mine else 0) + qty > params["per_buyer_limit"]:
            raise Rejected(Code.LIMIT_EXCEEDED, f"at most {params['per_buyer_limit']} units per buyer")
        if params["stock"] - state.sold < qty:
            raise Rejected(Code.SOLD_OUT, "not enough stock left")
        plan, head = _expire_due(state, now) if state.expiry else (_Plan(state), 0)
        if head < len(plan.waitlist) or qty > plan.available:
            plan.events.append(("waitlisted", {"buyer": cmd.actor, "qty": qty}))
        else:
            plan.events.append(
                (
                    "hold_placed",
                    {
                        "hold_id": f"h{plan.made + 1}",
                        "buyer": cmd.actor,
                        "qty": qty,
                        "expires": now + params["hold_ttl_ms"],
                        "from_waitlist": False,
                    },
                )
            )
        return plan.events

    def _decide_hold(self, state: FlashState, cmd: Confirm | Release, now: int) -> list[NewEvent]:
        end = state.params["end"]
        if state.closed or (end is not None and now >= end):
            raise Rejected(Code.CLOSED, "the sale is closed")
        hold = state.holds.get(cmd.hold_id)
        if hold is None:
            raise Rejected(Code.NOT_FOUND, "no live hold with this id")
        buyer, qty, expires = hold
        if buyer != cmd.actor:
            raise Rejected(Code.FORBIDDEN, "not your hold")
        if now >= expires:
            raise Rejected(Code.HOLD_EXPIRED, "the hold has expired")
        plan = _Plan(state)
        if isinstance(cmd, Confirm):
            payload = {
                "hold_id": cmd.hold_id,
                "buyer": buyer,
                "qty": qty,
                "amount": qty * state.params["price"],
            }
            plan.events.append(("purchased", payload))
            # Stock that is now sold may make the head of the waitlist hopeless.
            plan.sold += qty
        else:
            plan.available += qty
            plan.events.append(("hold_released", {"hold_id": cmd.hold_id, "reason": "released"}))
        _promote(state, plan, 0, now)
        return plan.events

    def _decide_close(self, state: FlashState, cmd: Close, now: int) -> list[NewEvent]:
        if state.closed:
            raise Rejected(Code.CLOSED, "the sale is already closed")
        end = state.params["end"]
        if cmd.actor != state.params["host"] and (end is None or now < end):
            raise Rejected(Code.TOO_EARLY, "the sale ends at its end time")
        events: list[NewEvent] = [("hold_released", {"hold_id": h, "reason": "closed"}) for h in state.holds]
        events += [("waitlist_left", {"buyer": b, "reason": "closed"}) for b, _ in state.waitlist]
        events.append(("sale_closed", {}))
        return events

    # ------------------------------------------------------------------ evolve

    def evolve(self, state: FlashState, event: Envelope) -> FlashState:
        """Apply one event; refuse any that would break ``sold + held <= stock``."""
        p = event.payload
        t = event.type
        if state.closed:
            raise InvalidTransition("the sale is closed")
        buyers = state.buyers
        if t == "hold_placed":
            hold_id, buyer, qty = p["hold_id"], p["buyer"], p["qty"]
            state.holds_made += 1
            if hold_id != f"h{state.holds_made}" or qty < 1:
                raise InvalidTransition(f"unexpected hold id {hold_id!r}")
            if p["from_waitlist"]:
                if not state.waitlist or state.waitlist[0] != [buyer, qty]:
                    raise InvalidTransition("promotion out of waitlist order")
                state.waitlist.pop(0)
                buyers[buyer][2] -= qty
            elif state.waitlist:
                raise InvalidTransition("a hold jumped the waitlist")
            if state.sold + state.held + qty > state.params["stock"]:
                raise InvalidTransition("hold would oversell")
            state.holds[hold_id] = [buyer, qty, p["expires"]]
            state.expiry.append(hold_id)
            state.held += qty
            mine = buyers.get(buyer)
            if mine is None:
                mine = buyers[buyer] = [0, 0, 0]
            mine[1] += qty
            if sum(mine) > state.params["per_buyer_limit"]:
                raise InvalidTransition("hold exceeds the per-buyer limit")
        elif t == "purchased":
            hold = state.holds.pop(p["hold_id"], None)
            if hold is None or hold[0] != p["buyer"] or hold[1] != p["qty"]:
                raise InvalidTransition("purchase without a matching hold")
            state.held -= hold[1]
            state.sold += hold[1]
            mine = buyers[hold[0]]
            mine[1] -= hold[1]
            mine[0] += hold[1]
            self._drop_dead_expiries(state)
        elif t == "hold_released":
            hold = state.holds.pop(p["hold_id"], None)
            if hold is None:
                raise InvalidTransition("release of an unknown hold")
            state.held -= hold[1]
            buyers[hold[0]][1] -= hold[1]
            self._drop_dead_expiries(state)
        elif t == "waitlisted":
            buyer, qty = p["buyer"], p["qty"]
            mine = buyers.get(buyer)
            if mine is None:
                mine = buyers[buyer] = [0, 0, 0]
            if mine[2]:
                raise InvalidTransition("buyer already waiting")
            mine[2] = qty
            state.waitlist.append([buyer, qty])
        elif t == "waitlist_left":
            buyer = p["buyer"]
            for i, (who, qty) in enumerate(state.waitlist):
                if who == buyer:
                    del state.waitlist[i]
                    buyers[buyer][2] -= qty
                    break
            else:
                raise InvalidTransition("buyer is not waiting")
        elif t == "sale_closed":
            if state.holds or state.waitlist:
                raise InvalidTransition("sale closed with holds or waiters left")
            state.closed = True
            state.expiry.clear()
        else:
            raise InvalidTransition(f"unknown flash sale event {t!r}")
        return state

    @staticmethod
    def _drop_dead_expiries(state: FlashState) -> None:
        expiry, holds = state.expiry, state.holds
        while expiry and expiry[0] not in holds:
            expiry.popleft()

    # ------------------------------------------------------------------ queries

    def timer_command(self, state: FlashState, deadline: int, command_id: str) -> Close | Tick:
        """The end closes the sale; an earlier deadline is a hold expiry: a tick."""
        end = state.params["end"]
        return Close(command_id) if end is not None and deadline >= end else Tick(command_id)

    def next_deadline(self, state: FlashState) -> int | None:
        """See :func:`next_deadline`."""
        return next_deadline(state)

    def result(self, state: FlashState) -> list[Award] | None:
        """Once closed: what each buyer bought, at the fixed price (buyers sorted)."""
        if not state.closed:
            return None
        price = state.params["price"]
        return [Award(b, price, v[0]) for b, v in sorted(state.buyers.items()) if v[0]]

    def commitment(self, state: FlashState, command: Command, now: int) -> int | None:
        """A reservation commits the buyer's units in this sale at the fixed price."""
        if not isinstance(command, Reserve):
            return None
        mine = state.buyers.get(command.actor)
        qty = command.qty if type(command.qty) is int else 0
        price: int = state.params["price"]
        return ((sum(mine) if mine else 0) + qty) * price

    def exposure(self, state: FlashState) -> dict[str, int]:
        """Bought + held + waiting units per buyer, at the fixed price."""
        price = state.params["price"]
        return {b: sum(v) * price for b, v in state.buyers.items() if sum(v)}


#: The registered flash sale format.
FLASH_SALE = FlashSaleFormat()
register_format(FLASH_SALE)
