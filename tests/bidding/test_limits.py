"""Velocity rule and exposure ledger on their own (Stream integration: test_base.py)."""

from __future__ import annotations

import pytest

from bidding.errors import Code, InvalidParams, Rejected
from bidding.limits import ExposureLedger, VelocityRule, VelocityTracker


def test_velocity_sliding_window() -> None:
    t = VelocityTracker(VelocityRule(max_bids=3, window_ms=1000))
    for now in (0, 10, 20):
        t.check("ann", now)
        t.record("ann", now)
    with pytest.raises(Rejected) as info:
        t.check("ann", 999)
    assert info.value.code == Code.RATE_LIMITED
    t.check("ann", 1000)  # the bid at 0 left the window
    t.check("ben", 999)
    with pytest.raises(InvalidParams):
        VelocityRule(max_bids=0)


def test_ledger_totals_and_release() -> None:
    ledger = ExposureLedger({"ann": 100})
    ledger.update("a", {"ann": 60, "ben": 10})
    ledger.update("b", {"ann": 30})
    assert (ledger.total("ann"), ledger.total("ben")) == (90, 10)
    ledger.check("a", "ann", 70)  # replaces 60: 30 + 70 = 100
    with pytest.raises(Rejected) as info:
        ledger.check("a", "ann", 71)
    assert info.value.code == Code.OVER_LIMIT
    ledger.update("a", {"ben": 5})
    assert (ledger.total("ann"), ledger.total("ben")) == (30, 5)
    ledger.release("b")
    ledger.release("a")
    assert (ledger.total("ann"), ledger.total("ben")) == (0, 0)
    with pytest.raises(InvalidParams):
        ExposureLedger({"x": -1})
