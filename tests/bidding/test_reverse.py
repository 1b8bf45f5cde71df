"""Reverse auction / RFQ: decrements, self-raise, ties, feedback views, overtime."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bidding.base import Close, Command, PlaceBid, Stream, replay
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope, seal
from bidding.reverse import REVERSE, ReverseState, rank_of, view_for

END = 100_000


def rfq(**params: Any) -> Stream[ReverseState]:
    base: dict[str, Any] = {"start": 0, "end": END, "ceiling": 10_000, "decrement": 100}
    base.update(params)
    return Stream.create(REVERSE, "rfq-1", base, 0)


_n = iter(range(10**9))


def offer(s: Stream[ReverseState], supplier: str, amount: int, now: int = 10) -> dict[str, Any]:
    (env,) = s.handle(PlaceBid(f"o{next(_n)}", supplier, amount), now)
    return dict(env.payload)


def code(s: Stream[ReverseState], cmd: Command, now: int = 10) -> str:
    version, end = s.version, s.state.end
    with pytest.raises(Rejected) as info:
        s.handle(cmd, now)
    assert (s.version, s.state.end) == (version, end)
    return info.value.code


def test_lowest_wins_decrement_self_raise_and_ties() -> None:
    s = rfq()
    assert offer(s, "s1", 9000)["leader"] == "s1"
    p = offer(s, "s2", 9500)  # a first offer only has to respect the ceiling
    assert (p["best"], p["leader"]) == (9000, "s1")
    assert rank_of(s.state, "s2") == 2
    assert code(s, PlaceBid("a", "s2", 9450)) == Code.BID_TOO_HIGH  # must be <= 9400
    assert code(s, PlaceBid("b", "s2", 9600)) == Code.SELF_RAISE
    assert code(s, PlaceBid("c", "s3", 11_000)) == Code.BID_TOO_HIGH  # ceiling
    assert code(s, PlaceBid("d", "host", 100)) == Code.FORBIDDEN
    assert offer(s, "s2", 8900)["leader"] == "s2"
    p = offer(s, "s1", 8900)  # tie: the earlier offer (s2) keeps the lead
    assert (p["best"], p["leader"]) == (8900, "s2")
    assert (rank_of(s.state, "s2"), rank_of(s.state, "s1"), rank_of(s.state, "zz")) == (1, 2, None)
    assert code(s, Close("early"), END - 1) == Code.TOO_EARLY
    (closed,) = s.handle(Close("close"), END)
    assert closed.payload == {"awards": [{"bidder": "s2", "price": 8900, "quantity": 1}]}
    assert code(s, PlaceBid("late", "s1", 100), END) == Code.CLOSED


def test_decrement_in_basis_points_rounds_up() -> None:
    s = rfq(decrement_mode="bps", decrement=250, ceiling=None)
    offer(s, "s1", 9999)
    # 2.5 % of 9999 = 249.975 -> 250: the next offer must be <= 9749
    assert code(s, PlaceBid("a", "s1", 9750)) == Code.BID_TOO_HIGH
    assert offer(s, "s1", 9749)["best"] == 9749


def test_decrement_from_best() -> None:
    s = rfq(decrement_from="best")
    offer(s, "s1", 9000)
    assert code(s, PlaceBid("a", "s2", 8950)) == Code.BID_TOO_HIGH  # must beat 9000 - 100
    assert offer(s, "s2", 8900)["leader"] == "s2"


def test_feedback_views() -> None:
    full = rfq()
    offer(full, "s1", 9000)
    offer(full, "s2", 9500)
    assert view_for(full.state, "s2") == {
        "status": "open",
        "end": END,
        "your_offer": 9500,
        "rank": 2,
        "best": 9000,
        "leading": False,
        "suppliers": 2,
    }
    blind = rfq(feedback="rank_only")
    offer(blind, "s1", 9000)
    offer(blind, "s2", 9500)
    assert REVERSE.view_for(blind.state, "s2") == {
        "status": "open",
        "end": END,
        "your_offer": 9500,
        "rank": 2,
    }
    assert view_for(blind.state, "s9")["rank"] is None


def test_overtime_only_on_best_or_leader_change() -> None:
    s = rfq(close="soft", window=10_000, extension=10_000, cap=130_000)
    offer(s, "s1", 9000, now=50_000)
    assert offer(s, "s2", 8000, now=95_000)["end"] == 110_000  # new best: overtime
    assert offer(s, "s3", 9900, now=96_000)["end"] == 110_000  # not the best: no overtime
    assert code(s, PlaceBid("x", "s3", 9950), now=97_000) == Code.SELF_RAISE
    assert s.state.end == 110_000  # a rejected offer never extends
    assert offer(s, "s1", 7000, now=105_000)["end"] == 120_000  # after the original end
    assert offer(s, "s2", 6000, now=119_000)["end"] == 130_000  # 120 s + 10 s = the cap
    assert offer(s, "s1", 5000, now=128_000)["end"] == 130_000  # capped: no further
    assert s.next_deadline() == 130_000


def test_replay_and_forged_offer() -> None:
    s = rfq()
    offer(s, "s1", 9000)
    assert replay(s.log or []).state_hash() == s.state_hash()
    forged = seal(
        "rfq-1",
        3,
        s.head,
        20,
        "offer",
        "s1",
        "f",
        {"supplier": "s1", "amount": 9500, "best": 9000, "leader": "s1", "end": END},
    )
    with pytest.raises(InvalidTransition):
        replay([*(s.log or []), forged])


@pytest.mark.parametrize(
    "params",
    [
        {"decrement_mode": "percent"},
        {"decrement_mode": "bps", "decrement": 20_000},
        {"feedback": "none"},
        {"decrement_from": "best", "feedback": "rank_only"},
        {"decrement_from": "worst"},
        {"end": 0},
        {"z": 1},
    ],
)
def test_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        rfq(**params)


class ReverseMachine(RuleBasedStateMachine):
    stream: Stream[ReverseState]

    @initialize(bps=st.booleans(), soft=st.booleans())
    def setup(self, bps: bool, soft: bool) -> None:
        params: dict[str, Any] = {"decrement_mode": "bps", "decrement": 100} if bps else {}
        if soft:
            params.update(close="soft", window=5_000, extension=3_000, cap=END + 20_000)
        self.cap = END + 20_000 if soft else END
        self.stream = rfq(**params)
        self.now = 0
        self.n = 0
        self.last_best: int | None = None
        self.last_end = END
        self.history: list[tuple[Command, tuple[Envelope, ...] | Rejected]] = []

    @rule(dt=st.integers(0, 5_000))
    def wait(self, dt: int) -> None:
        self.now += dt

    @rule(supplier=st.sampled_from(["s1", "s2", "s3"]), amount=st.integers(1, 10_500))
    def offer(self, supplier: str, amount: int) -> None:
        self.n += 1
        cmd = PlaceBid(f"o{self.n}", supplier, amount)
        before = self.stream.state.offers.get(supplier)
        try:
            out: tuple[Envelope, ...] | Rejected = self.stream.handle(cmd, self.now)
        except Rejected as exc:
            out = exc
        else:
            assert before is None or amount < before[0]  # never raised its own offer
        self.history.append((cmd, out))

    @rule()
    def close(self) -> None:
        self.n += 1
        with contextlib.suppress(Rejected):
            self.stream.handle(Close(f"c{self.n}"), self.now)

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
    def best_is_lowest_earliest(self) -> None:
        s = self.stream.state
        if s.offers:
            leader, (amount, _) = min(s.offers.items(), key=lambda kv: kv[1])
            assert (s.leader, s.best) == (leader, amount)
            assert self.last_best is None or s.best <= self.last_best
            self.last_best = s.best

    @invariant()
    def end_moves_forward_within_cap(self) -> None:
        end = self.stream.state.end
        assert self.last_end <= end <= self.cap
        self.last_end = end

    @invariant()
    def replay_is_equal(self) -> None:
        assert replay(self.stream.log or []).state_hash() == self.stream.state_hash()


ReverseMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestReverseMachine = ReverseMachine.TestCase
