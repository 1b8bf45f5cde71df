"""Rooms: who watches which auction, and fan-out of its durable events.

Why encode once per codec per batch: with thousands of viewers, the encode is the cost
that must not multiply; every connection of a codec gets the very same frame object.
Why a bounded queue per connection: one viewer that stops reading must not hold memory
or slow the room; when its queue is full it is closed with ``slow_consumer`` (4008) and
may resume with ``since=<seq>``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bidding import Envelope
from engine.projection import public_event_data
from protocol import Batch, Event, codec_for_subprotocol

if TYPE_CHECKING:
    from engine.registry import Registry
    from server.ws import Connection


def to_event(env: Envelope) -> Event:
    return Event(room=env.stream_id, seq=env.seq, kind=env.type, time=env.time, data=public_event_data(env))


def encode_events(codec_name: str, room: str, envelopes: Sequence[Envelope]) -> bytes | str:
    codec = codec_for_subprotocol(codec_name)
    if len(envelopes) == 1:
        return codec.encode(to_event(envelopes[0]))
    return codec.encode(Batch(room=room, events=tuple(to_event(e) for e in envelopes)))


@dataclass(frozen=True, slots=True)
class RoomStatistics:
    room: str
    viewers: int
    last_seq: int


class Room:
    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.live: set[Connection] = set()
        self.joining: dict[Connection, list[Envelope]] = {}
        self.last_seq = 0

    def publish(self, envelopes: Sequence[Envelope]) -> None:
        self.last_seq = envelopes[-1].seq
        for pending in self.joining.values():
            pending.extend(envelopes)
        if not self.live:
            return
        frames: dict[str, bytes | str] = {}
        for conn in list(self.live):
            frame = frames.get(conn.codec_name)
            if frame is None:
                frame = frames[conn.codec_name] = encode_events(conn.codec_name, self.room_id, envelopes)
            conn.enqueue(frame)

    def statistics(self) -> RoomStatistics:
        return RoomStatistics(self.room_id, len(self.live) + len(self.joining), self.last_seq)


class Rooms:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._rooms: dict[str, Room] = {}

    def room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(room_id)
        return room

    def publish(self, stream_id: str, envelopes: Sequence[Envelope]) -> None:
        room = self._rooms.get(stream_id)
        if room is not None:
            room.publish(envelopes)

    async def join(self, conn: Connection, room_id: str, since: int | None) -> int:
        """Send what ``conn`` missed after ``since`` (from the journal), then go live.

        Events published while the history is being read are held for the connection
        and sent after it, skipping what the history already covered: no gap, no
        duplicate.
        """
        await self.registry.get(room_id)  # NotFound for a room with no auction
        room = self.room(room_id)
        room.joining[conn] = []
        try:
            last = since or 0
            if since is not None:
                history = await self.registry.load_events(room_id)
                missed = [Envelope.from_dict(e, verify=False) for e in history if e["seq"] > since]
                for chunk_start in range(0, len(missed), 200):
                    chunk = missed[chunk_start : chunk_start + 200]
                    conn.enqueue(encode_events(conn.codec_name, room_id, chunk))
                if missed:
                    last = missed[-1].seq
            else:
                actor = self.registry.peek(room_id)
                last = actor.durable_version if actor is not None else room.last_seq
            held = [e for e in room.joining.pop(conn) if e.seq > last]
            if held:
                conn.enqueue(encode_events(conn.codec_name, room_id, held))
                last = held[-1].seq
            room.live.add(conn)
            return last
        finally:
            room.joining.pop(conn, None)

    def leave(self, conn: Connection, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            room.live.discard(conn)
            room.joining.pop(conn, None)

    def leave_all(self, conn: Connection) -> None:
        for room in self._rooms.values():
            room.live.discard(conn)
            room.joining.pop(conn, None)

    async def close(self) -> None:
        for room in self._rooms.values():
            for conn in list(room.live):
                with contextlib.suppress(Exception):
                    await conn.close(1001, "server shutting down")
        self._rooms.clear()

    def statistics(self) -> list[RoomStatistics]:
        return [r.statistics() for r in self._rooms.values()]
