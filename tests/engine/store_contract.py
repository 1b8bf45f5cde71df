"""One contract for every Journal and RecordStore implementation.

Subclasses provide ``make_journal`` / ``make_records`` (the real Redis and Postgres ones,
and memory); every test here runs against each, like eventsourcing's recorder suites.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from engine.errors import SequenceError
from engine.store import Journal, JournalEntry, RecordStore, Snapshot


def event(stream: str, seq: int, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"stream_id": stream, "seq": seq, "payload": payload or {"n": seq}}
    digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()
    return {
        "stream_id": stream,
        "seq": seq,
        "prev_hash": "0" * 64,
        "time": 1000 + seq,
        "type": "created" if seq == 1 else "bid",
        "actor": "alice",
        "command_id": f"c{seq}",
        "payload": payload or {"n": seq},
        "hash": digest,
    }


def entries(stream: str, seqs: range) -> list[JournalEntry]:
    return [JournalEntry(event(stream, s)) for s in seqs]


class JournalContract:
    async def make_journal(self) -> Journal:
        raise NotImplementedError

    async def test_append_then_read_in_order(self) -> None:
        j = await self.make_journal()
        await j.append(entries("a", range(1, 4)))
        await j.append(entries("b", range(1, 2)))
        assert [e["seq"] for e in await j.read("a")] == [1, 2, 3]
        assert await j.read("a", after_seq=2) == [event("a", 3)]
        assert [e["seq"] for e in await j.read("a", count=2)] == [1, 2]
        assert await j.last_seq("a") == 3 and await j.first_seq("a") == 1
        assert await j.last_seq("nope") == 0 and await j.read("nope") == []
        assert await j.streams() == ["a", "b"]

    async def test_refuses_duplicate_or_backward_seq_and_writes_nothing(self) -> None:
        j = await self.make_journal()
        await j.append(entries("a", range(1, 3)))
        with pytest.raises(SequenceError):
            await j.append(entries("a", range(2, 4)))
        assert [e["seq"] for e in await j.read("a")] == [1, 2]

    async def test_batches_fail_independently(self) -> None:
        j = await self.make_journal()
        await j.append(entries("a", range(1, 3)))
        outcomes = await j.append_batches([entries("a", range(1, 2)), entries("b", range(1, 3))])
        assert isinstance(outcomes[0], SequenceError) and outcomes[1] is None
        assert [e["seq"] for e in await j.read("b")] == [1, 2]
        assert [e["seq"] for e in await j.read("a")] == [1, 2]

    async def test_trim_drops_only_below(self) -> None:
        j = await self.make_journal()
        await j.append(entries("a", range(1, 6)))
        await j.trim("a", 4)
        assert [e["seq"] for e in await j.read("a")] == [4, 5]
        assert await j.first_seq("a") == 4 and await j.last_seq("a") == 5
        await j.append(entries("a", range(6, 7)))
        assert await j.last_seq("a") == 6

    async def test_ping(self) -> None:
        assert await (await self.make_journal()).ping()


class RecordStoreContract:
    async def make_records(self) -> RecordStore:
        raise NotImplementedError

    async def test_append_is_idempotent(self) -> None:
        r = await self.make_records()
        assert await r.append([event("a", 1), event("a", 2)]) == 2
        assert await r.append([event("a", 2), event("a", 3)]) == 1
        assert [e["seq"] for e in await r.read("a")] == [1, 2, 3]
        assert await r.read("a", after_seq=2) == [event("a", 3)]
        assert [e["seq"] for e in await r.read("a", count=2)] == [1, 2]
        assert await r.held_seq("a") == 3 and await r.held_seq("b") == 0

    async def test_different_event_at_same_place_is_refused_atomically(self) -> None:
        r = await self.make_records()
        await r.append([event("a", 1)])
        with pytest.raises(SequenceError):
            await r.append([event("a", 2), event("a", 1, {"forged": True})])
        assert [e["seq"] for e in await r.read("a")] == [1]

    async def test_views_never_move_backwards(self) -> None:
        r = await self.make_records()
        row = {
            "id": "a", "format": "english", "params": {"currency": "EUR"}, "status": "open",
            "currency": "EUR", "price": 100, "leader": "alice", "seq": 2, "created_ms": 1, "updated_ms": 2,
        }  # fmt: skip
        await r.upsert_views([row])
        await r.upsert_views([{**row, "seq": 1, "price": 50}])
        got = await r.get_auction("a")
        assert got is not None and got["price"] == 100 and got["seq"] == 2
        await r.upsert_views(
            [{**row, "seq": 3, "price": 175, "leader": "bob"}, {**row, "seq": 4, "price": 200}]
        )
        got = await r.get_auction("a")
        assert got is not None and got["price"] == 200 and got["seq"] == 4
        assert [a["id"] for a in await r.list_auctions()] == ["a"]
        assert await r.get_auction("zzz") is None

    async def test_snapshots_latest_wins(self) -> None:
        r = await self.make_records()
        assert await r.latest_snapshot("a") is None
        await r.save_snapshot(Snapshot("a", 10, "h10", b"ten"))
        await r.save_snapshot(Snapshot("a", 20, "h20", b"twenty"))
        await r.save_snapshot(Snapshot("a", 20, "h20", b"twenty"))
        assert await r.latest_snapshot("a") == Snapshot("a", 20, "h20", b"twenty")

    async def test_ping(self) -> None:
        assert await (await self.make_records()).ping()
