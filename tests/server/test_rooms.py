"""Room fan-out paths without sockets: fast members get one transport write per publish
(the identical pre-framed bytes), slow ones go through ``push``; a member that pauses
mid-loop is not served twice; a transport that fails mid-loop does not stop the room."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import orjson
import pytest

from bidding import Envelope
from protocol import JSON, MSGPACK, AnyCodec
from server.framing import ws_frame
from server.metrics import Metrics
from server.rooms import Outgoing, Room, write_each


def payload(wire: bytes) -> object:
    """The JSON message in one unmasked server frame."""
    n = wire[1]
    start = 2 if n < 126 else 4 if n == 126 else 10
    return orjson.loads(wire[start:])


def envelope(seq: int) -> Envelope:
    return Envelope("a1", seq, "0" * 64, 1_000 + seq, "bid", "u1", f"c{seq}", {"amount": seq}, "f" * 64)


class FakeMember:
    """A connection as a room sees it: a fast write (recording) or a push queue."""

    def __init__(self, codec: AnyCodec = JSON, fast: bool = True) -> None:
        self.codec = codec
        self.wire: list[bytes] = []
        self.pushed: list[Sequence[Outgoing]] = []
        self.joined: dict[Room, None] = {}
        self.fast_write: Callable[[bytes], object] | None = self.write if fast else None
        self.on_write: Callable[[], None] | None = None

    def write(self, data: bytes) -> None:
        self.wire.append(data)
        if self.on_write is not None:
            self.on_write()

    def push(self, frames: Sequence[Outgoing]) -> None:
        self.pushed.append(frames)

    def demote(self) -> None:
        self.fast_write = None
        for room in list(self.joined):
            room.set_fast(self, None)


def test_fast_members_get_the_same_framed_bytes_slow_ones_a_push() -> None:
    metrics = Metrics()
    room = Room("a1", metrics)
    fast = [FakeMember() for _ in range(3)]
    slow = FakeMember(fast=False)
    binary = FakeMember(MSGPACK)
    for m in [*fast, slow, binary]:
        room.add_live(m)
    assert room.statistics().viewers == 5 and all(room in m.joined for m in fast)
    room.publish([envelope(1)], None)
    sent = fast[0].wire
    assert len(sent) == 1 and all(m.wire == sent for m in fast)
    assert all(m.wire[0] is sent[0] for m in fast), "one frame object for all"
    assert len(slow.pushed) == 1 and slow.pushed[0][0][1] == sent[0]
    assert ws_frame(slow.pushed[0][0][0]) == sent[0]
    assert orjson.loads(slow.pushed[0][0][0])["seq"] == 1
    assert binary.wire[0][0] == 0x82 and binary.wire[0] != sent[0]
    assert metrics.messages_out == 5 and metrics.fanout_frames == 2 and metrics.fanout_batches == 1


def test_a_multi_frame_publish_is_one_write_of_the_joined_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.rooms.MAX_BATCH_EVENTS", 2)
    room = Room("a1")
    member, slow = FakeMember(), FakeMember(fast=False)
    room.add_live(member)
    room.add_live(slow)
    room.publish([envelope(s) for s in range(1, 6)], None)
    frames = slow.pushed[0]
    assert len(frames) == 3
    assert member.wire == [b"".join(w for _, w in frames)]
    seqs = [e["seq"] for f, _ in frames for e in orjson.loads(f)["events"]]
    assert seqs == [1, 2, 3, 4, 5]


def test_a_member_pausing_mid_loop_moves_to_slow_and_is_not_served_twice() -> None:
    room = Room("a1")
    members = [FakeMember() for _ in range(3)]
    for m in members:
        room.add_live(m)
    members[1].on_write = members[1].demote  # its transport pauses on this write
    room.publish([envelope(1)], None)
    assert [len(m.wire) for m in members] == [1, 1, 1]
    assert members[1].pushed == []
    assert members[1] in room.slow["fairlot.v1.json"] and members[1] not in room.fast["fairlot.v1.json"]
    members[1].on_write = None
    room.publish([envelope(2)], None)
    assert [len(m.wire) for m in members] == [2, 1, 2] and len(members[1].pushed) == 1
    # Drained: back on the fast path.
    members[1].fast_write = members[1].write
    room.set_fast(members[1], members[1].write)
    room.publish([envelope(3)], None)
    assert [len(m.wire) for m in members] == [3, 2, 3] and len(members[1].pushed) == 1


def test_set_fast_ignores_members_not_live_and_remove_forgets_the_room() -> None:
    room = Room("a1")
    outsider = FakeMember()
    room.set_fast(outsider, outsider.write)
    assert room.statistics().viewers == 0
    member = FakeMember()
    room.add_live(member)
    room.remove(member)
    assert member.joined == {} and room.statistics().viewers == 0
    room.set_fast(member, member.write)
    assert room.statistics().viewers == 0


def test_write_each_goes_on_past_a_transport_that_fails() -> None:
    got: list[int] = []

    def ok(n: int) -> Callable[[bytes], None]:
        return lambda data: got.append(n)

    def closed(data: bytes) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>")

    def reset(data: bytes) -> None:
        raise ConnectionResetError

    write_each([ok(0), closed, ok(1), reset, closed, ok(2)], b"x")
    assert got == [0, 1, 2]


async def test_a_busy_room_coalesces_what_follows_into_one_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.rooms.COALESCE_MIN_S", 0.0)
    metrics = Metrics()
    room = Room("a1", metrics)
    member = FakeMember()
    room.add_live(member)
    room.publish([envelope(1)], None)  # goes out at once; the room is now busy for a loop's length
    room.publish([envelope(2)], None)
    room.publish([envelope(3), envelope(4)], None)
    assert len(member.wire) == 1, "held for the next tick"
    for _ in range(50):
        if len(member.wire) > 1:
            break
        await asyncio.sleep(0.002)
    frame = payload(member.wire[1])
    assert (
        isinstance(frame, dict)
        and frame["type"] == "batch"
        and [e["seq"] for e in frame["events"]] == [2, 3, 4]
    )
    assert metrics.fanout_batches == 2 and metrics.messages_out == 2


async def test_flush_sends_held_events_at_once_and_a_quiet_room_never_holds() -> None:
    room = Room("a1")
    member = FakeMember()
    room.add_live(member)
    room.publish([envelope(1)], None)
    room.publish([envelope(2)], None)
    assert len(member.wire) == 2, "a fan-out shorter than COALESCE_MIN_S holds nothing"
    room._busy_until = time.perf_counter() + 60
    room.publish([envelope(3)], None)
    assert len(member.wire) == 2
    room.flush()  # what a join does before it reads the durable seq
    third = payload(member.wire[2])
    assert len(member.wire) == 3 and isinstance(third, dict) and third["seq"] == 3
    room.flush()
    assert len(member.wire) == 3


async def test_an_idle_room_with_a_long_loop_fans_out_one_turn_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of viewers (a long loop) but no batch in the last loop's length: the
    fan-out waits one event-loop turn, so the acks queued before it go out first."""
    monkeypatch.setattr("server.rooms.COALESCE_MIN_S", 0.0)
    room = Room("a1")
    member = FakeMember()
    room.add_live(member)
    room.publish([envelope(1)], None)  # at once: nothing tells yet that the loop is long
    assert len(member.wire) == 1
    room._busy_until = 0.0  # the busy window is over; the loop is still known to be long
    order: list[str] = []
    asyncio.get_running_loop().call_soon(order.append, "ack")  # queued before the publish
    room.publish([envelope(2)], None)
    assert len(member.wire) == 1, "deferred, not written inside publish"
    await asyncio.sleep(0)
    order.append("fan-out" if len(member.wire) == 2 else "not yet")
    assert order == ["ack", "fan-out"]
    assert payload(member.wire[1])["seq"] == 2  # type: ignore[index]
