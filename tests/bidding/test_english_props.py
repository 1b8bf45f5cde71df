"""English auction invariants over random command sequences (Hypothesis stateful).

Invariants checked after every step: the price never decreases (except on a host
retraction) and never exceeds the leader's max; the leader is the earliest of the
highest maxima; the end only moves forward and never past the cap; a rejected
command changes nothing (in particular never extends); replaying the log gives
an equal state hash; repeating any earlier command adds nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bidding.base import Close, Command, PlaceBid, Retract, Stream, replay
from bidding.english import ENGLISH, BuyNow, EnglishState
from bidding.errors import Rejected
from bidding.events import Envelope

BIDDERS = ["ann", "ben", "cat", "dan", "host"]


class EnglishMachine(RuleBasedStateMachine):
    stream: Stream[EnglishState]

    @initialize(
        reserve=st.none() | st.integers(100, 20_000),
        soft=st.booleans(),
        reset=st.booleans(),
        cap_extra=st.none() | st.integers(0, 30_000),
        buy_now=st.none() | st.integers(0, 30_000),
        until_reserve=st.booleans(),
    )
    def setup(
        self,
        reserve: int | None,
        soft: bool,
        reset: bool,
        cap_extra: int | None,
        buy_now: int | None,
        until_reserve: bool,
    ) -> None:
        params: dict[str, Any] = {"currency": "EUR", "opening": 100, "start": 0, "end": 60_000}
        if reserve is not None:
            params["reserve"] = reserve
        if buy_now is not None:
            params["buy_now"] = max(reserve or 0, 100) + buy_now
            params["buy_now_until"] = "reserve_met" if until_reserve else "first_bid"
        if soft:
            params.update(close="soft", window=5_000, extension=3_000)
            params["extension_mode"] = "reset" if reset else "add"
        if cap_extra is not None:
            params["cap"] = 60_000 + cap_extra
        self.cap = params.get("cap")
        self.stream = Stream.create(ENGLISH, "lot", params, 0)
        self.now = 0
        self.n = 0
        self.history: list[tuple[Command, int, tuple[Envelope, ...] | Rejected]] = []
        self.last_price = 0
        self.last_end = self.stream.state.end
        self.retracted = False

    def _send(self, cmd: Command) -> None:
        s = self.stream
        version, end = s.version, s.state.end
        try:
            out: tuple[Envelope, ...] | Rejected = s.handle(cmd, self.now)
        except Rejected as exc:
            out = exc
            assert (s.version, s.state.end) == (version, end)
        self.history.append((cmd, version, out))

    def _id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    @rule(dt=st.integers(0, 4_000))
    def wait(self, dt: int) -> None:
        self.now += dt

    @rule(bidder=st.sampled_from(BIDDERS), delta=st.integers(-300, 3_000))
    def bid(self, bidder: str, delta: int) -> None:
        amount = max(1, ENGLISH.min_bid(self.stream.state, bidder) + delta)
        self._send(PlaceBid(self._id(), bidder, amount))

    @rule(bidder=st.sampled_from(BIDDERS))
    def buy_now(self, bidder: str) -> None:
        self._send(BuyNow(self._id(), bidder))

    @rule(bidder=st.sampled_from(BIDDERS), actor=st.sampled_from(["host", "ann"]))
    def retract(self, bidder: str, actor: str) -> None:
        before = self.stream.version
        self._send(Retract(self._id(), actor, bidder, "test"))
        if self.stream.version != before:
            self.retracted = True

    @rule()
    def close(self) -> None:
        self._send(Close(self._id()))

    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        if not self.history:
            return
        cmd, _, first = data.draw(st.sampled_from(self.history))
        version = self.stream.version
        try:
            again: tuple[Envelope, ...] | Rejected = self.stream.handle(cmd, self.now)
        except Rejected as exc:
            again = exc
        assert again is first or again == first
        assert self.stream.version == version

    @invariant()
    def price_rules(self) -> None:
        s = self.stream.state
        if s.leader is not None:
            assert s.price <= s.leader_max
            best = min(s.maxima.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
            assert best[0] == s.leader and best[1][0] == s.leader_max
        if not self.retracted:
            assert s.price >= self.last_price
        self.retracted = False
        self.last_price = s.price

    @invariant()
    def end_rules(self) -> None:
        end = self.stream.state.end
        assert end >= self.last_end
        if self.cap is not None:
            assert end <= self.cap
        self.last_end = end

    @invariant()
    def replay_is_equal(self) -> None:
        assert replay(self.stream.log or []).state_hash() == self.stream.state_hash()


EnglishMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestEnglishMachine = EnglishMachine.TestCase
