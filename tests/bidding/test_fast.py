"""The C fast path for accepted English bids (bidding/_fast.c) against the Python reference.

Why: ``Stream.handle`` in Python is the reference; ``bidding._fast.english_bid`` is only a
faster way to the same result for the common case (an accepted proxy bid) and hands every
other command back. Each test runs the same commands through a stream with the fast path
and one without (``stream._fast = None``) and requires, after every step, the same events
(fields, payload key order, canonical bytes, hashes), the same rejections (codes), the
same state hash, version, head and time, and the same idempotency memory (outcomes in
order, both windows); at the end a replay of the fast stream's log equals it.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import base
from bidding.base import Close, Command, PlaceBid, Retract, Stream, replay
from bidding.english import ENGLISH, PURE_PYTHON_ENV, BuyNow, EnglishFormat, EnglishState
from bidding.errors import Rejected
from bidding.events import Envelope
from bidding.limits import VelocityRule

try:
    from bidding import _fast
except ImportError:  # pragma: no cover - test_fast_path_is_built reports it
    _fast = None  # type: ignore[assignment]

needs_fast = pytest.mark.skipif(_fast is None, reason="bidding._fast not built (see the first test)")

#: Names that need JSON escaping or are not ASCII, next to plain ones.
NAMES = ["ann", "ben", 'c"at', "d\\an", "e\tve", "f\x00x\x1f", "gü", "h\u2028", "i😀", "host"]


def test_fast_path_is_built() -> None:
    """``pip install -e .`` builds bidding._fast; a silent build failure must show here."""
    assert _fast is not None, "bidding._fast did not build: need gcc and OpenSSL 3 headers (libssl-dev)"
    if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
        assert EnglishFormat.fast_handle is _fast.english_bid
        assert Stream.create(ENGLISH, "s", {"opening": 1, "end": 10}, 0)._fast is _fast.english_bid


def test_environment_variable_forces_the_pure_path() -> None:
    code = (
        "from bidding.english import ENGLISH, EnglishFormat\n"
        "from bidding.base import Stream\n"
        "s = Stream.create(ENGLISH, 's', {'opening': 1, 'end': 10}, 0)\n"
        "print(EnglishFormat.fast_handle is None, s._fast is None)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for value, expected in (("1", "True True"), ("0", f"{_fast is None} {_fast is None}")):
        env = {**os.environ, PURE_PYTHON_ENV: value}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


class Counter:
    """Wraps the fast path to count the commands it handled itself."""

    def __init__(self, fast: Callable[..., tuple[Envelope, ...] | None]) -> None:
        self.fast = fast
        self.handled = 0
        self.declined = 0

    def __call__(self, stream: Stream[Any], command: Command, now: int) -> tuple[Envelope, ...] | None:
        out = self.fast(stream, command, now)
        if out is None:
            self.declined += 1
        else:
            self.handled += 1
        return out


def pair(
    params: dict[str, Any], stream_id: str = "lot"
) -> tuple[Stream[EnglishState], Stream[EnglishState], Counter]:
    fast: Stream[EnglishState] = Stream.create(ENGLISH, stream_id, params, 0)
    pure: Stream[EnglishState] = Stream.create(ENGLISH, stream_id, params, 0)
    assert _fast is not None
    counter = Counter(_fast.english_bid)
    fast._fast = counter
    pure._fast = None
    return fast, pure, counter


def memory(stream: Stream[Any]) -> Any:
    """The idempotency memory in comparable form (rejections by code and message)."""
    items = []
    for key, (fingerprint, outcome) in stream._outcomes.items():
        if isinstance(outcome, Rejected):
            items.append((key, fingerprint, ("rejected", outcome.code, str(outcome))))
        else:
            items.append((key, fingerprint, outcome))
    return items, list(stream._logged), list(stream._unlogged)


def run(stream: Stream[Any], command: Command, now: int) -> Any:
    try:
        events = stream.handle(command, now)
    except Rejected as exc:
        return ("rejected", exc.code, str(exc))
    except Exception as exc:  # the same non-rule errors (e.g. an unencodable string)
        return ("error", type(exc).__name__)
    return [
        (tuple(env), list(env.payload.items()), type(env), env.canonical(), env.to_bytes(), env.hash)
        for env in events
    ]


def assert_same(fast: Stream[Any], pure: Stream[Any]) -> None:
    assert (fast.version, fast.head, fast.time) == (pure.version, pure.head, pure.time)
    assert fast.state_hash() == pure.state_hash()
    assert memory(fast) == memory(pure)
    assert fast.log == pure.log


def step(fast: Stream[Any], pure: Stream[Any], command: Command, now: int) -> Any:
    a = run(fast, command, now)
    b = run(pure, command, now)
    assert a == b, (command, now)
    assert_same(fast, pure)
    return a


params_strategy = st.fixed_dictionaries(
    {
        "opening": st.integers(1, 5_000),
        "reserve": st.none() | st.integers(1, 30_000),
        "buy_now": st.none() | st.integers(0, 30_000),
        "buy_now_until": st.sampled_from(["first_bid", "reserve_met"]),
        "increments": st.none()
        | st.sampled_from([[[None, 1]], [[100, 5], [1_000, 50], [None, 250]], [[50, 7], [None, 13]]]),
        "close": st.sampled_from(["hard", "soft"]),
        "window": st.integers(1, 20_000),
        "extension": st.integers(1, 20_000),
        "extension_mode": st.sampled_from(["add", "reset"]),
        # a cap anywhere, or one extension multiple (+-1) after the end: the cap's edge
        "cap": st.none() | st.integers(0, 40_000) | st.tuples(st.integers(1, 3), st.integers(-1, 1)),
        "start": st.integers(0, 2_000),
    }
)

_bid = st.tuples(st.just("bid"), st.integers(0, len(NAMES) - 1), st.integers(-300, 3_000))
_raise = st.tuples(st.just("raise"), st.integers(-50, 2_000), st.just(0))
op_strategy = st.one_of(
    _bid,
    _bid,
    _bid,
    _bid,
    _raise,
    _raise,
    st.tuples(st.just("abs"), st.integers(0, len(NAMES) - 1), st.integers(-5, 50_000)),
    st.tuples(st.just("near"), st.integers(0, 100), st.integers(-1, 1)),
    st.tuples(st.just("near"), st.integers(0, 100), st.integers(-1, 1)),
    st.tuples(st.just("at"), st.integers(0, 3), st.integers(-1, 1)),
    st.tuples(st.just("repeat"), st.integers(0, 10_000), st.booleans()),
    st.tuples(st.just("retract"), st.integers(0, len(NAMES) - 1), st.booleans()),
    st.tuples(st.just("close"), st.just(0), st.just(0)),
    st.tuples(st.just("buynow"), st.integers(0, len(NAMES) - 1), st.just(0)),
    st.tuples(st.just("time"), st.integers(0, 3_000), st.just(0)),
)


def normal(raw: dict[str, Any]) -> dict[str, Any]:
    params = {"currency": "EUR", "opening": raw["opening"], "start": raw["start"], "end": 30_000}
    params["end"] = raw["start"] + 30_000
    if raw["reserve"] is not None:
        params["reserve"] = raw["reserve"]
    if raw["buy_now"] is not None:
        params["buy_now"] = max(raw["reserve"] or 0, raw["opening"]) + raw["buy_now"]
        params["buy_now_until"] = raw["buy_now_until"]
    if raw["increments"] is not None:
        params["increments"] = raw["increments"]
    if raw["close"] == "soft":
        params.update(
            close="soft",
            window=raw["window"],
            extension=raw["extension"],
            extension_mode=raw["extension_mode"],
        )
    cap = raw["cap"]
    if isinstance(cap, tuple):
        cap = max(0, cap[0] * params.get("extension", 1) + cap[1])
    if cap is not None:
        params["cap"] = params["end"] + cap
    return params


@needs_fast
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=params_strategy,
    ops=st.lists(op_strategy, min_size=5, max_size=80),
    stream_id=st.sampled_from(["lot", 'l"o\\t\n', "lötü"]),
    window=st.sampled_from([2, 5, base.IDEMPOTENCY_WINDOW]),
)
def test_fast_and_pure_streams_agree(
    raw: dict[str, Any], ops: list[Any], stream_id: str, window: int
) -> None:
    saved = base.IDEMPOTENCY_WINDOW
    base.IDEMPOTENCY_WINDOW = window
    try:
        check_sequence(normal(raw), ops, stream_id)
    finally:
        base.IDEMPOTENCY_WINDOW = saved


def random_ops(seed: int, n: int) -> list[Any]:
    """``n`` ops drawn like ``op_strategy`` (long sequences are cheaper drawn this way)."""
    rng = random.Random(seed)
    ops: list[Any] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.45:
            ops.append(
                ("bid", rng.randrange(len(NAMES)), rng.choice((rng.randint(-300, 0), rng.randint(0, 800))))
            )
        elif r < 0.6:
            ops.append(("raise", rng.randint(-50, 2_000), 0))
        elif r < 0.65:
            ops.append(("abs", rng.randrange(len(NAMES)), rng.randint(-5, 50_000)))
        elif r < 0.72:
            ops.append(("near", rng.randrange(100), rng.randint(-1, 1)))
        elif r < 0.74:
            ops.append(("at", rng.randrange(4), rng.randint(-1, 1)))
        elif r < 0.8:
            ops.append(("repeat", rng.randrange(10_000), rng.random() < 0.3))
        elif r < 0.83:
            ops.append(("retract", rng.randrange(len(NAMES)), rng.random() < 0.8))
        elif r < 0.85:
            ops.append(("close", 0, 0))
        elif r < 0.87:
            ops.append(("buynow", rng.randrange(len(NAMES)), 0))
        else:
            ops.append(("time", rng.choice((rng.randint(0, 300), rng.randint(0, 3_000))), 0))
    return ops


@needs_fast
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=params_strategy,
    seed=st.integers(0, 2**32),
    stream_id=st.sampled_from(["lot", 'l"o\\t\n', "lötü"]),
    window=st.sampled_from([3, 40, base.IDEMPOTENCY_WINDOW]),
)
def test_long_random_sequences_agree(raw: dict[str, Any], seed: int, stream_id: str, window: int) -> None:
    saved = base.IDEMPOTENCY_WINDOW
    base.IDEMPOTENCY_WINDOW = window
    try:
        check_sequence(normal(raw), random_ops(seed, 250), stream_id)
    finally:
        base.IDEMPOTENCY_WINDOW = saved


def check_sequence(params: dict[str, Any], ops: list[Any], stream_id: str) -> None:
    fast, pure, counter = pair(params, stream_id)
    now = params["start"] + 1
    sent: list[Command] = []
    n = 0
    for kind, a, b in ops:
        n += 1
        cid = f"c{n}" if n % 7 else f'c"{n}\\é'
        state = pure.state
        command: Command
        if kind == "bid":
            bidder = NAMES[a]
            command = PlaceBid(cid, bidder, ENGLISH.min_bid(state, bidder) + b)
        elif kind == "raise":
            leader = state.leader or NAMES[0]
            command = PlaceBid(cid, leader, ENGLISH.min_bid(state, leader) + a)
        elif kind == "abs":
            command = PlaceBid(cid, NAMES[a], b)
        elif kind == "near":  # at a hidden edge: the leader's max, the reserve, the minimum
            p = state.params
            edges = [state.leader_max, p.reserve or state.leader_max, ENGLISH.min_bid(state, "")]
            edges.append(state.leader_max + p.increments.increment(state.leader_max))
            if p.reserve is not None:  # a losing bid whose price lands just below the reserve
                edges.append(p.reserve - p.increments.increment(p.reserve) - 1)
            command = PlaceBid(cid, NAMES[a % len(NAMES)], edges[(a // len(NAMES)) % len(edges)] + b)
        elif kind == "at":  # move time to an edge: the soft-close window, the end, the cap
            rule = state.params.close
            edges = [state.end - rule.window, state.end - 1, state.end]
            if rule.cap is not None:
                edges.append(rule.cap - rule.extension)
            now = max(now, edges[a % len(edges)] + b)
            continue
        elif kind == "repeat":
            if not sent:
                continue
            prior = sent[a % len(sent)]
            if b and isinstance(prior, PlaceBid):
                command = PlaceBid(prior.command_id, prior.actor, prior.amount + 1)  # id reused
            else:
                command = prior
        elif kind == "retract":
            command = Retract(cid, "host", NAMES[a], "shill bidding" if b else "")
        elif kind == "close":
            command = Close(cid)
        elif kind == "buynow":
            command = BuyNow(cid, NAMES[a])
        else:
            now += a
            continue
        sent.append(command)
        step(fast, pure, command, now)
    copy = replay(fast.log or [])
    assert copy.state_hash() == fast.state_hash()
    assert memory(copy)[:2] == memory(replay(pure.log or []))[:2]
    assert counter.handled + counter.declined == sum(1 for c in sent)


@needs_fast
def test_the_common_case_runs_in_c_and_matches() -> None:
    """A long proxy war with soft close, cap, reserve and raises: every accepted bid is
    handled in C, and the memory window evicts exactly as in Python."""
    params = {
        "opening": 100,
        "reserve": 50_000,
        "end": 10**9,
        "close": "soft",
        "window": 60_000,
        "extension": 60_000,
        "cap": 10**9 + 10**6,
    }
    saved = base.IDEMPOTENCY_WINDOW
    base.IDEMPOTENCY_WINDOW = 50
    try:
        fast, pure, counter = pair(params)
        now = 10**9 - 200_000
        accepted = 0
        for i in range(3_000):
            state = pure.state
            if state.leader is not None and i % 10 == 0:
                bidder = state.leader
            else:
                bidder = NAMES[i % 9] if NAMES[i % 9] != state.leader else NAMES[(i + 1) % 9]
            out = step(
                fast, pure, PlaceBid(f"c{i}", bidder, ENGLISH.min_bid(state, bidder) + (i * 37) % 400), now
            )
            accepted += isinstance(out, list)
            now += 1 + i % 700
            if now >= pure.state.end:
                break
        assert accepted > 500
        assert counter.handled == accepted and counter.declined == 0
        assert len(fast._logged) == 50
        assert replay(fast.log or []).state_hash() == fast.state_hash()
    finally:
        base.IDEMPOTENCY_WINDOW = saved


@needs_fast
@settings(max_examples=200, deadline=None)
@given(bidder=st.text(max_size=12), command_id=st.text(max_size=12), stream_id=st.text(max_size=8))
def test_any_strings_encode_like_orjson(bidder: str, command_id: str, stream_id: str) -> None:
    """Escapes, non-ASCII and lone surrogates (which orjson refuses, so both refuse)."""
    fast, pure, _ = pair({"opening": 5, "end": 1_000}, stream_id or "s")
    for i, amount in enumerate((5, 7, 400)):
        step(fast, pure, PlaceBid(f"{command_id}{i}", bidder or "x", amount), 10 + i)
        step(fast, pure, PlaceBid(f"{command_id}{i}", "y" + bidder, amount + 100), 10 + i)
    for env in fast.log or []:
        assert env.canonical() == orjson.dumps(list(env[:8]), option=orjson.OPT_SORT_KEYS)


@needs_fast
def test_unusual_commands_and_streams_are_left_to_python() -> None:
    """Things the C code does not take (a float amount, a str subclass, huge numbers,
    a velocity rule) come back to Python and end exactly as there."""
    assert _fast is not None

    class Name(str):
        pass

    cases: list[tuple[Command, int]] = [
        (PlaceBid("f", "ann", 150), 5),
        (PlaceBid("f", "ann", 150), 6),
        (PlaceBid("a", "ben", 250.0), 6),  # type: ignore[arg-type]
        (PlaceBid("b", Name("ann"), 400), 7),
        (PlaceBid("c", "ben", 2**70), 7),
        (PlaceBid("d", "ben", True), 7),  # type: ignore[arg-type]
        (PlaceBid("e", "ben", 500), 2**70),
        (PlaceBid("g", "ben", 500), 8),
    ]
    fast, pure, counter = pair({"opening": 100, "end": 1_000})
    for command, now in cases:
        step(fast, pure, command, now)
    assert counter.handled == 1
    stream = Stream.create(ENGLISH, "v", {"opening": 1, "end": 10}, 0, velocity=VelocityRule(2, 1_000))
    assert _fast.english_bid(stream, PlaceBid("x", "ann", 5), 1) is None
    assert stream.version == 1 and len(stream._logged) == 1


@needs_fast
@pytest.mark.parametrize("raise_by_leader", [False, True])
def test_a_bid_that_meets_the_reserve_lifts_the_price_to_it(raise_by_leader: bool) -> None:
    """The bid that meets the reserve would set the price one below it (the rule's edge)."""
    fast, pure, counter = pair({"opening": 10, "reserve": 1_000, "increments": [[None, 1]], "end": 100})
    if raise_by_leader:  # ben leads at 999 and raises his max to the reserve
        step(fast, pure, PlaceBid("a", "ann", 998), 1)
        step(fast, pure, PlaceBid("b", "ben", 999), 2)
        out = step(fast, pure, PlaceBid("c", "ben", 1_000), 3)
    else:  # ben leads with max 998; cat's max beats it: 998 + 1 = 999 < reserve
        step(fast, pure, PlaceBid("a", "ann", 997), 1)
        step(fast, pure, PlaceBid("b", "ben", 998), 2)
        out = step(fast, pure, PlaceBid("c", "cat", 1_500), 3)
    assert out[0][1][4:] == [("price", 1_000), ("reserve_met", True)]
    assert counter.handled == 3


def test_a_pickled_stream_takes_the_fast_path_of_the_restoring_process() -> None:
    """Engine snapshots pickle streams: the fast path is not in the blob (a process
    without the extension can restore it), and blobs from before it existed restore."""
    stream: Stream[EnglishState] = Stream.create(ENGLISH, "p", {"opening": 1, "end": 100}, 0)
    stream.handle(PlaceBid("a", "ann", 5), 1)
    stream._fast = None
    copy = pickle.loads(pickle.dumps(stream.forgetful_copy()))
    assert copy._fast is EnglishFormat.fast_handle
    assert copy.state_hash() == stream.state_hash()
    old = Stream.__new__(Stream)
    old.__setstate__(stream.__getstate__())  # what a blob without the slot holds
    assert old._fast is EnglishFormat.fast_handle
    assert old.handle(PlaceBid("b", "ben", 9), 2)[0].payload["price"] == 9  # min(9, 5 + 5)
