"""Coalescing per tick over real sockets: a room whose fan-out loop is long holds the
batches that follow and sends them as ``batch`` frames; viewers and racing resumes still
see every event once, in order.

The loop is made long by a member whose transport write takes 3 ms (standing in for
thousands of viewers), so the room coalesces for about 3 ms after each fan-out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import orjson
import pytest

from protocol import JSON, AnyCodec
from server.config import Settings
from server.rooms import Outgoing, Room
from tests.server.live import client, create, recv_until, running, send
from tests.server.test_ws import FAST, bid_storm, collect


class SlowWriter:
    """A fast-path member whose every write blocks the loop for ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.codec: AnyCodec = JSON
        self.joined: dict[Room, None] = {}
        self.fast_write: Callable[[bytes], object] | None = self.write
        self.delay_s = delay_s
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        time.sleep(self.delay_s)

    def push(self, frames: Sequence[Outgoing]) -> None:
        self.writes += 1


async def test_a_long_fan_out_coalesces_without_gap_or_duplicate(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.rooms.COALESCE_MIN_S", 0.002)
    async with running(settings, **FAST) as live:
        room_id = await create(live)
        viewer, _ = await client(live)
        await send(viewer, {"type": "subscribe", "room": room_id})
        await recv_until(viewer, "snapshot")
        room = live.app.state.rooms.get(room_id)
        weight = SlowWriter(0.003)
        room.add_live(weight)
        storm = asyncio.create_task(bid_storm(live, room_id, ["ann", "bob", "cid"], per_user=40))
        await asyncio.sleep(0.05)
        joiners = []
        for since in (1, 4, 9):
            ws, _ = await client(live)
            await send(ws, {"type": "subscribe", "room": room_id, "since": since})
            joiners.append((since, ws))
            await asyncio.sleep(0.03)
        last = await storm
        frames: list[str] = []
        seen: list[int] = []
        while not seen or seen[-1] < last:
            message = orjson.loads(await asyncio.wait_for(viewer.recv(), 15))
            frames.append(message["type"])
            if message["type"] == "event":
                seen.append(message["seq"])
            elif message["type"] == "batch":
                seen.extend(e["seq"] for e in message["events"])
        assert seen == list(range(2, last + 1)), "consecutive, no gap, no duplicate"
        metrics = live.app.state.metrics
        assert "batch" in frames and metrics.fanout_batches < last - 1, "fewer, larger frames"
        assert 0 < weight.writes < last - 1, "one write per tick to the fast member, not one per event"
        for since, ws in joiners:
            got = await collect(ws, last)
            assert [s for s, _ in got] == list(range(since + 1, last + 1))
            await ws.close()
        await viewer.close()
