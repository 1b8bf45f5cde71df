"""The generic Stream: idempotency, sequence and chain checks, replay, limits, registry."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bidding.base import CREATED, Close, PlaceBid, Stream, get_format, register_format, replay, state_hash
from bidding.english import ENGLISH, EnglishState
from bidding.errors import (
    ChainError,
    Code,
    InvalidTransition,
    Rejected,
    SequenceError,
    TranscriptError,
)
from bidding.events import GENESIS, Envelope, seal
from bidding.limits import ExposureLedger, VelocityRule

PARAMS: dict[str, Any] = {"currency": "EUR", "opening": 100, "start": 0, "end": 10_000}


def english(stream_id: str = "lot", **kw: Any) -> Stream[EnglishState]:
    return Stream.create(ENGLISH, stream_id, PARAMS, 0, **kw)


def played() -> Stream[EnglishState]:
    s = english()
    s.handle(PlaceBid("1", "ann", 1000), 1)
    s.handle(PlaceBid("2", "ben", 500), 2)
    s.handle(PlaceBid("3", "cat", 2000), 3)
    return s


def test_created_event_carries_kind_and_normal_params() -> None:
    s = english()
    (created,) = s.log or []
    assert (created.seq, created.prev_hash, created.type) == (1, GENESIS, CREATED)
    assert created.payload["kind"] == "english"
    assert created.payload["params"] == ENGLISH.normalize_params(PARAMS)
    assert created.payload["params"]["increments"][0] == [100, 5]  # eBay default filled in


def test_chain_links_every_event() -> None:
    log = played().log or []
    assert [e.seq for e in log] == [1, 2, 3, 4]
    for prev, env in itertools.pairwise(log):
        assert env.prev_hash == prev.hash
        assert env.compute_hash() == env.hash


def test_replay_rebuilds_equal_state() -> None:
    s = played()
    again = replay(s.log or [])
    assert state_hash(again) == state_hash(s)
    assert (again.version, again.head) == (s.version, s.head)


def test_replay_refuses_gap_duplicate_and_broken_chain() -> None:
    log = list(played().log or [])
    with pytest.raises(SequenceError, match="gap"):
        replay([log[0], log[1], log[3]])
    with pytest.raises(SequenceError, match="duplicate"):
        replay([log[0], log[1], log[1]])
    with pytest.raises(SequenceError):
        replay(log[1:])
    with pytest.raises(SequenceError):
        replay([])
    tampered = log[2]._replace(payload={**log[2].payload, "max": 501})
    with pytest.raises(ChainError, match="hash"):
        replay([log[0], log[1], tampered])
    relinked = seal("lot", 3, "ab" * 32, 2, "bid", "ben", "2", log[2].payload)
    with pytest.raises(ChainError, match="prev_hash"):
        replay([log[0], log[1], relinked])
    other = seal("other", 2, log[0].hash, 1, "bid", "ann", "1", log[1].payload)
    with pytest.raises(ChainError, match="stream"):
        replay([log[0], other])
    with pytest.raises(ChainError):
        replay([log[0]._replace(prev_hash="ff" * 32)])
    with pytest.raises(ChainError):
        replay([log[0]._replace(time=5)])


def test_replay_refuses_bad_first_events() -> None:
    log = list(played().log or [])
    not_created = seal("lot", 1, GENESIS, 0, "bid", "ann", "1", log[1].payload)
    with pytest.raises(InvalidTransition):
        replay([not_created])
    unknown = seal("lot", 1, GENESIS, 0, CREATED, "host", "c", {"kind": "nope", "params": {}})
    with pytest.raises(TranscriptError):
        replay([unknown])
    missing = seal("lot", 1, GENESIS, 0, CREATED, "host", "c", {"params": {}})
    with pytest.raises(TranscriptError):
        replay([missing])
    raw = dict(log[0].payload["params"])
    del raw["window"]  # valid params, but not the normal form stored by create()
    odd = seal("lot", 1, GENESIS, 0, CREATED, "host", "c", {"kind": "english", "params": raw})
    with pytest.raises(InvalidTransition):
        replay([odd])
    twice = seal("lot", 2, log[0].hash, 0, CREATED, "host", "c2", log[0].payload)
    with pytest.raises(InvalidTransition):
        replay([log[0], twice])
    backwards = seal("lot", 2, log[0].hash, 0, "bid", "ann", "1", log[1].payload)
    late = seal("lot", 3, backwards.hash, -1, "bid", "ben", "2", log[2].payload)
    with pytest.raises(InvalidTransition):
        replay([log[0], backwards, late])


def test_follower_apply_and_idempotency_after_replay() -> None:
    s = played()
    log = list(s.log or [])
    follower = replay(log[:2])
    for env in log[2:]:
        follower.apply(env)
    assert follower.state_hash() == s.state_hash()
    # an accepted command is remembered from the log alone
    assert follower.handle(PlaceBid("3", "cat", 2000), 10) == (log[3],)
    assert follower.version == s.version


def test_time_cannot_go_backwards() -> None:
    s = played()
    with pytest.raises(InvalidTransition):
        s.handle(PlaceBid("9", "dan", 9000), 2)


def test_velocity_rule() -> None:
    s = english(velocity=VelocityRule(max_bids=2, window_ms=1000))
    s.handle(PlaceBid("1", "ann", 1000), 100)
    s.handle(PlaceBid("2", "ann", 1100), 200)
    with pytest.raises(Rejected) as info:
        s.handle(PlaceBid("3", "ann", 1200), 1099)
    assert info.value.code == Code.RATE_LIMITED
    s.handle(PlaceBid("4", "ben", 500), 1099)  # other bidders are not affected
    s.handle(PlaceBid("5", "ann", 1200), 1100)  # the window moved on
    s.handle(Close("c"), 10_000)  # not a bid: never rate limited
    # rebuilt from the log
    again = replay(s.log or [], velocity=VelocityRule(max_bids=2, window_ms=1000))
    assert again.state_hash() == s.state_hash()


def test_exposure_limit_across_streams_of_a_host() -> None:
    ledger = ExposureLedger({"ann": 5000})
    a = english("lot-a", ledger=ledger)
    b = english("lot-b", ledger=ledger)
    a.handle(PlaceBid("1", "ann", 3000), 1)
    assert ledger.total("ann") == 3000
    with pytest.raises(Rejected) as info:
        b.handle(PlaceBid("2", "ann", 2500), 2)
    assert info.value.code == Code.OVER_LIMIT
    b.handle(PlaceBid("3", "ann", 2000), 3)
    # raising in the same stream replaces the exposure there: 4000 + 2000 > 5000
    with pytest.raises(Rejected):
        a.handle(PlaceBid("4", "ann", 4000), 4)
    a.handle(PlaceBid("5", "ben", 9000), 5)  # ann outbid in lot-a: exposure released
    assert ledger.total("ann") == 2000
    b.handle(PlaceBid("6", "ann", 4500), 6)
    assert ledger.in_stream("lot-b", "ann") == 4500
    b.handle(PlaceBid("7", "zed", 10**6), 7)  # no limit configured: unlimited


def test_registry() -> None:
    assert get_format("english") is ENGLISH
    register_format(ENGLISH)  # idempotent for the same object

    class Fake:
        kind = "english"

    with pytest.raises(ValueError, match="already registered"):
        register_format(Fake())  # type: ignore[arg-type]


def test_envelope_is_immutable() -> None:
    env = (played().log or [])[1]
    assert isinstance(env, Envelope)
    with pytest.raises(AttributeError):
        env.seq = 9  # type: ignore[misc]


def _bids(s: Stream[EnglishState], n: int, start: int = 0) -> list[PlaceBid]:
    """``n`` accepted bids by alternating bidders, each raising the price."""
    out = []
    for i in range(start, start + n):
        bid = PlaceBid(f"b{i}", "ann" if i % 2 else "ben", 1000 + 100 * i)
        s.handle(bid, 1 + i)
        out.append(bid)
    return out


def test_idempotency_window_is_bounded_and_rebuilt_exactly_by_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bidding.base.IDEMPOTENCY_WINDOW", 4)
    s = english()
    bids = _bids(s, 10)
    again = replay(s.log or [])
    log = s.log or []
    for i, bid in enumerate(bids):
        if i >= len(bids) - 4:  # remembered: the original events, from both
            assert s.handle(bid, 20) == again.handle(bid, 20) == (log[i + 1],)
        else:  # forgotten by both: decided afresh, identically (too low by now)
            with pytest.raises(Rejected) as live:
                s.handle(bid, 20)
            with pytest.raises(Rejected) as replayed:
                again.handle(bid, 20)
            assert live.value.code == replayed.value.code == Code.BID_TOO_LOW
    assert s.version == again.version == 11
    assert len(s._outcomes) <= 4 + len(bids)  # window + the rejections just made


def test_unlogged_window_forgets_old_rejections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bidding.base.UNLOGGED_WINDOW", 2)
    s = english()
    low = [PlaceBid(f"low{i}", "cat", 1) for i in range(3)]
    first = []
    for bid in low:
        with pytest.raises(Rejected) as info:
            s.handle(bid, 1)
        first.append(info.value)
    for bid, rejection in zip(low[1:], first[1:], strict=True):  # remembered: the same object
        with pytest.raises(Rejected) as info:
            s.handle(bid, 1)
        assert info.value is rejection
    with pytest.raises(Rejected) as info:  # forgotten: decided afresh
        s.handle(low[0], 1)
    assert info.value is not first[0] and info.value.code == Code.BID_TOO_LOW
    assert s.version == 1


def test_memory_stays_bounded_over_a_long_auction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bidding.base.IDEMPOTENCY_WINDOW", 50)
    monkeypatch.setattr("bidding.base.UNLOGGED_WINDOW", 5)
    s = english(keep_log=False)
    for i in range(500):
        s.handle(PlaceBid(f"b{i}", "ann" if i % 2 else "ben", 1000 + 20_000 * i), 1 + i)
        with pytest.raises(Rejected):
            s.handle(PlaceBid(f"r{i}", "cat", 1), 1 + i)
    assert len(s._outcomes) == 50 + 5


def test_reused_id_for_another_command_type_is_refused() -> None:
    s = played()
    # PlaceBid is a tuple: ("3", "cat") as a Close-like command must not pass as a retry
    with pytest.raises(Rejected) as info:
        s.handle(Close("3", "cat"), 10)
    assert info.value.code == Code.DUPLICATE_COMMAND_ID
    with pytest.raises(Rejected) as info:
        s.handle(PlaceBid("3", "cat", 2001), 10)
    assert info.value.code == Code.DUPLICATE_COMMAND_ID


def test_events_carry_their_canonical_bytes() -> None:
    s = played()
    for env in s.log or []:
        assert env.canonical() == Envelope(*env).canonical()  # the cache equals a fresh encode
        assert Envelope.from_bytes(env.to_bytes()) == env
        assert Envelope.from_dict(env.to_dict()) == env
    changed = (s.log or [])[2]._replace(time=99)
    assert changed.canonical() == Envelope(*changed).canonical()  # no stale cache on copies
    assert changed.compute_hash() != changed.hash


def _memory(s: Stream[Any]) -> list[tuple[tuple[str, str], Any]]:
    return [(key, s._outcomes[key][1]) for key in s._logged]


def test_forgetful_copy_plus_relearn_equals_full_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compact snapshot (state without memory) + the events from memory_start rebuild
    exactly the idempotency memory of a full replay, inside and beyond the window."""
    import pickle

    monkeypatch.setattr("bidding.base.IDEMPOTENCY_WINDOW", 6)
    for n in (0, 3, 6, 7, 20):
        s = english()
        _bids(s, n)
        log = list(s.log or [])
        start = s.memory_start()
        assert start == (log[max(0, len(log) - 6)].seq if n else 1)
        copy = pickle.loads(pickle.dumps(s.forgetful_copy()))
        assert copy._outcomes == {} and copy.log is None
        copy.relearn(log[start - 1 :])
        full = replay(log)
        assert _memory(copy) == _memory(full)
        assert copy.state_hash() == s.state_hash() == full.state_hash()
        assert copy.memory_start() == start


def test_relearn_refuses_events_the_state_has_not_seen() -> None:
    s = played()
    log = list(s.log or [])
    copy = s.forgetful_copy()
    with pytest.raises(SequenceError):
        copy.relearn([*log, seal("lot", 5, log[-1].hash, 4, "x", "a", "c", {})])
    forged = seal("lot", s.version, GENESIS, 3, "bid", "cat", "3", {})
    with pytest.raises(ChainError):
        s.forgetful_copy().relearn([forged])
