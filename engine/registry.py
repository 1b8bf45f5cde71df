"""Spawn, find and stop auction actors; rebuild them from the durable log.

Why rebuild by replay: the log is the truth. An actor that is not in memory (after a
restart, or after a failed write) is rebuilt from its latest snapshot plus the events
after it (Redis, the hot log; Postgres for whatever Redis has trimmed), checking seq
continuity, the hash chain and the snapshot's state hash. On start every auction the
journal knows is rebuilt, so its timers are re-armed: one whose end passed while the
server was down closes at once, by the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bidding import Envelope, Stream, get_format, replay
from engine.actor import SNAPSHOT_EVERY, SNAPSHOT_LAYOUT, AuctionActor
from engine.clock import Clock
from engine.commit import GroupCommitter
from engine.draw_format import DRAW_FORMAT
from engine.draw_service import DrawService
from engine.draw_store import DrawStore
from engine.errors import NotFound, Unavailable
from engine.formats import load_formats
from engine.projection import auction_row
from engine.store import Journal, JournalEntry, RecordStore

log = logging.getLogger("fairlot.registry")

Listener = Callable[[str, Sequence[Envelope]], None]


def envelope(d: Mapping[str, Any]) -> Envelope:
    return Envelope.from_dict(d, verify=False)


class Registry:
    """All live actors of this process, keyed by stream id."""

    def __init__(
        self,
        journal: Journal,
        records: RecordStore,
        clock: Clock,
        *,
        committer: GroupCommitter | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        load_formats()
        self.journal = journal
        self.records = records
        self.clock = clock
        self.committer = committer or GroupCommitter(journal)
        self.snapshot_every = snapshot_every
        self._actors: dict[str, AuctionActor] = {}
        self._loading: dict[str, asyncio.Future[AuctionActor]] = {}
        self._listeners: list[Listener] = []
        #: Durable draws (``draw:<id>`` streams of the ``draw`` format) and host API keys.
        assert DRAW_FORMAT.kind == "draw"  # imported above: registered before any replay
        self.draws = DrawService(self, DrawStore(getattr(records, "pool", None)), clock)

    async def _save_view(self, row: Mapping[str, Any]) -> None:
        await self.records.upsert_views([row])

    def add_listener(self, listener: Listener) -> None:
        """Called with every durable batch of events, in order, per stream."""
        self._listeners.append(listener)

    def _publish(self, stream_id: str, events: Sequence[Envelope]) -> None:
        for listener in self._listeners:
            listener(stream_id, events)

    # -- loading --------------------------------------------------------------------

    async def load_events(self, stream_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
        """Events after ``after_seq``: Redis, with Postgres filling what Redis trimmed."""
        events = await self.journal.read(stream_id, after_seq)
        if not events or events[0]["seq"] != after_seq + 1:
            older = await self.records.read(stream_id, after_seq)
            covered = older[-1]["seq"] if older else after_seq
            events = older + [e for e in events if e["seq"] > covered]
        return events

    async def _snapshot(self, stream_id: str) -> tuple[Stream[Any], int] | None:
        """The latest snapshot's stream (memory empty) and the seq its memory starts at."""
        try:
            snap = await self.records.latest_snapshot(stream_id)
        except Unavailable:
            return None  # Postgres down: replay everything from Redis instead
        if snap is None:
            return None
        try:
            layout, memory_start, stream = pickle.loads(snap.blob)
        except Exception as exc:
            log.warning("snapshot of %s at %d unreadable (%s): full replay", stream_id, snap.seq, exc)
            return None
        if (
            layout != SNAPSHOT_LAYOUT
            or not isinstance(stream, Stream)
            or not isinstance(memory_start, int)
            or not 1 <= memory_start <= snap.seq + 1
            or stream.version != snap.seq
            or stream.state_hash() != snap.state_hash
        ):
            log.warning("snapshot of %s at %d does not match its hash: full replay", stream_id, snap.seq)
            return None
        return stream, memory_start

    async def rebuild(self, stream_id: str) -> tuple[Stream[Any], Envelope]:
        """The stream as the durable log says, and its created event."""
        snapshot = await self._snapshot(stream_id)
        if snapshot is None:
            events = await self.load_events(stream_id)
            if not events:
                raise NotFound(f"no auction {stream_id!r}")
            stream = replay(envelope(e) for e in events)
            assert stream.log is not None
            first = stream.log[0]
            stream.log = None
            return stream, first
        head = await self.journal.read(stream_id, 0, count=1)
        if head and head[0]["seq"] == 1:
            first = envelope(head[0])
        else:
            older = await self.records.read(stream_id, 0, count=1)  # only its created event
            if not older:
                raise NotFound(f"no auction {stream_id!r}")
            first = envelope(older[0])
        stream, memory_start = snapshot
        known: list[Envelope] = []
        for e in await self.load_events(stream_id, memory_start - 1):
            env = envelope(e)
            if env.seq <= stream.version:
                known.append(env)  # already in the state: only the idempotency memory
            else:
                if known:
                    stream.relearn(known)
                    known = []
                stream.apply(env)
        stream.relearn(known)
        return stream, first

    def _spawn(self, stream: Stream[Any], created: Envelope) -> AuctionActor:
        stream_id = stream.stream_id

        async def reload() -> Stream[Any]:
            return (await self.rebuild(stream_id))[0]

        async def backlog(after_seq: int) -> list[Envelope]:
            return [envelope(e) for e in await self.load_events(stream_id, after_seq)]

        actor = AuctionActor(
            stream,
            clock=self.clock,
            commit=self.committer.commit,
            publish=self._publish,
            reload=reload,
            save_snapshot=self.records.save_snapshot,
            save_view=self._save_view,
            backlog=backlog,
            created=created,
            snapshot_every=self.snapshot_every,
            enqueue=self.committer.enqueue if self.committer.running else None,
        )
        self._actors[stream_id] = actor
        actor.start()
        self.draws.on_spawn(actor)
        return actor

    # -- public ---------------------------------------------------------------------

    async def create(
        self, kind: str, params: Mapping[str, Any], *, actor: str = "host", stream_id: str | None = None
    ) -> AuctionActor:
        """Create a new auction: its ``created`` event is durable before this returns."""
        fmt = get_format(kind)
        stream_id = stream_id or f"a_{secrets.token_hex(8)}"
        stream = Stream.create(fmt, stream_id, params, self.clock.now(), actor=actor)
        assert stream.log is not None
        first = stream.log[0]
        stream.log = None
        await self.committer.commit([JournalEntry(first.to_dict(), auction_row(stream, first, first))])
        return self._spawn(stream, first)

    async def get(self, stream_id: str) -> AuctionActor:
        """The live actor for ``stream_id``, rebuilding it from the log if needed."""
        actor = self._actors.get(stream_id)
        if actor is not None:
            return actor
        pending = self._loading.get(stream_id)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[AuctionActor] = asyncio.get_running_loop().create_future()
        self._loading[stream_id] = fut
        try:
            stream, created = await self.rebuild(stream_id)
            actor = self._spawn(stream, created)
            fut.set_result(actor)
            return actor
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._loading[stream_id]

    def peek(self, stream_id: str) -> AuctionActor | None:
        return self._actors.get(stream_id)

    def actors(self) -> list[AuctionActor]:
        return list(self._actors.values())

    async def recover(self) -> list[str]:
        """Rebuild every auction the journal knows and arm its timers; return their ids."""
        ids = set(await self.journal.streams())
        with contextlib.suppress(Unavailable):  # Postgres down: the journal's list will do
            ids.update(row["id"] for row in await self.records.list_auctions())
        recovered = []
        for stream_id in sorted(ids):
            try:
                await self.get(stream_id)
            except NotFound:
                continue
            recovered.append(stream_id)
        await self.draws.recover()
        return recovered

    async def stop(self) -> None:
        await self.draws.stop()
        for actor in list(self._actors.values()):
            await actor.stop()
        self._actors.clear()
