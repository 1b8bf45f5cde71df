"""Dutch descending clock (FloraHolland style), single or multi-unit.

The price is a pure function of ``now`` and the clock's start::

    price(now) = max(floor, clock_price - step * ((now - clock_start) // tick_ms))

so no tick event is needed for the price to fall: the engine only sends timer
commands to close a lot that reached the floor without a taker. ``clock_price``
is ``start_price`` for the first run and ``restart_price`` (default: the start
price) after each partial sale, when the clock restarts at the sale's time for
the remaining units.

* First accept wins: the first :class:`Accept` the stream processes buys at the
  clock price of its ``now``; a second accept in the same instant sees the
  restarted clock (or a sold-out lot). ``max_price`` protects a buyer from paying
  more than the price they saw (the restarted clock is higher).
* Multi-unit: ``quantity`` units are for sale; a buyer takes 1..remaining units.
* The clock lapses one tick after reaching the floor (``lapse_at``); a
  :class:`~bidding.base.Close` or :class:`~bidding.base.Tick` at or after that
  time ends the lot with the rest unsold.

Events: ``sold`` {buyer, quantity, price, remaining, clock_start} and
``lapsed`` {remaining}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, Tick, register_format
from bidding.canonical import MAX_INT
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import check_amount, check_currency

__all__ = ["DUTCH", "Accept", "DutchFormat", "DutchState", "lapse_at", "price_at"]

OPEN = "open"
CLOSED = "closed"

_KEYS = (
    "currency",
    "host",
    "start",
    "start_price",
    "restart_price",
    "step",
    "floor",
    "tick_ms",
    "quantity",
)


@dataclass(frozen=True, slots=True)
class Accept:
    """Take ``quantity`` units at the current clock price (at most ``max_price``)."""

    command_id: str
    actor: str
    quantity: int = 1
    max_price: int | None = None


@dataclass(slots=True)
class DutchState:
    """Mutable state of one Dutch clock."""

    params: dict[str, Any]
    status: str
    clock_start: int
    clock_price: int
    remaining: int
    #: (buyer, quantity, unit price) in sale order.
    sales: list[tuple[str, int, int]] = field(default_factory=list)


def price_at(state: DutchState, now: int) -> int:
    """The clock price at ``now`` (pure; never below the floor)."""
    p = state.params
    if now <= state.clock_start:
        return state.clock_price
    tick: int = p["tick_ms"]
    floor: int = p["floor"]
    step: int = p["step"]
    return max(floor, state.clock_price - step * ((now - state.clock_start) // tick))


def lapse_at(state: DutchState) -> int:
    """When the clock lapses: one tick after the price reaches the floor."""
    p = state.params
    tick: int = p["tick_ms"]
    floor: int = p["floor"]
    step: int = p["step"]
    ticks_to_floor = -(-(state.clock_price - floor) // step)
    return state.clock_start + (ticks_to_floor + 1) * tick


class DutchFormat:
    """The Dutch clock format object (stateless; use :data:`DUTCH`)."""

    kind = "dutch"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and fill defaults (one unit; restart at the start price)."""
        unknown = set(params) - set(_KEYS)
        if unknown:
            raise InvalidParams(f"unknown Dutch params: {sorted(unknown)}")
        host = params.get("host", "host")
        if not isinstance(host, str) or not host:
            raise InvalidParams("host must be a non-empty actor id")
        start_price = check_amount(params.get("start_price"), "start_price", minimum=1)
        floor = check_amount(params.get("floor", 0), "floor")
        if floor > start_price:
            raise InvalidParams("floor must not exceed the start price")
        restart = params.get("restart_price")
        restart = start_price if restart is None else check_amount(restart, "restart_price")
        if restart < floor:
            raise InvalidParams("restart_price must not be below the floor")
        return {
            "currency": check_currency(params.get("currency", "EUR")),
            "host": host,
            "start": check_amount(params.get("start", 0), "start"),
            "start_price": start_price,
            "restart_price": restart,
            "step": check_amount(params.get("step"), "step", minimum=1),
            "floor": floor,
            "tick_ms": check_amount(params.get("tick_ms"), "tick_ms", minimum=1),
            "quantity": check_amount(params.get("quantity", 1), "quantity", minimum=1),
        }

    def initial(self, params: Mapping[str, Any]) -> DutchState:
        """The clock before its start: full quantity, clock at the start price."""
        p = dict(params)
        return DutchState(p, OPEN, p["start"], p["start_price"], p["quantity"])

    def decide(self, state: DutchState, command: Command, now: int) -> list[NewEvent]:
        """Accept -> ``sold``; Close/Tick after the lapse -> ``lapsed``."""
        if isinstance(command, Accept):
            return self._accept(state, command, now)
        if isinstance(command, Close | Tick):
            if state.status != OPEN:
                if isinstance(command, Tick):
                    return []
                raise Rejected(Code.CLOSED, "the clock has ended")
            if now < lapse_at(state):
                if isinstance(command, Tick):
                    return []
                raise Rejected(Code.TOO_EARLY, f"the clock lapses at {lapse_at(state)}")
            return [("lapsed", {"remaining": state.remaining})]
        name = type(command).__name__
        raise Rejected(Code.INVALID_COMMAND, f"Dutch clocks do not take {name}")

    def _accept(self, s: DutchState, cmd: Accept, now: int) -> list[NewEvent]:
        if s.status != OPEN:
            raise Rejected(Code.SOLD_OUT if s.remaining == 0 else Code.CLOSED, "the clock ended")
        if now < s.params["start"]:
            raise Rejected(Code.NOT_OPEN, "the clock has not started")
        if now >= lapse_at(s):
            raise Rejected(Code.CLOSED, "the clock has lapsed")
        if cmd.actor == s.params["host"]:
            raise Rejected(Code.FORBIDDEN, "the host cannot buy")
        qty = cmd.quantity
        if type(qty) is not int or qty < 1 or qty > MAX_INT:
            raise Rejected(Code.INVALID_COMMAND, "quantity must be a positive integer")
        if qty > s.remaining:
            raise Rejected(Code.SOLD_OUT, f"only {s.remaining} left")
        price = price_at(s, now)
        if cmd.max_price is not None and price > cmd.max_price:
            raise Rejected(Code.BID_TOO_LOW, f"the clock is at {price}, above your max_price")
        remaining = s.remaining - qty
        return [
            (
                "sold",
                {
                    "buyer": cmd.actor,
                    "quantity": qty,
                    "price": price,
                    "remaining": remaining,
                    "clock_start": now,
                },
            )
        ]

    def evolve(self, state: DutchState, event: Envelope) -> DutchState:
        """Apply ``sold`` / ``lapsed``, re-checking price and quantities."""
        s = state
        pl = event.payload
        if s.status != OPEN:
            raise InvalidTransition(f"seq {event.seq}: event after the end")
        if event.type == "sold":
            qty = pl["quantity"]
            if (
                event.time < s.params["start"]
                or event.time >= lapse_at(s)
                or pl["buyer"] != event.actor
                or not 1 <= qty <= s.remaining
                or pl["price"] != price_at(s, event.time)
                or pl["remaining"] != s.remaining - qty
                or pl["clock_start"] != event.time
            ):
                raise InvalidTransition(f"seq {event.seq}: sale breaks the clock rules")
            s.sales.append((pl["buyer"], qty, pl["price"]))
            s.remaining -= qty
            s.clock_start = event.time
            s.clock_price = s.params["restart_price"]
            if s.remaining == 0:
                s.status = CLOSED
            return s
        if event.type == "lapsed":
            if event.time < lapse_at(s) or pl["remaining"] != s.remaining:
                raise InvalidTransition(f"seq {event.seq}: lapse before the clock ran out")
            s.status = CLOSED
            return s
        raise InvalidTransition(f"seq {event.seq}: unknown Dutch event {event.type!r}")

    def timer_command(self, state: DutchState, deadline: int, command_id: str) -> Tick:
        """A clock deadline is a tick: it lapses the clock once it is due, else nothing."""
        return Tick(command_id)

    def next_deadline(self, state: DutchState) -> int | None:
        """The lapse time while units remain."""
        return lapse_at(state) if state.status == OPEN else None

    def result(self, state: DutchState) -> list[Award] | None:
        """One award per sale, in order, once the clock has ended."""
        if state.status != CLOSED:
            return None
        return [Award(b, price, qty) for b, qty, price in state.sales]

    def commitment(self, state: DutchState, command: Command, now: int) -> int | None:
        """The buyer's total owed here if the accept succeeds (earlier buys + this one)."""
        if isinstance(command, Accept):
            owed = self.exposure(state).get(command.actor, 0)
            return owed + price_at(state, now) * command.quantity
        return None

    def exposure(self, state: DutchState) -> dict[str, int]:
        """What each buyer owes for the units bought so far."""
        owed: dict[str, int] = {}
        for buyer, qty, price in state.sales:
            owed[buyer] = owed.get(buyer, 0) + qty * price
        return owed


#: The Dutch format singleton, registered under ``"dutch"``.
DUTCH = DutchFormat()
register_format(DUTCH)
