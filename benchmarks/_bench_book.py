"""Order-book stream, peer adapters and benchmark sections (order book, flash sale).

Shared by ``benchmarks/bench_core.py`` (figures) and
``tests/bidding/test_orderbook_peer.py`` (trade-for-trade differential), so the
stream that is timed is the stream that is checked.

A stream is a list of operations:

* ``(1, oid, is_buy, price, qty)``: a GTC limit order (``oid`` = 0, 1, 2, ...);
* ``(0, oid)``: cancel order ``oid`` (it may be filled already: then nothing happens).

Each ``run_*`` function plays a stream into one engine and returns the trades as
``(taker_oid, maker_oid, price, qty)`` in the order the engine reported them.

Peer quirks found by introspection (liquibook 2.0.1 via pip, pyorderbook 0.4.9):

* liquibook ``OrderListener.on_fill(order, matched_order, qty, price)``: the first
  argument is the *incoming* order (despite the README naming it "passive"), the
  fourth is the trade price per unit (not a cost); ``SimpleOrder.open_qty()`` is not
  updated unless the listener calls ``order.fill`` itself (the book tracks it
  internally, so matching is right). Order ids come from a process-wide counter,
  so we map them back to our ids.
* liquibook via pip ignores time in force: an ``oc_immediate_or_cancel`` order rests
  its remainder, and an ``oc_fill_or_kill`` order fills partially. So the
  differential stream uses GTC limit orders and cancels only; IOC/FOK are checked
  against a reference model in ``tests/bidding/test_orderbook_props.py``.
* pyorderbook ``Book.cancel`` raises ``KeyError`` for an order no longer in the
  book, so its adapter checks ``order_map`` first. Prices are ``Decimal``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from bidding.book_engine import GTC, Book

Op = tuple[Any, ...]
Trade = tuple[int, int, int, int]


def make_stream(n: int, seed: int, cancel_ratio: float = 0.3) -> list[Op]:
    """A seeded random stream of ``n`` operations (limit orders and cancels).

    Prices wander around a drifting mid so that about one order in six crosses;
    quantities are 1..100; a cancel targets one of the last 1,000 orders (live,
    partly filled or already gone).
    """
    rng = random.Random(seed)
    ops: list[Op] = []
    mid = 10_000
    nxt = 0
    for _ in range(n):
        if nxt and rng.random() < cancel_ratio:
            ops.append((0, rng.randrange(max(0, nxt - 1000), nxt)))
        else:
            is_buy = rng.random() < 0.5
            off = rng.randint(-3, 20)
            price = mid - off if is_buy else mid + off
            ops.append((1, nxt, is_buy, price, rng.randint(1, 100)))
            nxt += 1
        if rng.random() < 0.1:
            mid += rng.choice((-1, 1))
    return ops


def run_ours(ops: list[Op]) -> list[Trade]:
    """Play the stream into :class:`bidding.book_engine.Book`."""
    book = Book()
    trades: list[Any] = []
    limit = book.limit
    cancel = book.cancel
    for op in ops:
        if op[0]:
            limit(op[1], "", op[2], op[3], op[4], GTC, trades)
        else:
            cancel(op[1])
    return trades


def run_liquibook(ops: list[Op]) -> list[Trade]:
    """Play the stream into liquibook's ``DepthOrderBook`` (C++ via SWIG)."""
    import liquibook as lb

    raw: list[tuple[int, int, int, int]] = []
    append = raw.append

    class Listener(lb.OrderListener):  # type: ignore[misc]
        def on_accept(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: Any) -> None:
            pass

        def on_fill(self, order: Any, matched: Any, qty: int, price: int) -> None:
            append((order.order_id_, matched.order_id_, price, qty))

        def on_cancel(self, order: Any) -> None:
            pass

        def on_cancel_reject(self, order: Any, reason: Any) -> None:
            pass

        def on_replace(self, *args: Any) -> None:
            pass

        def on_replace_reject(self, *args: Any) -> None:
            pass

    book = lb.DepthOrderBook()
    listener = Listener()
    book.set_order_listener(listener)
    simple = lb.SimpleOrder
    add = book.add
    cancel = book.cancel
    objs: list[Any] = []
    keep = objs.append
    for op in ops:
        if op[0]:
            o = simple(op[2], op[3], op[4])
            keep(o)
            add(o)
        else:
            cancel(objs[op[1]])
    ids = {o.order_id_: i for i, o in enumerate(objs)}
    return [(ids[t], ids[m], p, q) for t, m, p, q in raw]


def run_pyorderbook(ops: list[Op]) -> list[Trade]:
    """Play the stream into pyorderbook's ``Book`` (pure Python, Decimal prices)."""
    import pyorderbook as pob

    book = pob.Book()
    live = book.order_map
    match = book.match
    bid, ask = pob.bid, pob.ask
    objs: list[Any] = []
    blotters: list[Any] = []
    for op in ops:
        if op[0]:
            o = bid("X", op[3], op[4]) if op[2] else ask("X", op[3], op[4])
            objs.append(o)
            blotters.append(match(o))
        else:
            o = objs[op[1]]
            if o.id in live:
                book.cancel(o)
    ids = {o.id: i for i, o in enumerate(objs)}
    return [
        (ids[t.incoming_order_id], ids[t.standing_order_id], int(t.fill_price), t.fill_quantity)
        for b in blotters
        for t in b.trades
    ]


def _time(fn: Callable[[list[Op]], list[Trade]], ops: list[Op]) -> tuple[float, int]:
    t0 = time.perf_counter()
    trades = fn(ops)
    return time.perf_counter() - t0, len(trades)


# ----------------------------------------------------------------------------------
# Benchmark sections (rows for bench_core.py: (section, what, ops/s, note)).

Row = tuple[str, str, float, str]

BOOK_OPS = 200_000
PYORDERBOOK_OPS = 50_000
REPEATS = 5
FLASH_CMDS = 100_000


def _cpu_rate(n: int, run: Callable[[], object]) -> tuple[float, float]:
    """One run: (ops/s in CPU time of this process, ops/s in wall time)."""
    w0 = time.perf_counter()
    c0 = time.process_time()
    run()
    return n / (time.process_time() - c0), n / (time.perf_counter() - w0)


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def _book_commands(ops: list[Op]) -> list[Any]:
    from bidding.orderbook import CancelOrder, PlaceOrder

    cmds: list[Any] = []
    for i, op in enumerate(ops):
        if op[0]:
            side = "buy" if op[2] else "sell"
            cmds.append(PlaceOrder(f"c{i}", "u", str(op[1]), side, op[3], op[4]))
        else:
            cmds.append(CancelOrder(f"c{i}", "u", str(op[1])))
    return cmds


def bench_orderbook() -> list[Row]:
    """Order book ops/s on one seeded stream: ours vs liquibook vs pyorderbook.

    The engines run A/B alternately, ``REPEATS`` times, on the same stream of
    ``BOOK_OPS`` operations (70 % GTC limit orders, 30 % cancels); each run
    collects every trade (liquibook through its ``on_fill`` callback). pyorderbook
    is about 15x slower, so it plays the first ``PYORDERBOOK_OPS`` operations.
    Our event-sourced path (``Stream.handle``: decide, seal into the SHA-256
    chain, evolve re-matching and checking the fills) and decide + evolve alone
    are shown too; liquibook has no equivalent of those.
    """
    from bidding.base import Stream
    from bidding.errors import Rejected
    from bidding.events import Envelope
    from bidding.orderbook import ORDER_BOOK

    ops = make_stream(BOOK_OPS, seed=99)
    small = ops[:PYORDERBOOK_OPS]
    assert run_ours(ops) == run_liquibook(ops), "engines disagree: run the differential test"
    cmds = _book_commands(ops)

    def stream_path() -> None:
        s = Stream.create(ORDER_BOOK, "bench", {}, 0, keep_log=False)
        handle = s.handle
        for i, cmd in enumerate(cmds):
            try:  # noqa: SIM105 (suppress() costs a call per op in a timed loop)
                handle(cmd, i)
            except Rejected:
                pass

    def format_path() -> None:
        state = ORDER_BOOK.initial(ORDER_BOOK.normalize_params({}))
        decide, evolve = ORDER_BOOK.decide, ORDER_BOOK.evolve
        for i, cmd in enumerate(cmds):
            try:
                new = decide(state, cmd, i)
            except Rejected:
                continue
            for type_, payload in new:
                evolve(state, Envelope("b", i, "", i, type_, "u", cmd.command_id, payload, ""))

    runs: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("ours", "liquibook", "pyorderbook", "stream", "format")
    }
    for r in range(REPEATS):
        runs["ours"].append(_cpu_rate(len(ops), lambda: run_ours(ops)))
        runs["liquibook"].append(_cpu_rate(len(ops), lambda: run_liquibook(ops)))
        if r < 3:
            runs["pyorderbook"].append(_cpu_rate(len(small), lambda: run_pyorderbook(small)))
            runs["stream"].append(_cpu_rate(len(ops), stream_path))
            runs["format"].append(_cpu_rate(len(ops), format_path))
    cpu = {k: _median([c for c, _ in v]) for k, v in runs.items()}
    wall = {k: _median([w for _, w in v]) for k, v in runs.items()}
    lq, po = cpu["liquibook"], cpu["pyorderbook"]
    verdict = "meets" if cpu["ours"] >= lq else "BELOW"
    return [
        (
            "orderbook",
            "ours: Book engine (limit/cancel, fills collected)",
            cpu["ours"],
            f"{cpu['ours'] / lq:.2f}x liquibook ({verdict} target), "
            f"{cpu['ours'] / po:.1f}x pyorderbook; wall {wall['ours']:,.0f}/s",
        ),
        ("orderbook", "liquibook 2.0.1 (C++ via SWIG, on_fill listener)", lq,
         f"wall {wall['liquibook']:,.0f}/s"),
        ("orderbook", f"pyorderbook 0.4.9 (first {PYORDERBOOK_OPS:,} ops)", po,
         f"wall {wall['pyorderbook']:,.0f}/s"),
        ("orderbook", "ours: Stream.handle (decide + hash chain + evolve)", cpu["stream"],
         f"{cpu['stream'] / lq:.2f}x liquibook; wall {wall['stream']:,.0f}/s"),
        ("orderbook", "ours: decide + evolve (no envelope hash)", cpu["format"],
         f"{cpu['format'] / lq:.2f}x liquibook; wall {wall['format']:,.0f}/s"),
    ]  # fmt: skip


def flash_commands(n: int, seed: int = 5) -> tuple[dict[str, Any], list[tuple[Any, int]]]:
    """A seeded flash-sale command stream: reserves, confirms, releases, timer ticks.

    20,000 buyers, stock n/4 units, limit 2, TTL 2 s; about half the holds are
    confirmed, a tenth released, the rest expire through ticks; buyers who find
    the stock held join the waitlist and get promoted.
    """
    from bidding.base import Stream, Tick
    from bidding.errors import Rejected
    from bidding.flash import FLASH_SALE, Confirm, Release, Reserve

    params = {"price": 1999, "stock": n // 4, "per_buyer_limit": 2, "hold_ttl_ms": 2000}
    rng = random.Random(seed)
    s = Stream.create(FLASH_SALE, "bench", params, 0, keep_log=False)
    cmds: list[tuple[Any, int]] = []
    now = 0
    pending: list[str] = []
    for i in range(n):
        now += rng.randrange(0, 3)
        deadline = s.next_deadline()
        cmd: Any
        if deadline is not None and deadline <= now:
            cmd = Tick(f"t{i}")
        elif pending and rng.random() < 0.6:
            hold_id = pending.pop(rng.randrange(len(pending)))
            hold = s.state.holds.get(hold_id)
            if hold is None:
                continue
            kind = Confirm if rng.random() < 0.85 else Release
            cmd = kind(f"c{i}", hold[0], hold_id)
        else:
            cmd = Reserve(f"c{i}", f"buyer-{rng.randrange(20_000)}", rng.randint(1, 2))
        try:
            for env in s.handle(cmd, now):
                if env.type == "hold_placed":
                    pending.append(env.payload["hold_id"])
        except Rejected:
            pass
        cmds.append((cmd, now))
    return params, cmds


def bench_flash() -> list[Row]:
    """Flash-sale commands/s: ``Stream.handle`` and decide + evolve alone."""
    from bidding.base import Stream
    from bidding.errors import Rejected
    from bidding.events import Envelope
    from bidding.flash import FLASH_SALE

    params, cmds = flash_commands(FLASH_CMDS)

    def stream_path() -> None:
        s = Stream.create(FLASH_SALE, "bench", params, 0, keep_log=False)
        handle = s.handle
        for cmd, now in cmds:
            try:  # noqa: SIM105 (suppress() costs a call per op in a timed loop)
                handle(cmd, now)
            except Rejected:
                pass

    def format_path() -> None:
        state = FLASH_SALE.initial(FLASH_SALE.normalize_params(params))
        decide, evolve = FLASH_SALE.decide, FLASH_SALE.evolve
        for cmd, now in cmds:
            try:
                new = decide(state, cmd, now)
            except Rejected:
                continue
            for type_, payload in new:
                evolve(state, Envelope("b", 0, "", now, type_, cmd.actor, "", payload, ""))

    stream_runs = [_cpu_rate(len(cmds), stream_path) for _ in range(REPEATS)]
    format_runs = [_cpu_rate(len(cmds), format_path) for _ in range(REPEATS)]
    final = Stream.create(FLASH_SALE, "bench", params, 0, keep_log=False)
    rejected = 0
    for cmd, now in cmds:
        try:
            final.handle(cmd, now)
        except Rejected:
            rejected += 1
    st = final.state
    mix = f"{len(cmds):,} cmds, {rejected:,} rejected, sold {st.sold:,}/{params['stock']:,}"
    return [
        ("flash", "command: Stream.handle (decide + hash chain + evolve)",
         _median([c for c, _ in stream_runs]),
         f"{mix}; wall {_median([w for _, w in stream_runs]):,.0f}/s"),
        ("flash", "command: decide + evolve (no envelope hash)",
         _median([c for c, _ in format_runs]),
         f"wall {_median([w for _, w in format_runs]):,.0f}/s"),
    ]  # fmt: skip


def main() -> None:
    """Run the two sections alone (bench_core.py runs them with the others)."""
    rows = bench_orderbook() + bench_flash()
    width = max(len(r[1]) for r in rows)
    print(f"{'section':<10} {'what':<{width}} {'ops/s (CPU)':>12}  note")
    for name, what, rate, note in rows:
        print(f"{name:<10} {what:<{width}} {rate:>12,.0f}  {note}")


if __name__ == "__main__":
    main()
