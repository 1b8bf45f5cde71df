"""Rooms: who watches which auction, and fan-out of its durable events.

Why encode once per codec per batch: with thousands of viewers the encode is the cost
that must not multiply; every connection of a codec gets the very same frame object
(and, on the fast path, the very same pre-framed WebSocket bytes). The actor's group
commit is the tick: whatever commands queued while the previous write was in flight are
applied together and published as one batch, so a busy room sends one ``batch`` frame
per commit instead of one frame per event. A room whose fan-out loop is long (thousands
of viewers) adds its own tick: batches that become durable while it is still busy are
held and fanned out together one loop-length later (``Room.publish``).

Why members are *fast* or *slow*: the per-member cost of fan-out must be little more
than the ``send`` system call, so a member that can take a write right now is kept as
its transport's bound ``write`` and the room calls those in a tight loop with the same
bytes; a member with frames queued (its transport paused, or a resync pending) is
served through ``Member.push`` and its bounded queue, in order, until it drains.

Why a bounded queue per connection: one viewer that stops reading must not hold memory
or slow the room. The room only ever hands a frame to a connection (never waits on
one); the connection's own bounded queue decides when it is a slow consumer (see
``server.ws``), which drops it from the room until it is resynchronised.

Join protocol (no gap, no duplicate): a connection joining with ``since`` is first put
in ``joining``, where every event published meanwhile is held for it; then the events
after ``since`` are read from the journal and sent; then the held events after the
last one sent; then it goes live. All of that after the read happens without an
``await``, so no publish can slip in between. Without ``since`` (or when ``since`` is
too far back) the client gets a ``snapshot`` taken at a durable seq, then the live tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bidding import Envelope
from engine.projection import event_redactor, public_event_data, public_view
from protocol import JSON, MSGPACK, AnyCodec, Snapshot
from protocol.limits import MAX_BATCH_EVENTS
from server.framing import ws_frame

if TYPE_CHECKING:
    from engine.actor import AuctionActor
    from engine.registry import Registry
    from server.metrics import Metrics

__all__ = ["Member", "Outgoing", "Room", "RoomStatistics", "Rooms", "encode_envelopes"]

#: A frame as the session queues it, and the same frame with its WebSocket header.
Outgoing = tuple[bytes | str, bytes]

CODECS: tuple[AnyCodec, ...] = (MSGPACK, JSON)

#: A fan-out loop at least this long (seconds) makes the room coalesce what follows.
COALESCE_MIN_S = 0.005
#: The longest a durable event waits for its room's next fan-out tick (seconds).
COALESCE_MAX_S = 0.1


class Member(Protocol):
    """What a room needs from a connection (``server.ws.Connection``).

    ``fast_write`` is the connection's transport ``write`` while frames may be written
    straight to it (nothing queued, transport not paused, session open), else None.
    ``joined`` holds the rooms it is live in; the room keeps it up to date, and the
    member calls ``Room.set_fast`` on each of them when ``fast_write`` changes.
    """

    codec: AnyCodec
    fast_write: Callable[[bytes], object] | None
    joined: dict[Room, None]

    def push(self, frames: Sequence[Outgoing]) -> None: ...


def write_each(writes: Sequence[Callable[[bytes], object]], wire: bytes) -> None:
    """``wire`` to every transport: the fan-out hot loop, one C call per member.

    A transport whose connection was lost an instant ago raises (its handle is closed
    before the protocol hears of it); that member is skipped, the loop goes on with the
    next one (same iterator), and the connection leaves its rooms when it hears.
    """
    it = iter(writes)
    while True:
        try:
            for write in it:
                write(wire)
        except (RuntimeError, OSError):
            continue
        return


def encode_envelopes(
    codec: AnyCodec, room: str, envelopes: Sequence[Envelope], actor: Any = None
) -> list[Outgoing]:
    """Event frames for ``envelopes``: one ``event`` frame, or ``batch`` frames of up to
    ``MAX_BATCH_EVENTS`` spliced from the pre-encoded event frames. ``actor`` (the
    auction's) selects the format's redaction of what viewers may see."""
    redact = event_redactor(actor.stream, actor.created) if actor is not None else public_event_data
    frames = [codec.encode_event(room, e.seq, e.type, e.time, redact(e)) for e in envelopes]
    if len(frames) == 1:
        out: list[bytes | str] = frames
    else:
        out = [
            codec.encode_batch(room, frames[i : i + MAX_BATCH_EVENTS])
            for i in range(0, len(frames), MAX_BATCH_EVENTS)
        ]
    return [(f, ws_frame(f)) for f in out]


def snapshot_frames(codec: AnyCodec, actor: AuctionActor) -> list[Outgoing]:
    """A ``snapshot`` frame of the actor's durable state (call only when it is durable)."""
    msg = Snapshot(
        room=actor.stream_id, seq=actor.durable_version, state=public_view(actor.stream, actor.created)
    )
    frame = codec.encode(msg)
    return [(frame, ws_frame(frame))]


def consistent(actor: AuctionActor) -> bool:
    """True when the in-memory state is exactly the durable one (no write in flight)."""
    return actor.stream.version == actor.durable_version


@dataclass(frozen=True, slots=True)
class RoomStatistics:
    room: str
    viewers: int
    joining: int
    awaiting_snapshot: int
    last_seq: int


class Room:
    """The members of one auction's room, by codec.

    Live members are either *fast* (``fast``: their transport ``write``, called straight
    from the publish loop with the pre-framed bytes, no per-member Python besides the
    call) or *slow* (``slow``: something is queued for them, their transport is paused,
    or they have no direct writer; frames go through ``Member.push`` and their bounded
    queue). A member moves between the two with ``set_fast``.
    """

    __slots__ = (
        "_busy_until",
        "_flush_timer",
        "_held",
        "_held_actor",
        "_long",
        "_snapshot_cache",
        "awaiting",
        "fast",
        "joining",
        "last_seq",
        "metrics",
        "room_id",
        "slow",
    )

    def __init__(self, room_id: str, metrics: Metrics | None = None) -> None:
        self.room_id = room_id
        self.metrics = metrics
        #: Live members per codec (subprotocol name): written directly / through push.
        self.fast: dict[str, dict[Member, Callable[[bytes], object]]] = {c.subprotocol: {} for c in CODECS}
        self.slow: dict[str, dict[Member, None]] = {c.subprotocol: {} for c in CODECS}
        self.joining: dict[Member, list[Envelope]] = {}
        self.awaiting: dict[Member, None] = {}
        self.last_seq = 0
        self._snapshot_cache: tuple[int, dict[str, list[Outgoing]]] | None = None
        #: Coalescing: durable events waiting for the room's next fan-out tick.
        self._held: list[Envelope] = []
        self._held_actor: AuctionActor | None = None
        self._busy_until = 0.0
        #: The last fan-out loop took COALESCE_MIN_S or more (thousands of viewers).
        self._long = False
        self._flush_timer: asyncio.Handle | None = None

    def __len__(self) -> int:
        return self.viewers() + len(self.joining) + len(self.awaiting)

    def viewers(self) -> int:
        return sum(len(m) for m in self.fast.values()) + sum(len(m) for m in self.slow.values())

    def members(self) -> list[Member]:
        """Every live member."""
        out: list[Member] = []
        for name in self.fast:
            out.extend(self.fast[name])
            out.extend(self.slow[name])
        return out

    def add_live(self, member: Member) -> None:
        name = member.codec.subprotocol
        member.joined[self] = None
        write = member.fast_write
        if write is not None:
            self.slow[name].pop(member, None)
            self.fast[name][member] = write
        else:
            self.fast[name].pop(member, None)
            self.slow[name][member] = None

    def set_fast(self, member: Member, write: Callable[[bytes], object] | None) -> None:
        """Move a live member to the direct path (``write``) or to its queue (None)."""
        name = member.codec.subprotocol
        if write is None:
            if self.fast[name].pop(member, None) is not None:
                self.slow[name][member] = None
        elif member in self.slow[name] or member in self.fast[name]:
            self.slow[name].pop(member, None)
            self.fast[name][member] = write

    def remove(self, member: Member) -> None:
        name = member.codec.subprotocol
        self.fast[name].pop(member, None)
        self.slow[name].pop(member, None)
        self.joining.pop(member, None)
        self.awaiting.pop(member, None)
        member.joined.pop(self, None)

    def snapshot_for(self, member: Member, actor: AuctionActor) -> list[Outgoing]:
        """Snapshot frames at the actor's durable seq, built once per codec per seq."""
        seq = actor.durable_version
        cache = self._snapshot_cache
        if cache is None or cache[0] != seq:
            cache = self._snapshot_cache = (seq, {})
        name = member.codec.subprotocol
        frames = cache[1].get(name)
        if frames is None:
            frames = cache[1][name] = snapshot_frames(member.codec, actor)
        return frames

    def publish(self, envelopes: Sequence[Envelope], actor: AuctionActor | None) -> None:
        """Hand a durable batch to every member, now or at the room's next tick.

        Coalescing per tick: when the room's last fan-out loop took ``COALESCE_MIN_S``
        or more (thousands of viewers), batches that become durable within that long
        after it are held and fanned out together, as ``batch`` frames, one loop's
        length after the last one ended (at most ``COALESCE_MAX_S``). A busy big room
        thus writes fewer, larger frames and spends at most about half its time in
        fan-out; a small room publishes at once. A room whose loop is long but which is
        idle fans out one event-loop turn later, after the batch's acks went out (the
        actor settles before it publishes): at 10,000 viewers a bidder's ack no longer
        waits for the whole 75 ms loop. Joins call ``flush`` first.
        """
        held = self._held
        if held:
            if envelopes[0].seq == held[-1].seq + 1:
                held.extend(envelopes)
                self._held_actor = actor
                if self.awaiting:
                    self.flush()  # durable right now: the awaited snapshot goes out with it
                return
            self.flush()  # not contiguous (a reload in between): keep the gap visible
        now = time.perf_counter()
        follows = envelopes[0].seq == self.last_seq + 1  # a gap is answered at once
        if follows and not self.awaiting and (now < self._busy_until or self._long):
            self._held = list(envelopes)
            self._held_actor = actor
            loop = asyncio.get_running_loop()
            if now < self._busy_until:
                self._flush_timer = loop.call_later(self._busy_until - now, self.flush)
            else:  # a long loop, idle room: one turn later, after the batch's acks
                self._flush_timer = loop.call_soon(self.flush)
            return
        self._fan_out(envelopes, actor)

    def flush(self) -> None:
        """Fan out the held events now (the tick, a join, shutdown)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        held = self._held
        if held:
            self._held = []
            actor, self._held_actor = self._held_actor, None
            self._fan_out(held, actor)

    def _fan_out(self, envelopes: Sequence[Envelope], actor: AuctionActor | None) -> None:
        """Encode once per codec, write to every member, never wait.

        Fast members get the identical pre-framed bytes in one tight loop of transport
        writes (a multi-frame batch joined into one write); slow ones go through their
        queue. Counters are bumped once per publish, not per member.
        """
        started = time.perf_counter()
        gap = self.last_seq and envelopes[0].seq != self.last_seq + 1
        self.last_seq = envelopes[-1].seq
        for pending in self.joining.values():
            pending.extend(envelopes)
        sent = 0
        encoded = 0
        for codec in CODECS:
            name = codec.subprotocol
            fast = self.fast[name]
            slow = self.slow[name]
            if not fast and not slow:
                continue
            if gap and actor is not None:
                # Events became durable without being published (a write whose answer
                # was lost, then a reload): viewers get a snapshot instead of a gap.
                frames = snapshot_frames(codec, actor)
            else:
                frames = encode_envelopes(codec, self.room_id, envelopes, actor)
            encoded += len(frames)
            sent += (len(fast) + len(slow)) * len(frames)
            # Taken before any write: a fast member whose write pauses its transport
            # moves to ``slow`` during the loop and must not get these frames twice.
            queued = list(slow)
            if fast:
                wire = frames[0][1] if len(frames) == 1 else b"".join(w for _, w in frames)
                write_each(tuple(fast.values()), wire)
            for member in queued:
                member.push(frames)
        ended = time.perf_counter()
        took = ended - started
        self._long = took >= COALESCE_MIN_S
        self._busy_until = ended + min(took, COALESCE_MAX_S) if self._long else 0.0
        if self.metrics is not None:
            metrics = self.metrics
            metrics.fanout_frames += encoded
            metrics.messages_out += sent
            metrics.fanout_batches += 1
            metrics.fanout_seconds += took
        if self.awaiting and actor is not None and consistent(actor):
            # The state is durable right now (no write in flight), so is the snapshot.
            for member in list(self.awaiting):
                del self.awaiting[member]
                member.push(self.snapshot_for(member, actor))
                self.add_live(member)

    def statistics(self) -> RoomStatistics:
        return RoomStatistics(
            self.room_id, self.viewers(), len(self.joining), len(self.awaiting), self.last_seq
        )


class Rooms:
    """Every room of this process; the registry's listener for durable batches."""

    def __init__(
        self, registry: Registry, *, resume_max_events: int = 10_000, metrics: Metrics | None = None
    ) -> None:
        self.registry = registry
        self.resume_max_events = resume_max_events
        self.metrics = metrics
        self._rooms: dict[str, Room] = {}

    def room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(room_id, self.metrics)
        return room

    def get(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    def publish(self, stream_id: str, envelopes: Sequence[Envelope]) -> None:
        room = self._rooms.get(stream_id)
        if room is not None:
            room.publish(envelopes, self.registry.peek(stream_id))

    async def join(self, member: Member, room_id: str, since: int | None) -> None:
        """Send ``member`` what it missed after ``since`` (or a snapshot), then go live.

        Raises ``NotFound`` for a room with no auction.
        """
        actor = await self.registry.get(room_id)
        room = self.room(room_id)
        room.flush()  # what the room has published is then all that is durable
        room.remove(member)  # a re-subscribe restarts from ``since``
        durable = actor.durable_version
        if not room.last_seq:
            room.last_seq = durable
        if since is None or since > durable or durable - since > self.resume_max_events:
            self.join_with_snapshot(member, room, actor)
            return
        if since == durable:
            room.add_live(member)
            return
        room.joining[member] = []
        try:
            history = await self.registry.load_events(room_id, since)
        except BaseException:
            room.joining.pop(member, None)
            raise
        room.flush()  # events held for the tick reach ``joining`` first
        held = room.joining.pop(member, None)
        if held is None:
            return  # the member left (or re-subscribed) while the history was read
        # The journal may already hold events the actor has not published yet (its
        # write landed, its coroutine has not resumed): those come live, not from here.
        cap = (self.registry.peek(room_id) or actor).durable_version
        missed = [Envelope.from_dict(e, verify=False) for e in history if since < e["seq"] <= cap]
        last = missed[-1].seq if missed else since
        missed.extend(e for e in held if e.seq > last)
        if missed:
            member.push(encode_envelopes(member.codec, room_id, missed, self.registry.peek(room_id) or actor))
        room.add_live(member)

    def join_with_snapshot(self, member: Member, room: Room, actor: AuctionActor) -> None:
        """Snapshot now if the state is durable, else at the room's next publish."""
        room.flush()
        room.remove(member)
        if consistent(actor):
            member.push(room.snapshot_for(member, actor))
            room.add_live(member)
        else:
            room.awaiting[member] = None

    async def resync(self, member: Member, room_id: str) -> None:
        """Bring a member that was dropped for being slow back with a fresh snapshot."""
        actor = await self.registry.get(room_id)
        self.join_with_snapshot(member, self.room(room_id), actor)

    def pause(self, member: Member, room_id: str) -> None:
        """Stop sending ``room_id``'s events to ``member`` (it is being resynchronised)."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.remove(member)

    def leave(self, member: Member, room_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            room.remove(member)
            if not len(room):
                del self._rooms[room_id]

    def leave_all(self, member: Member, room_ids: Sequence[str] | None = None) -> None:
        for room_id in list(room_ids if room_ids is not None else self._rooms):
            self.leave(member, room_id)

    async def close(self) -> None:
        members: dict[Any, None] = {}
        for room in self._rooms.values():
            room.flush()
            members.update(dict.fromkeys(room.members()))
        for member in members:
            closer = getattr(member, "shutdown", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        self._rooms.clear()

    def statistics(self) -> list[RoomStatistics]:
        return [r.statistics() for r in self._rooms.values()]

    def viewers(self) -> int:
        return sum(r.viewers() for r in self._rooms.values())
