"""Hypothesis: the order book against a naive reference model, over random commands.

The model is deliberately dumb (a flat list of resting orders, sorted on every
match), so it is easy to check by eye; the engine is fast and clever. They must
agree on every fill for GTC, IOC and FOK orders and cancels. After every step:
the book is never crossed, exposures add up, and idempotent repeats add nothing;
at the end, replaying the log gives the same state hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bidding.base import Close, Command, Stream, replay
from bidding.errors import Code, Rejected
from bidding.orderbook import ORDER_BOOK, BookState, CancelOrder, PlaceOrder

ACTORS = ("ann", "ben", "cid")


@dataclass
class Model:
    """Resting orders as ``[oid, owner, is_buy, price, qty, arrival]``."""

    resting: list[list[Any]] = field(default_factory=list)
    arrival: int = 0

    def place(self, oid: str, owner: str, is_buy: bool, price: int, qty: int, tif: str) -> Any:
        def crosses(o: list[Any]) -> bool:
            return o[2] != is_buy and (o[3] <= price if is_buy else o[3] >= price)

        makers = sorted(
            (o for o in self.resting if crosses(o)),
            key=lambda o: (o[3] if is_buy else -o[3], o[5]),
        )
        if tif == "fok" and sum(o[4] for o in makers) < qty:
            return [], 0
        fills = []
        for o in makers:
            if not qty:
                break
            q = min(qty, o[4])
            fills.append([o[0], o[3], q])
            o[4] -= q
            qty -= q
        self.resting = [o for o in self.resting if o[4]]
        rested = qty if tif == "gtc" else 0
        if rested:
            self.arrival += 1
            self.resting.append([oid, owner, is_buy, price, rested, self.arrival])
        return fills, rested


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stream: Stream[BookState] = Stream.create(ORDER_BOOK, "props", {}, 0)
        self.model = Model()
        self.now = 1
        self.n = 0
        self.done: list[tuple[Command, Any]] = []
        self.closed = False

    @initialize()
    def start(self) -> None:
        self.now = 1

    def _handle(self, command: Command) -> Any:
        try:
            out: Any = self.stream.handle(command, self.now)
        except Rejected as r:
            out = r
        self.done.append((command, out))
        return out

    @precondition(lambda self: not self.closed)
    @rule(
        actor=st.sampled_from(ACTORS),
        is_buy=st.booleans(),
        price=st.integers(95, 105),
        qty=st.integers(1, 12),
        tif=st.sampled_from(("gtc", "gtc", "gtc", "ioc", "fok")),
    )
    def place(self, actor: str, is_buy: bool, price: int, qty: int, tif: str) -> None:
        self.n += 1
        oid = f"o{self.n}"
        side = "buy" if is_buy else "sell"
        out = self._handle(PlaceOrder(f"c{self.n}", actor, oid, side, price, qty, tif))
        (env,) = out
        fills, rested = self.model.place(oid, actor, is_buy, price, qty, tif)
        assert env.payload["fills"] == fills
        assert env.payload["rested"] == rested
        for _, px, _ in fills:
            # Maker price, and never worse than the taker's limit.
            assert px <= price if is_buy else px >= price

    @precondition(lambda self: not self.closed and self.n > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        target = f"o{data.draw(st.integers(1, self.n))}"
        live = next((o for o in self.model.resting if o[0] == target), None)
        actor = data.draw(st.sampled_from((*ACTORS, "host")))
        self.n += 1
        out = self._handle(CancelOrder(f"c{self.n}", actor, target))
        if live is None:
            assert isinstance(out, Rejected) and out.code == Code.NOT_FOUND
        elif actor not in (live[1], "host"):
            assert isinstance(out, Rejected) and out.code == Code.FORBIDDEN
        else:
            (env,) = out
            assert env.payload == {"order_id": target, "qty": live[4]}
            self.model.resting.remove(live)

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        command, first = data.draw(st.sampled_from(self.done))
        version, head = self.stream.version, self.stream.head
        try:
            again: Any = self.stream.handle(command, self.now)
        except Rejected as r:
            again = r
        assert again == first
        assert (self.stream.version, self.stream.head) == (version, head)

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        self.n += 1
        (env,) = self._handle(Close(f"c{self.n}", "host"))
        assert sorted(env.payload["cancelled"]) == sorted([o[0], o[4]] for o in self.model.resting)
        self.model.resting = []
        self.closed = True

    @rule(dt=st.integers(0, 5))
    def advance(self, dt: int) -> None:
        self.now += dt

    @invariant()
    def never_crossed_and_same_book(self) -> None:
        book = self.stream.state.book
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        ours = sorted(list(r) for side in (True, False) for r in book.resting(side))
        model = sorted([o[0], o[1], o[3], o[4]] for o in self.model.resting)
        assert ours == model

    @invariant()
    def exposure_adds_up(self) -> None:
        state = self.stream.state
        expected: dict[str, int] = {}
        for buy, _, px, q in state.trades:
            owner = state.owners[buy]
            expected[owner] = expected.get(owner, 0) + px * q
        for _, owner, px, q in state.book.resting(True):
            expected[owner] = expected.get(owner, 0) + px * q
        assert ORDER_BOOK.exposure(state) == {k: v for k, v in expected.items() if v}

    def teardown(self) -> None:
        assert self.stream.log is not None
        again = replay(self.stream.log)
        assert again.state_hash() == self.stream.state_hash()


BookMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestOrderBookMachine = BookMachine.TestCase
