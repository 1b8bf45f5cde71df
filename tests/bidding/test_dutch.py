"""Dutch clock: hand-computed examples and a Hypothesis state machine.

Clock: 1000 falling by 50 per 1000 ms to a floor of 600, so price(t) = max(600,
1000 - 50 * (t // 1000)); it reaches the floor at 8 s and lapses one tick later (9 s).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bidding.base import Close, Command, PlaceBid, Stream, Tick, replay
from bidding.dutch import DUTCH, Accept, DutchState, lapse_at, price_at
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope, seal


def clock(**params: Any) -> Stream[DutchState]:
    base: dict[str, Any] = {
        "currency": "EUR",
        "start_price": 1000,
        "step": 50,
        "floor": 600,
        "tick_ms": 1000,
    }
    base.update(params)
    return Stream.create(DUTCH, "tulips", base, 0)


def code(stream: Stream[DutchState], cmd: Command, now: int) -> str:
    version = stream.version
    with pytest.raises(Rejected) as info:
        stream.handle(cmd, now)
    assert stream.version == version
    return info.value.code


def test_price_is_a_pure_function_of_time() -> None:
    s = clock()
    assert [price_at(s.state, t) for t in (0, 999, 1000, 2500, 8000, 20_000)] == [
        1000,
        1000,
        950,
        900,
        600,
        600,
    ]
    assert lapse_at(s.state) == 9000
    assert s.next_deadline() == 9000


def test_multi_unit_first_accept_wins_and_clock_restarts() -> None:
    s = clock(quantity=10)
    (sold,) = s.handle(Accept("a", "alice", 3), 2500)
    assert sold.payload == {
        "buyer": "alice",
        "quantity": 3,
        "price": 900,
        "remaining": 7,
        "clock_start": 2500,
    }
    # bob pressed at the same instant, having seen 900: the restarted clock is at 1000
    assert code(s, Accept("b", "bob", 2, max_price=900), 2500) == Code.BID_TOO_LOW
    assert code(s, Accept("c", "carol", 8), 4000) == Code.SOLD_OUT  # only 7 left
    assert s.next_deadline() == 2500 + 9000
    # 3 ticks after the restart: 1000 - 150
    (sold,) = s.handle(Accept("d", "carol", 7), 5600)
    assert (sold.payload["price"], sold.payload["remaining"]) == (850, 0)
    assert code(s, Accept("e", "dave", 1), 5700) == Code.SOLD_OUT
    assert [(a.bidder, a.price, a.quantity) for a in s.result() or []] == [
        ("alice", 900, 3),
        ("carol", 850, 7),
    ]
    assert DUTCH.exposure(s.state) == {"alice": 2700, "carol": 5950}
    assert s.next_deadline() is None


def test_restart_price_parameter() -> None:
    s = clock(quantity=2, restart_price=800)
    s.handle(Accept("a", "alice"), 3000)  # 850
    assert price_at(s.state, 3000) == 800
    assert price_at(s.state, 5000) == 700


def test_lapse_without_taker() -> None:
    s = clock()
    assert code(s, Close("c1"), 8999) == Code.TOO_EARLY
    assert s.handle(Tick("t1"), 8999) == ()
    assert code(s, Accept("late", "alice"), 9000) == Code.CLOSED
    (lapsed,) = s.handle(Tick("t2"), 9000)
    assert lapsed.payload == {"remaining": 1}
    assert s.result() == []
    assert s.handle(Tick("t3"), 9500) == ()
    assert code(s, Close("c2"), 9500) == Code.CLOSED


def test_not_open_host_and_bad_commands() -> None:
    s = clock(start=5000)
    assert code(s, Accept("a", "alice"), 4999) == Code.NOT_OPEN
    assert code(s, Accept("b", "host"), 5000) == Code.FORBIDDEN
    assert code(s, Accept("c", "alice", 0), 5000) == Code.INVALID_COMMAND
    assert code(s, PlaceBid("d", "alice", 900), 5000) == Code.INVALID_COMMAND
    assert price_at(s.state, 6000) == 950  # the clock runs from ``start``


def test_forged_sale_price_refused() -> None:
    s = clock()
    forged = seal(
        "tulips",
        2,
        s.head,
        2500,
        "sold",
        "alice",
        "x",
        {"buyer": "alice", "quantity": 1, "price": 600, "remaining": 0, "clock_start": 2500},
    )
    with pytest.raises(InvalidTransition):
        replay([*(s.log or []), forged])


@pytest.mark.parametrize(
    "params",
    [{"floor": 2000}, {"step": 0}, {"tick_ms": 0}, {"quantity": 0}, {"restart_price": 10}, {"x": 1}],
)
def test_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        clock(**params)


class DutchMachine(RuleBasedStateMachine):
    stream: Stream[DutchState]

    @initialize(quantity=st.integers(1, 6), step=st.integers(1, 200), floor=st.integers(0, 900))
    def setup(self, quantity: int, step: int, floor: int) -> None:
        self.quantity = quantity
        self.stream = clock(quantity=quantity, step=step, floor=floor)
        self.now = 0
        self.n = 0
        self.history: list[tuple[Command, tuple[Envelope, ...] | Rejected]] = []

    def _send(self, cmd: Command) -> None:
        version = self.stream.version
        try:
            out: tuple[Envelope, ...] | Rejected = self.stream.handle(cmd, self.now)
        except Rejected as exc:
            out = exc
            assert self.stream.version == version
        self.history.append((cmd, out))

    @rule(dt=st.integers(0, 3000))
    def wait(self, dt: int) -> None:
        self.now += dt

    @rule(buyer=st.sampled_from(["ann", "ben", "host"]), qty=st.integers(0, 4))
    def accept(self, buyer: str, qty: int) -> None:
        self.n += 1
        self._send(Accept(f"a{self.n}", buyer, qty))

    @rule(tick=st.booleans())
    def timer(self, tick: bool) -> None:
        self.n += 1
        self._send(Tick(f"t{self.n}") if tick else Close(f"c{self.n}"))

    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        if self.history:
            cmd, first = data.draw(st.sampled_from(self.history))
            version = self.stream.version
            try:
                again: tuple[Envelope, ...] | Rejected = self.stream.handle(cmd, self.now)
            except Rejected as exc:
                again = exc
            assert again is first or again == first
            assert self.stream.version == version

    @invariant()
    def no_oversell_and_floor(self) -> None:
        s = self.stream.state
        assert s.remaining + sum(q for _, q, _ in s.sales) == self.quantity
        assert s.remaining >= 0
        floor = s.params["floor"]
        assert all(floor <= price <= s.params["start_price"] for _, _, price in s.sales)
        assert floor <= price_at(s, self.now) <= s.clock_price

    @invariant()
    def replay_is_equal(self) -> None:
        assert replay(self.stream.log or []).state_hash() == self.stream.state_hash()


DutchMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestDutchMachine = DutchMachine.TestCase
