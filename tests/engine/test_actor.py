"""The actor: acks after durability, nothing half-applied on a failed write, idempotent
repeats, and timers on a ManualClock (no real time)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import pytest

from bidding import Envelope, Rejected
from bidding.base import PlaceBid
from engine.clock import ManualClock
from engine.commit import GroupCommitter
from engine.errors import Unavailable
from engine.registry import Registry
from engine.store import JournalEntry
from engine.store_memory import MemoryJournal, MemoryRecordStore

START = 1_700_000_000_000
PARAMS = {"currency": "EUR", "opening": 100, "start": START, "end": START + 60_000}


class FlakyJournal(MemoryJournal):
    """A memory journal that can be switched off, like a Redis that went away."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        if self.down:
            raise Unavailable("journal down")
        await super().append(entries)

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict]:  # type: ignore[type-arg]
        if self.down:
            raise Unavailable("journal down")
        return await super().read(stream, after_seq, count)


def make_registry(clock: ManualClock, journal: MemoryJournal | None = None) -> Registry:
    journal = journal or MemoryJournal()
    return Registry(journal, MemoryRecordStore(), clock, committer=GroupCommitter(journal))


async def test_bids_are_acknowledged_with_their_durable_events() -> None:
    clock = ManualClock(START)
    registry = make_registry(clock)
    actor = await registry.create("english", PARAMS)
    seen: list[Sequence[Envelope]] = []
    registry.add_listener(lambda _sid, evs: seen.append(evs))
    events = await actor.submit(PlaceBid("b1", "alice", 150))
    assert [e.seq for e in events] == [2] and events[0].payload["price"] == 100
    assert [e["seq"] for e in await registry.journal.read(actor.stream_id)] == [1, 2]
    assert actor.durable_version == 2 and [e.seq for batch in seen for e in batch] == [2]
    # A repeat of the same command returns the first outcome and writes nothing.
    again = await actor.submit(PlaceBid("b1", "alice", 150))
    assert again == events and await registry.journal.last_seq(actor.stream_id) == 2
    with pytest.raises(Rejected) as refused:
        await actor.submit(PlaceBid("b2", "bob", 101))
    assert refused.value.code == "bid_too_low"
    await registry.stop()


async def test_concurrent_commands_share_one_batch_in_arrival_order() -> None:
    clock = ManualClock(START)
    registry = make_registry(clock)
    actor = await registry.create("english", PARAMS)
    futures = [actor.submit_nowait(PlaceBid(f"b{i}", f"u{i}", 100 + 100 * i)) for i in range(1, 21)]
    results = await asyncio.gather(*futures)
    assert [r[0].seq for r in results] == list(range(2, 22))
    assert actor.statistics().batches == 1
    await registry.stop()


async def test_failed_write_acknowledges_nothing_and_keeps_nothing() -> None:
    clock = ManualClock(START)
    journal = FlakyJournal()
    registry = make_registry(clock, journal)
    actor = await registry.create("english", PARAMS)
    await actor.submit(PlaceBid("b1", "alice", 150))
    before = actor.stream.state_hash()
    journal.down = True
    with pytest.raises(Unavailable):
        await actor.submit(PlaceBid("b2", "bob", 300))
    with pytest.raises(Unavailable):  # still down: refused at once, not hung
        await asyncio.wait_for(actor.submit(PlaceBid("b3", "bob", 400)), 2)
    journal.down = False
    events = await actor.submit(PlaceBid("b4", "carol", 500))
    assert events[0].seq == 3, "the unacknowledged bid left no trace"
    assert actor.stream.state_hash() != before
    assert [e["command_id"] for e in await journal.read(actor.stream_id)] == ["create", "b1", "b4"]
    await registry.stop()


async def test_timer_closes_at_the_current_end_without_real_time() -> None:
    clock = ManualClock(START)
    registry = make_registry(clock)
    actor = await registry.create(
        "english", {**PARAMS, "close": "soft", "window": 10_000, "extension": 10_000}
    )
    await actor.submit(PlaceBid("b1", "alice", 150))
    clock.set(START + 55_000)  # inside the final window: the bid extends the end
    events = await actor.submit(PlaceBid("b2", "bob", 300))
    extended = events[0].payload["end"]
    assert extended == START + 70_000
    clock.set(START + 60_000)  # the original end passes: still open
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert actor.stream.state.status == "open"
    clock.set(extended)
    for _ in range(50):
        if actor.stream.state.status == "closed":
            break
        await asyncio.sleep(0)
    assert actor.stream.state.status == "closed"
    assert [a.bidder for a in actor.stream.result() or []] == ["bob"]
    with pytest.raises(Rejected) as late:
        await actor.submit(PlaceBid("b3", "carol", 900))
    assert late.value.code == "closed"
    await registry.stop()


async def test_flash_hold_expiry_timer_hands_the_stock_to_the_waitlist() -> None:
    from bidding.flash import Reserve

    clock = ManualClock(START)
    registry = make_registry(clock)
    sale = await registry.create(
        "flash", {"price": 500, "stock": 1, "hold_ttl_ms": 1000, "end": START + 60_000}
    )
    await sale.submit(Reserve("r1", "alice"))
    await sale.submit(Reserve("r2", "bob"))  # no stock left: bob waits
    assert [h[0] for h in sale.stream.state.holds.values()] == ["alice"]
    clock.set(START + 1000)  # alice's hold expires; no command arrives, only the timer
    for _ in range(50):
        if [h[0] for h in sale.stream.state.holds.values()] == ["bob"]:
            break
        await asyncio.sleep(0)
    assert [h[0] for h in sale.stream.state.holds.values()] == ["bob"]
    assert sale.stream.state.closed is False
    await registry.stop()


async def test_snapshots_keep_their_period_at_a_phase_of_their_own() -> None:
    """Auctions bid on in lockstep must not all snapshot in the same turn (one stall for
    every acked bid behind it), yet each still snapshots once per ``snapshot_every``."""
    clock = ManualClock(START)
    journal = MemoryJournal()
    records = MemoryRecordStore()
    saved: list[tuple[str, int]] = []
    save = records.save_snapshot

    async def recording_save(snapshot):  # type: ignore[no-untyped-def]
        saved.append((snapshot.stream, snapshot.seq))
        await save(snapshot)

    records.save_snapshot = recording_save  # type: ignore[method-assign]
    registry = Registry(journal, records, clock, committer=GroupCommitter(journal), snapshot_every=10)
    actors = [await registry.create("english", PARAMS) for _ in range(8)]
    for i in range(1, 41):  # one bid per auction per round: 41 events each
        for actor in actors:
            await actor.submit(PlaceBid(f"b{i}", f"u{i % 2}", 100 + 100 * i))
    await asyncio.sleep(0)
    per_stream: dict[str, list[int]] = {}
    for stream, seq in saved:
        per_stream.setdefault(stream, []).append(seq)
    assert set(per_stream) == {a.stream_id for a in actors}
    for seqs in per_stream.values():
        assert len(seqs) == 4 and all(b - a == 10 for a, b in itertools.pairwise(seqs))
    # the phases differ: not every auction snapshots at the same seqs
    assert len({tuple(seqs) for seqs in per_stream.values()}) > 1
    await registry.stop()


async def test_acks_are_settled_before_listeners_hear_of_the_batch() -> None:
    """Listeners (rooms, webhooks) run after the batch's futures are resolved, so the
    submitters resume before anything a listener schedules (server.rooms defers long
    fan-outs by one turn and the acks go out first)."""
    clock = ManualClock(START)
    registry = make_registry(clock)
    actor = await registry.create("english", PARAMS)
    futures = [actor.submit_nowait(PlaceBid(f"b{i}", f"u{i}", 100 + 100 * i)) for i in range(1, 4)]
    done_when_published: list[bool] = []
    registry.add_listener(lambda _sid, _evs: done_when_published.extend(f.done() for f in futures))
    await asyncio.gather(*futures)
    assert done_when_published == [True, True, True]
    await registry.stop()


async def test_a_burst_sends_few_projection_rows_and_its_last_state_once_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows ride on a batch only every VIEW_INTERVAL_S (or VIEW_EVERY events); the last
    state of the burst reaches the record store on its own once the actor is idle."""
    import engine.actor as actor_module
    from engine.projection import auction_row

    monkeypatch.setattr(actor_module, "VIEW_INTERVAL_S", 0.3)
    clock = ManualClock(START)
    journal = MemoryJournal()
    records = MemoryRecordStore()
    registry = Registry(journal, records, clock, committer=GroupCommitter(journal))
    actor = await registry.create("english", PARAMS)
    for i in range(10):  # ten batches, each leaving the mailbox empty
        await actor.submit(PlaceBid(f"b{i}", f"u{i % 3}", 200 + 100 * i))
    rows = [e.view for e in journal.feed if e.view is not None]
    assert [r["seq"] for r in rows] == [1, 2]  # the created row and the burst's first
    assert await records.get_auction(actor.stream_id) is None  # nothing sent directly yet
    await asyncio.sleep(0.6)
    row = await records.get_auction(actor.stream_id)
    last = (await registry.journal.read(actor.stream_id))[-1]
    assert row is not None and row["seq"] == 11 == last["seq"]
    expected = auction_row(actor.stream, Envelope.from_dict(last), actor.created)
    assert {k: row[k] for k in ("price", "leader", "status", "updated_ms")} == {
        k: expected[k] for k in ("price", "leader", "status", "updated_ms")
    }
    await registry.stop()


async def test_the_actor_writes_a_row_itself_only_after_a_quiet_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While writes keep coming, rows ride on the batches; the actor writes the row to
    the record store itself only after VIEW_INTERVAL_S without a write (here 300 ms:
    a write at 320 ms keeps it from sending at 330 ms, when its timer first expires)."""
    import engine.actor as actor_module

    monkeypatch.setattr(actor_module, "VIEW_INTERVAL_S", 0.3)
    loop = asyncio.get_running_loop()
    journal = MemoryJournal()
    records = MemoryRecordStore()
    registry = Registry(journal, records, ManualClock(START), committer=GroupCommitter(journal))
    actor = await registry.create("english", PARAMS)
    t0 = loop.time()

    async def bid_at(ms: int, n: int) -> None:
        await asyncio.sleep(max(0.0, t0 + ms / 1000 - loop.time()))
        await actor.submit(PlaceBid(f"q{n}", f"u{n % 3}", 200 + 10_000 * n))

    for n, ms in enumerate((0, 30, 310, 320)):  # the timer armed at 30 expires at 330
        await bid_at(ms, n)
    await asyncio.sleep(max(0.0, t0 + 0.45 - loop.time()))
    assert await records.get_auction(actor.stream_id) is None  # 130 ms quiet: not yet
    for _ in range(100):  # 300 ms after the last write it arrives on its own
        row = await records.get_auction(actor.stream_id)
        if row is not None:
            break
        await asyncio.sleep(0.01)
    assert row is not None and row["seq"] == 5
    assert loop.time() - t0 >= 0.6
    await registry.stop()
