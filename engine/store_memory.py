"""In-memory journal and record store: for pure unit tests and benchmarks only.

Why it exists: the actor and registry logic can be exercised without a network, and the
contract suite proves it behaves like the real stores. It is never a stand-in for the
real-store tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import SequenceError
from engine.store import Journal, JournalEntry, RecordStore, Snapshot


class MemoryJournal(Journal):
    def __init__(self) -> None:
        self._streams: dict[str, list[dict[str, Any]]] = {}
        self.feed: list[JournalEntry] = []

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        staged: dict[str, int] = {}
        for entry in entries:  # check everything first: all or nothing, like MULTI/EXEC
            ev = entry.event
            stream = ev["stream_id"]
            last = staged.get(stream)
            if last is None:
                held = self._streams.get(stream)
                last = held[-1]["seq"] if held else 0
            if ev["seq"] <= last:
                raise SequenceError(f"{stream}: seq {ev['seq']} is not after {last}")
            staged[stream] = ev["seq"]
        for entry in entries:
            self._streams.setdefault(entry.stream_id, []).append(dict(entry.event))
            self.feed.append(entry)

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        out = [dict(e) for e in self._streams.get(stream, []) if e["seq"] > after_seq]
        return out if count is None else out[:count]

    async def first_seq(self, stream: str) -> int:
        held = self._streams.get(stream)
        return held[0]["seq"] if held else 0

    async def last_seq(self, stream: str) -> int:
        held = self._streams.get(stream)
        return held[-1]["seq"] if held else 0

    async def streams(self) -> list[str]:
        return sorted(self._streams)

    async def trim(self, stream: str, below_seq: int) -> None:
        held = self._streams.get(stream)
        if held is not None:
            self._streams[stream] = [e for e in held if e["seq"] >= below_seq]

    async def ping(self) -> bool:
        return True


class MemoryRecordStore(RecordStore):
    def __init__(self) -> None:
        self._events: dict[str, dict[int, dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._snapshots: dict[str, Snapshot] = {}

    async def append(self, events: Sequence[Mapping[str, Any]]) -> int:
        for ev in events:
            held = self._events.get(ev["stream_id"], {}).get(ev["seq"])
            if held is not None and held["hash"] != ev["hash"]:
                raise SequenceError(f"{ev['stream_id']} seq {ev['seq']}: a different event is already stored")
        new = 0
        for ev in events:
            bucket = self._events.setdefault(ev["stream_id"], {})
            if ev["seq"] not in bucket:
                bucket[ev["seq"]] = dict(ev)
                new += 1
        return new

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        bucket = self._events.get(stream, {})
        out = [dict(bucket[s]) for s in sorted(bucket) if s > after_seq]
        return out if count is None else out[:count]

    async def upsert_views(self, views: Sequence[Mapping[str, Any]]) -> None:
        for view in views:
            held = self._views.get(view["id"])
            if held is None or held["seq"] < view["seq"]:
                self._views[view["id"]] = dict(view)

    async def get_auction(self, auction_id: str) -> dict[str, Any] | None:
        held = self._views.get(auction_id)
        return None if held is None else dict(held)

    async def list_auctions(self) -> list[dict[str, Any]]:
        return [dict(v) for _, v in sorted(self._views.items(), key=lambda kv: (kv[1]["created_ms"], kv[0]))]

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        held = self._snapshots.get(snapshot.stream)
        if held is None or held.seq < snapshot.seq:
            self._snapshots[snapshot.stream] = snapshot

    async def latest_snapshot(self, stream: str) -> Snapshot | None:
        return self._snapshots.get(stream)

    async def held_seq(self, stream: str) -> int:
        bucket = self._events.get(stream)
        return max(bucket) if bucket else 0

    async def ping(self) -> bool:
        return True
