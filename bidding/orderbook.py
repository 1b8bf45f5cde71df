"""Order book format: a two-sided continuous limit order book, event-sourced.

Used directly for two-sided B2B lots (several buyers and several sellers of the
same fungible item) and as the engine under multi-unit auctions. Rules:

* **price-time priority**: a better price trades first; at one price, the earlier
  order trades first; a partly filled order keeps its place;
* **maker price**: every trade is at the price of the resting (maker) order;
* **time in force**: ``gtc`` rests the remainder; ``ioc`` trades what it can now
  and drops the rest; ``fok`` trades its whole quantity now or nothing at all;
* **cancel**: the owner (or the host) removes the open remainder of a resting order;
* **close**: the host closes at any time, the timer at ``end``; closing cancels every
  resting order (``book_closed`` lists them) and refuses later orders.

Parameters (``normalize_params``): ``currency`` (ISO 4217, default ``"EUR"``),
``tick`` (prices are multiples of it, default 1), ``max_qty`` (per order, default
2**31), ``start``/``end`` (ms, optional), ``host`` (actor allowed to cancel any
order and close, default ``"host"``).

Events (payloads are plain data):

* ``order_placed``: ``{order_id, side, price, qty, tif, fills, rested}``; ``fills``
  lists ``[maker_order_id, price, qty]`` in execution order; ``rested`` is the
  quantity left in the book (0 for ``ioc``/``fok``). The owner is the envelope's
  actor. A ``fok`` that cannot fill, or an ``ioc`` that finds nothing, is still an
  ``order_placed`` event with no fills: the outcome is part of the record.
* ``order_cancelled``: ``{order_id, qty}`` (the open quantity removed).
* ``book_closed``: ``{cancelled: [[order_id, qty], ...]}``.

``evolve`` re-runs the matching with :class:`bidding.book_engine.Book` and checks
that it reproduces the fills the event claims, so replaying a log verifies it.

Rejection codes: ``invalid_command`` (bad side/tif/price/qty, price off tick,
order id reused), ``not_open``, ``closed``, ``not_found`` (cancel of an order that
is not resting), ``forbidden`` (cancelling someone else's order), ``too_early``
(timer close before ``end``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bidding.base import Award, Close, Command, NewEvent, register_format
from bidding.book_engine import GTC, TIFS, Book, Fill
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope
from bidding.money import check_amount, check_currency

__all__ = [
    "ORDER_BOOK",
    "BookState",
    "CancelOrder",
    "OrderBookFormat",
    "PlaceOrder",
]

_MAX_QTY = 2**31


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Submit a limit order. ``order_id`` is chosen by the client, unique per book."""

    command_id: str
    actor: str
    order_id: str
    side: str
    price: int
    qty: int
    tif: str = "gtc"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the open remainder of a resting order."""

    command_id: str
    actor: str
    order_id: str


class BookState(Mapping[str, Any]):
    """Order-book state: the matching engine plus what replay and results need.

    Why a ``Mapping``: the engine is a tuned mutable structure that is not plain
    data; the mapping interface *is* the canonical view hashed by
    :func:`bidding.state_hash` (params, closed flag, both sides in priority order,
    every order id ever used with its owner, trades, buyers' exposure).
    """

    __slots__ = ("_out", "book", "closed", "owed", "owners", "params", "trades")

    _KEYS = ("asks", "bids", "closed", "orders", "owed", "params", "trades")

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params: dict[str, Any] = dict(params)
        self.book = Book()
        self.closed = False
        #: order id -> owner, for every order ever placed (ids are never reused).
        self.owners: dict[str, str] = {}
        #: executed trades in order: ``(buy_order_id, sell_order_id, price, qty)``
        #: (tuples of atoms: the cyclic GC stops tracking them, which matters at 1e5).
        self.trades: list[tuple[Any, Any, int, int]] = []
        #: per buyer: value of resting buy orders plus cost of what they bought.
        self.owed: dict[str, int] = {}
        self._out: list[Fill] = []

    def __getitem__(self, key: str) -> Any:
        if key == "params":
            return self.params
        if key == "closed":
            return self.closed
        if key == "bids":
            return [list(r) for r in self.book.resting(True)]
        if key == "asks":
            return [list(r) for r in self.book.resting(False)]
        if key == "orders":
            return self.owners
        if key == "trades":
            return self.trades
        if key == "owed":
            return self.owed
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


class OrderBookFormat:
    """The ``orderbook`` format (see the module docstring for the rules)."""

    kind = "orderbook"

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and complete the host's parameters."""
        known = {"currency", "tick", "max_qty", "start", "end", "host"}
        unknown = set(params) - known
        if unknown:
            raise InvalidParams(f"unknown order book parameters: {sorted(unknown)}")
        out: dict[str, Any] = {
            "currency": check_currency(params.get("currency", "EUR")),
            "tick": check_amount(params.get("tick", 1), "tick", minimum=1),
            "max_qty": check_amount(params.get("max_qty", _MAX_QTY), "max_qty", minimum=1),
            "start": None,
            "end": None,
            "host": params.get("host", "host"),
        }
        if not isinstance(out["host"], str):
            raise InvalidParams("host must be an actor id (string)")
        for name in ("start", "end"):
            value = params.get(name)
            if value is not None:
                out[name] = check_amount(value, name)
        if out["start"] is not None and out["end"] is not None and out["end"] <= out["start"]:
            raise InvalidParams("end must be after start")
        return out

    def initial(self, params: Mapping[str, Any]) -> BookState:
        """An empty, open book."""
        return BookState(params)

    # ------------------------------------------------------------------ decide

    def decide(self, state: BookState, command: Command, now: int) -> list[NewEvent]:
        """Validate a command against the book and return the events it causes."""
        if isinstance(command, PlaceOrder):
            return self._decide_place(state, command, now)
        if isinstance(command, CancelOrder):
            return self._decide_cancel(state, command, now)
        if isinstance(command, Close):
            return self._decide_close(state, command, now)
        raise Rejected(Code.INVALID_COMMAND, f"{type(command).__name__} is not an order book command")

    def _check_open(self, state: BookState, now: int) -> None:
        params = state.params
        end = params["end"]
        if state.closed or (end is not None and now >= end):
            raise Rejected(Code.CLOSED, "the book is closed")
        start = params["start"]
        if start is not None and now < start:
            raise Rejected(Code.NOT_OPEN, "the book is not open yet")

    def _decide_place(self, state: BookState, cmd: PlaceOrder, now: int) -> list[NewEvent]:
        self._check_open(state, now)
        side = cmd.side
        if side == "buy":
            is_buy = True
        elif side == "sell":
            is_buy = False
        else:
            raise Rejected(Code.INVALID_COMMAND, "side must be 'buy' or 'sell'")
        tif = TIFS.get(cmd.tif)
        if tif is None:
            raise Rejected(Code.INVALID_COMMAND, "tif must be 'gtc', 'ioc' or 'fok'")
        price, qty = cmd.price, cmd.qty
        params = state.params
        if type(price) is not int or price <= 0 or price % params["tick"]:
            raise Rejected(Code.INVALID_COMMAND, "price must be a positive multiple of the tick")
        if type(qty) is not int or not 0 < qty <= params["max_qty"]:
            raise Rejected(Code.INVALID_COMMAND, "quantity must be in [1, max_qty]")
        if type(cmd.order_id) is not str or cmd.order_id in state.owners:
            raise Rejected(Code.INVALID_COMMAND, "order id already used")
        fills = state.book.preview(is_buy, price, qty, tif)
        filled = 0
        for f in fills:
            filled += f[2]
        return [
            (
                "order_placed",
                {
                    "order_id": cmd.order_id,
                    "side": side,
                    "price": price,
                    "qty": qty,
                    "tif": cmd.tif,
                    "fills": fills,
                    "rested": qty - filled if tif == GTC else 0,
                },
            )
        ]

    def _decide_cancel(self, state: BookState, cmd: CancelOrder, now: int) -> list[NewEvent]:
        self._check_open(state, now)
        live = state.book.get(cmd.order_id)
        if live is None:
            raise Rejected(Code.NOT_FOUND, "no resting order with this id")
        owner, _, _, qty = live
        if cmd.actor != owner and cmd.actor != state.params["host"]:
            raise Rejected(Code.FORBIDDEN, "only the owner or the host may cancel an order")
        return [("order_cancelled", {"order_id": cmd.order_id, "qty": qty})]

    def _decide_close(self, state: BookState, cmd: Close, now: int) -> list[NewEvent]:
        if state.closed:
            raise Rejected(Code.CLOSED, "the book is already closed")
        end = state.params["end"]
        if cmd.actor != state.params["host"] and (end is None or now < end):
            raise Rejected(Code.TOO_EARLY, "the book closes at its end time")
        book = state.book
        cancelled = [[oid, qty] for oid, _, _, qty in book.resting(True)]
        cancelled += [[oid, qty] for oid, _, _, qty in book.resting(False)]
        return [("book_closed", {"cancelled": cancelled})]

    # ------------------------------------------------------------------ evolve

    def evolve(self, state: BookState, event: Envelope) -> BookState:
        """Apply one event in place; refuse an event the book cannot reproduce."""
        p = event.payload
        t = event.type
        if t == "order_placed":
            self._apply_place(state, event.actor, p)
        elif t == "order_cancelled":
            self._apply_cancel(state, p["order_id"], p["qty"])
        elif t == "book_closed":
            if state.closed:
                raise InvalidTransition("book closed twice")
            for oid, qty in p["cancelled"]:
                self._apply_cancel(state, oid, qty)
            if len(state.book):
                raise InvalidTransition("book_closed left resting orders behind")
            state.closed = True
        else:
            raise InvalidTransition(f"unknown order book event {t!r}")
        return state

    def _apply_place(self, state: BookState, owner: str, p: Mapping[str, Any]) -> None:
        oid = p["order_id"]
        owners = state.owners
        if oid in owners or state.closed:
            raise InvalidTransition(f"order {oid!r} cannot be placed here")
        owners[oid] = owner
        is_buy = p["side"] == "buy"
        price = p["price"]
        out = state._out
        out.clear()
        rested = state.book.limit(oid, owner, is_buy, price, p["qty"], TIFS[p["tif"]], out)
        claimed = p["fills"]
        if len(claimed) != len(out):
            raise InvalidTransition(f"order {oid!r}: fills differ from the book's matching")
        trades = state.trades
        cost = 0
        for (_, maker, px, q), c in zip(out, claimed, strict=True):
            if c[0] != maker or c[1] != px or c[2] != q:
                raise InvalidTransition(f"order {oid!r}: fills differ from the book's matching")
            trades.append((oid, maker, px, q) if is_buy else (maker, oid, px, q))
            cost += px * q
        if p["tif"] != "gtc":
            rested = 0
        if rested != p["rested"]:
            raise InvalidTransition(f"order {oid!r}: rested quantity differs")
        if is_buy:
            # A seller taking resting bids changes nothing here: a maker's reserved
            # value (its own price) becomes the cost of its purchase, same amount.
            added = cost + price * rested
            if added:
                owed = state.owed
                owed[owner] = owed.get(owner, 0) + added

    def _apply_cancel(self, state: BookState, oid: str, qty: int) -> None:
        live = state.book.get(oid)
        if live is None or live[3] != qty:
            raise InvalidTransition(f"order {oid!r} is not resting with quantity {qty}")
        owner, is_buy, price, _ = live
        state.book.cancel(oid)
        if is_buy:
            owed = state.owed
            left = owed[owner] - price * qty
            if left:
                owed[owner] = left
            else:
                del owed[owner]

    # ------------------------------------------------------------------ queries

    def next_deadline(self, state: BookState) -> int | None:
        """The end time while the book is open (the engine then sends :class:`Close`)."""
        end: int | None = state.params["end"]
        return None if state.closed else end

    def result(self, state: BookState) -> list[Award] | None:
        """Once closed: one award per trade, to the buyer, at the trade price."""
        if not state.closed:
            return None
        owners = state.owners
        return [Award(owners[buy], price, qty) for buy, _, price, qty in state.trades]

    def commitment(self, state: BookState, command: Command, now: int) -> int | None:
        """The actor's exposure here if the order is accepted (``None``: not a bid).

        A buy adds ``price * qty`` (the most it can cost: fills are at or below its
        limit); a sell adds nothing but still counts as a bid for the velocity rule.
        """
        if isinstance(command, PlaceOrder):
            owed = state.owed.get(command.actor, 0)
            if command.side == "buy" and type(command.price) is int and type(command.qty) is int:
                return owed + command.price * command.qty
            return owed
        return None

    def exposure(self, state: BookState) -> dict[str, int]:
        """What each buyer may owe: resting buy orders at their limit plus purchases."""
        return dict(state.owed)


#: The registered order book format.
ORDER_BOOK = OrderBookFormat()
register_format(ORDER_BOOK)
