"""Sealed bids with commit–reveal: layout, phases, first/second price, stateful checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bidding.base import Close, Command, PlaceBid, Stream, replay
from bidding.errors import Code, InvalidParams, InvalidTransition, Rejected
from bidding.events import Envelope, seal
from bidding.sealed import SEALED, Commit, Reveal, SealedState, sealed_commitment

AUCTION = "lot-s"
N1, N2, N3, N4 = ("11" * 32, "22" * 32, "33" * 32, "44" * 32)


def sealed(**params: Any) -> Stream[SealedState]:
    base: dict[str, Any] = {"auction": AUCTION, "start": 0, "end": 1000, "reveal_end": 2000}
    base.update(params)
    return Stream.create(SEALED, AUCTION, base, 0)


def code(stream: Stream[SealedState], cmd: Command, now: int) -> str:
    version = stream.version
    with pytest.raises(Rejected) as info:
        stream.handle(cmd, now)
    assert stream.version == version
    return info.value.code


def commit(s: Stream[SealedState], bidder: str, amount: int, nonce: str, now: int = 10) -> None:
    s.handle(Commit(f"c-{bidder}", bidder, sealed_commitment(amount, nonce, bidder, AUCTION)), now)


def test_commitment_byte_layout() -> None:
    # amount 8 bytes BE || nonce 32 bytes || u16 len + bidder || u16 len + auction
    layout = (1234).to_bytes(8, "big") + bytes([0x11] * 32) + b"\x00\x05alice" + b"\x00\x05lot-s"
    assert sealed_commitment(1234, N1, "alice", AUCTION) == hashlib.sha256(layout).hexdigest()
    # the length prefixes keep ("ab", "c") and ("a", "bc") apart
    assert sealed_commitment(1, N1, "ab", "c") != sealed_commitment(1, N1, "a", "bc")
    with pytest.raises(ValueError, match="nonce"):
        sealed_commitment(1, "zz", "a", "b")


def run_auction(mode: str, reserve: int = 1) -> Stream[SealedState]:
    s = sealed(mode=mode, reserve=reserve)
    commit(s, "alice", 700, N1)
    commit(s, "bob", 900, N2, now=20)
    commit(s, "carol", 900, N3, now=30)
    commit(s, "dave", 5000, N4, now=40)  # never reveals
    for bidder, amount, nonce in (("alice", 700, N1), ("bob", 900, N2), ("carol", 900, N3)):
        s.handle(Reveal(f"r-{bidder}", bidder, amount, nonce), 1500)
    s.handle(Close("close"), 2000)
    return s


def test_phases_and_bad_reveals() -> None:
    s = sealed()
    commit(s, "alice", 700, N1)
    assert code(s, Commit("again", "alice", "ab" * 32), 20) == Code.ALREADY_BID
    assert code(s, Commit("bad", "bob", "not-hex"), 20) == Code.BAD_COMMITMENT
    assert code(s, Commit("host", "host", "ab" * 32), 20) == Code.FORBIDDEN
    assert code(s, Reveal("early", "alice", 700, N1), 999) == Code.NOT_OPEN
    assert code(s, Commit("late", "bob", "ab" * 32), 1000) == Code.CLOSED
    assert code(s, Reveal("wrong-amount", "alice", 701, N1), 1000) == Code.BAD_COMMITMENT
    assert code(s, Reveal("wrong-nonce", "alice", 700, N2), 1000) == Code.BAD_COMMITMENT
    assert code(s, Reveal("nobody", "zed", 700, N1), 1000) == Code.NOT_FOUND
    (env,) = s.handle(Reveal("ok", "alice", 700, N1), 1001)
    assert env.payload == {"bidder": "alice", "amount": 700, "nonce": N1}
    assert code(s, Reveal("twice", "alice", 700, N1), 1002) == Code.ALREADY_BID
    assert code(s, Close("early"), 1999) == Code.TOO_EARLY
    assert code(s, PlaceBid("x", "bob", 5), 1500) == Code.INVALID_COMMAND
    assert s.next_deadline() == 2000


def test_first_price_ties_go_to_earlier_commitment_and_unrevealed_lose() -> None:
    s = run_auction("first")
    closed = (s.log or [])[-1]
    assert closed.payload == {
        "awards": [{"bidder": "bob", "price": 900, "quantity": 1}],
        "unrevealed": ["dave"],
    }
    assert code(s, Close("again"), 2500) == Code.CLOSED


def test_second_price_pays_runner_up() -> None:
    s = run_auction("second")
    assert [(a.bidder, a.price) for a in s.result() or []] == [("bob", 900)]  # carol's 900
    s2 = sealed(mode="second")
    commit(s2, "alice", 700, N1)
    commit(s2, "bob", 900, N2)
    s2.handle(Reveal("a", "alice", 700, N1), 1000)
    s2.handle(Reveal("b", "bob", 900, N2), 1000)
    s2.handle(Close("c"), 2000)
    assert [(a.bidder, a.price) for a in s2.result() or []] == [("bob", 700)]


def test_reserve_makes_low_bids_ineligible() -> None:
    s = sealed(mode="second", reserve=800)
    commit(s, "alice", 700, N1)
    commit(s, "bob", 900, N2)
    s.handle(Reveal("a", "alice", 700, N1), 1000)
    s.handle(Reveal("b", "bob", 900, N2), 1000)
    assert SEALED.exposure(s.state) == {"alice": 700, "bob": 900}
    s.handle(Close("c"), 2000)
    assert [(a.bidder, a.price) for a in s.result() or []] == [("bob", 800)]
    assert SEALED.exposure(s.state) == {"bob": 800}


def test_replay_rehashes_reveals() -> None:
    s = run_auction("second")
    assert replay(s.log or []).state_hash() == s.state_hash()
    log = list(s.log or [])[:5]  # created + 4 commits
    forged = seal(
        AUCTION,
        6,
        log[-1].hash,
        1500,
        "revealed",
        "alice",
        "f",
        {"bidder": "alice", "amount": 9999, "nonce": N1},
    )
    with pytest.raises(InvalidTransition):
        replay([*log, forged])


@pytest.mark.parametrize(
    "params",
    [{"mode": "third"}, {"reveal_end": 500}, {"auction": ""}, {"reserve": 0}, {"y": 1}],
)
def test_invalid_params(params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        sealed(**params)


class SealedMachine(RuleBasedStateMachine):
    stream: Stream[SealedState]

    @initialize(mode=st.sampled_from(["first", "second"]))
    def setup(self, mode: str) -> None:
        self.stream = sealed(mode=mode)
        self.now = 0
        self.n = 0
        self.secret: dict[str, tuple[int, str]] = {}
        self.history: list[tuple[Command, tuple[Envelope, ...] | Rejected]] = []

    def _send(self, cmd: Command) -> None:
        version = self.stream.version
        try:
            out: tuple[Envelope, ...] | Rejected = self.stream.handle(cmd, self.now)
        except Rejected as exc:
            out = exc
            assert self.stream.version == version
        self.history.append((cmd, out))

    @rule(dt=st.integers(0, 400))
    def wait(self, dt: int) -> None:
        self.now += dt

    @rule(bidder=st.sampled_from(["ann", "ben", "cat"]), amount=st.integers(0, 1000))
    def commit(self, bidder: str, amount: int) -> None:
        self.n += 1
        nonce = f"{self.n:064x}"
        if bidder not in self.secret and self.now < 1000:
            self.secret[bidder] = (amount, nonce)
        c = sealed_commitment(amount, nonce, bidder, AUCTION)
        self._send(Commit(f"c{self.n}", bidder, c))

    @rule(bidder=st.sampled_from(["ann", "ben", "cat"]), honest=st.booleans())
    def reveal(self, bidder: str, honest: bool) -> None:
        amount, nonce = self.secret.get(bidder, (1, "00" * 32))
        self.n += 1
        self._send(Reveal(f"r{self.n}", bidder, amount if honest else amount + 1, nonce))

    @rule()
    def close(self) -> None:
        self.n += 1
        self._send(Close(f"x{self.n}"))

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
    def reveals_match_commitments(self) -> None:
        s = self.stream.state
        for bidder, amount in s.reveals.items():
            assert sealed_commitment(amount, self.secret[bidder][1], bidder, AUCTION) == s.commits[bidder][0]
        awards = self.stream.result()
        if awards:
            (award,) = awards
            assert award.bidder in s.reveals
            assert award.price <= s.reveals[award.bidder]
            assert s.reveals[award.bidder] == max(s.reveals.values())

    @invariant()
    def replay_is_equal(self) -> None:
        assert replay(self.stream.log or []).state_hash() == self.stream.state_hash()


SealedMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestSealedMachine = SealedMachine.TestCase
