"""Hypothesis: random interleavings of buyers, confirmations, releases and timers.

Whatever the order (confirm racing expiry, late timers, waiters leaving), the
sale never oversells, never lets a buyer past the limit, keeps every unit in
exactly one place, and its log replays to the same state hash; a repeated
command adds nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bidding.base import Command, Stream, Tick, replay
from bidding.errors import Code, Rejected
from bidding.flash import FLASH_SALE, Confirm, FlashState, LeaveWaitlist, Release, Reserve

BUYERS = ("ann", "bob", "cat", "dan", "eve")
STOCK = 5
LIMIT = 3
TTL = 20


class FlashMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        params = {"price": 700, "stock": STOCK, "per_buyer_limit": LIMIT, "hold_ttl_ms": TTL}
        self.stream: Stream[FlashState] = Stream.create(FLASH_SALE, "props", params, 0)
        self.now = 0
        self.n = 0
        self.done: list[tuple[Command, Any]] = []
        self.purchased = 0

    def _handle(self, command: Command) -> Any:
        try:
            out: Any = self.stream.handle(command, self.now)
        except Rejected as r:
            out = r
        self.done.append((command, out))
        if not isinstance(out, Rejected):
            self.purchased += sum(e.payload["qty"] for e in out if e.type == "purchased")
        return out

    def _cid(self) -> str:
        self.n += 1
        return f"c{self.n}"

    @rule(buyer=st.sampled_from(BUYERS), qty=st.integers(1, 3))
    def reserve(self, buyer: str, qty: int) -> None:
        out = self._handle(Reserve(self._cid(), buyer, qty))
        if isinstance(out, Rejected):
            assert out.code in (Code.LIMIT_EXCEEDED, Code.ALREADY_BID, Code.SOLD_OUT)

    @precondition(lambda self: self.stream.state.holds_made > 0)
    @rule(data=st.data(), owner=st.booleans(), confirm=st.booleans())
    def use_hold(self, data: st.DataObject, owner: bool, confirm: bool) -> None:
        hold_id = f"h{data.draw(st.integers(1, self.stream.state.holds_made))}"
        live = self.stream.state.holds.get(hold_id)
        actor = live[0] if live is not None and owner else data.draw(st.sampled_from(BUYERS))
        cmd = (Confirm if confirm else Release)(self._cid(), actor, hold_id)
        out = self._handle(cmd)
        if live is None:
            assert isinstance(out, Rejected) and out.code == Code.NOT_FOUND
        elif actor != live[0]:
            assert isinstance(out, Rejected) and out.code == Code.FORBIDDEN
        elif self.now >= live[2]:
            assert isinstance(out, Rejected) and out.code == Code.HOLD_EXPIRED
        else:
            assert not isinstance(out, Rejected)

    @rule(buyer=st.sampled_from(BUYERS))
    def leave(self, buyer: str) -> None:
        self._handle(LeaveWaitlist(self._cid(), buyer))

    @rule()
    def timer(self) -> None:
        deadline = self.stream.next_deadline()
        if deadline is not None and deadline <= self.now:
            self._handle(Tick(self._cid()))
            # After the tick, nothing is overdue.
            after = self.stream.next_deadline()
            assert after is None or after > self.now

    @rule(dt=st.integers(0, 15))
    def advance(self, dt: int) -> None:
        self.now += dt

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        command, first = data.draw(st.sampled_from(self.done))
        version = self.stream.version
        try:
            again: Any = self.stream.handle(command, self.now)
        except Rejected as r:
            again = r
        assert again == first
        assert self.stream.version == version

    @invariant()
    def never_oversold(self) -> None:
        st_ = self.stream.state
        assert 0 <= st_.sold + st_.held <= STOCK
        assert st_.held == sum(h[1] for h in st_.holds.values())
        assert st_.sold == self.purchased == sum(b[0] for b in st_.buyers.values())
        for bought, held, waiting in st_.buyers.values():
            assert min(bought, held, waiting) >= 0
            assert bought + held + waiting <= LIMIT
        assert sum(q for _, q in st_.waitlist) == sum(b[2] for b in st_.buyers.values())

    @invariant()
    def deadline_is_the_earliest_live_expiry(self) -> None:
        holds = self.stream.state.holds
        expected = min((h[2] for h in holds.values()), default=None)
        assert self.stream.next_deadline() == expected

    def teardown(self) -> None:
        assert self.stream.log is not None
        assert replay(self.stream.log).state_hash() == self.stream.state_hash()


FlashMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
TestFlashMachine = FlashMachine.TestCase
