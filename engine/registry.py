"""Spawn, find and stop auction actors; rebuild them from the durable log.

Why rebuild by replay: the log is the truth. An actor that is not in memory (after a
restart, or after a failed write) is rebuilt from its events, Redis first (the hot log)
and Postgres when Redis has nothing, and its state hash is whatever the replay gives.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bidding import Envelope, Stream, get_format, replay
from engine.actor import AuctionActor
from engine.clock import Clock
from engine.errors import NotFound
from engine.formats import load_formats
from engine.journal_redis import RedisJournal
from engine.projection import auction_row
from engine.store_postgres import PostgresStore

Listener = Callable[[str, Sequence[Envelope]], None]


def _envelope(d: Mapping[str, Any]) -> Envelope:
    return Envelope.from_dict(d, verify=False)


class Registry:
    """All live actors of this process, keyed by stream id."""

    def __init__(self, journal: RedisJournal, records: PostgresStore, clock: Clock) -> None:
        load_formats()
        self.journal = journal
        self.records = records
        self.clock = clock
        self._actors: dict[str, AuctionActor] = {}
        self._loading: dict[str, asyncio.Future[AuctionActor]] = {}
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Called with every durable batch of events, in order, per stream."""
        self._listeners.append(listener)

    def _publish(self, stream_id: str, events: Sequence[Envelope]) -> None:
        for listener in self._listeners:
            listener(stream_id, events)

    async def _persist(self, events: Sequence[Envelope]) -> None:
        dicts = [e.to_dict() for e in events]
        await self.journal.append(dicts)
        await self.records.append(dicts)
        actor = self._actors.get(events[-1].stream_id)
        if actor is not None:
            await self.records.upsert_auction(auction_row(actor.stream, events[-1]))

    async def load_events(self, stream_id: str) -> list[dict[str, Any]]:
        events = await self.journal.read(stream_id)
        if not events or events[0]["seq"] != 1:
            stored = await self.records.read(stream_id)
            if len(stored) > len(events):
                events = stored
        return events

    async def _rebuild(self, stream_id: str) -> Stream[Any]:
        events = await self.load_events(stream_id)
        if not events:
            raise NotFound(f"no auction {stream_id!r}")
        return replay(_envelope(e) for e in events)

    def _spawn(self, stream: Stream[Any]) -> AuctionActor:
        stream_id = stream.stream_id
        actor = AuctionActor(
            stream,
            clock=self.clock,
            persist=self._persist,
            publish=self._publish,
            reload=lambda: self._rebuild(stream_id),
        )
        self._actors[stream_id] = actor
        actor.start()
        return actor

    async def create(self, kind: str, params: Mapping[str, Any], *, actor: str = "host",
                     stream_id: str | None = None) -> AuctionActor:  # fmt: skip
        """Create a new auction: its ``created`` event is durable before this returns."""
        fmt = get_format(kind)
        stream_id = stream_id or f"a_{secrets.token_hex(8)}"
        stream = Stream.create(fmt, stream_id, params, self.clock.now(), actor=actor)
        assert stream.log is not None
        first = stream.log[0]
        await self.journal.append([first.to_dict()])
        await self.records.append([first.to_dict()])
        await self.records.upsert_auction(auction_row(stream, first))
        return self._spawn(stream)

    async def get(self, stream_id: str) -> AuctionActor:
        """The live actor for ``stream_id``, rebuilding it from the log if needed."""
        actor = self._actors.get(stream_id)
        if actor is not None:
            return actor
        pending = self._loading.get(stream_id)
        if pending is not None:
            return await pending
        fut: asyncio.Future[AuctionActor] = asyncio.get_running_loop().create_future()
        self._loading[stream_id] = fut
        try:
            actor = self._spawn(await self._rebuild(stream_id))
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

    async def stop(self) -> None:
        for actor in list(self._actors.values()):
            await actor.stop()
        self._actors.clear()
