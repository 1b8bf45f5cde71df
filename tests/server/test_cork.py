"""The cork: a bidder's own room event and its ack leave in one write, in order, and a
corked connection still gets its rooms' other events within a loop turn."""

from __future__ import annotations

import asyncio
from typing import Any

from server.config import Settings
from tests.server.live import client, create, recv, recv_until, send
from tests.server.live import running as run_server
from tests.server.test_ws import FAST


class CountingTransport:
    """Stands between a connection's DirectWriter and its transport; counts writes."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def count_writes(live: Any) -> CountingTransport:
    """Wrap the only connection's transport, for its direct writes and the rooms' fast
    path alike."""
    (conn,) = live.app.state.connections
    assert conn.direct is not None
    counting = CountingTransport(conn.direct._transport)
    conn.direct._transport = counting
    conn.direct.transport_write = counting.write
    conn._demote()  # re-take the fast path with the counting write
    conn._promote()
    assert conn.fast_write == counting.write
    return counting


async def test_a_bid_s_event_and_its_ack_go_out_in_one_write_event_first(settings: Settings) -> None:
    async with run_server(settings, **FAST) as live:
        room = await create(live)
        ws, _ = await client(live, "ann")
        counting = count_writes(live)
        await send(ws, {"type": "subscribe", "room": room})
        await recv_until(ws, "snapshot")
        before = counting.writes
        for n in range(10):
            await send(
                ws,
                {
                    "type": "place_bid",
                    "id": f"c{n}",
                    "room": room,
                    "amount": 1000 + 1000 * n,
                    "currency": "EUR",
                },
            )
            event, ack = await recv(ws), await recv(ws)
            assert (event["type"], event["kind"]) == ("event", "bid")
            assert (ack["type"], ack["id"], ack["seq"]) == ("ack", f"c{n}", event["seq"])
        assert counting.writes - before == 10  # not 20: one send per bid
        await ws.close()


async def test_a_corked_connection_gets_other_bidders_events_without_a_reply(settings: Settings) -> None:
    """The buffer never waits for a reply that is not coming this turn."""
    async with run_server(settings, **FAST) as live:
        room = await create(live)
        ann, _ = await client(live, "ann")
        (conn,) = live.app.state.connections
        await send(ann, {"type": "subscribe", "room": room})
        await recv_until(ann, "snapshot")
        corked = conn.cork(room)  # as if ann had a command in flight there
        assert corked is not None
        bob, _ = await client(live, "bob")
        await send(bob, {"type": "subscribe", "room": room})
        await recv_until(bob, "snapshot")
        await send(bob, {"type": "place_bid", "id": "b1", "room": room, "amount": 5000, "currency": "EUR"})
        await recv_until(bob, "ack")
        event = await recv(ann, wait=2)  # spilled by the next loop turn, no ack needed
        assert (event["type"], event["kind"], event["data"]["bidder"]) == ("event", "bid", "bob")
        conn.uncork(corked)
        await send(bob, {"type": "place_bid", "id": "b2", "room": room, "amount": 9000, "currency": "EUR"})
        assert (await recv(ann, wait=2))["seq"] == event["seq"] + 1
        await asyncio.gather(ann.close(), bob.close())


async def test_pipelined_bids_all_get_acks_and_every_event_once_in_order(settings: Settings) -> None:
    """Several commands in flight on one connection: the cork counts them."""
    async with run_server(settings, **FAST) as live:
        room = await create(live)
        ws, _ = await client(live, "ann")
        await send(ws, {"type": "subscribe", "room": room})
        await recv_until(ws, "snapshot")
        for n in range(20):  # no waiting between sends
            await send(
                ws,
                {
                    "type": "place_bid",
                    "id": f"p{n}",
                    "room": room,
                    "amount": 1000 * (n + 1),
                    "currency": "EUR",
                },
            )
        acks: list[str] = []
        seqs: list[int] = []
        while len(acks) < 20 or (seqs and seqs[-1] < 21):
            message = await recv(ws)
            if message["type"] == "ack":
                acks.append(message["id"])
            elif message["type"] == "event":
                seqs.append(message["seq"])
            elif message["type"] == "batch":
                seqs.extend(e["seq"] for e in message["events"])
        assert sorted(acks) == sorted(f"p{n}" for n in range(20))
        assert seqs == list(range(2, 22))
        (conn,) = live.app.state.connections
        assert not conn._corks and not conn._corked  # nothing left held
        await ws.close()


async def test_unsubscribing_or_closing_with_a_command_in_flight_leaves_the_server_well(
    settings: Settings,
) -> None:
    async with run_server(settings, **FAST) as live:
        room = await create(live)
        ann, _ = await client(live, "ann")
        await send(ann, {"type": "subscribe", "room": room})
        await recv_until(ann, "snapshot")
        await send(ann, {"type": "place_bid", "id": "a1", "room": room, "amount": 1000, "currency": "EUR"})
        await send(ann, {"type": "unsubscribe", "room": room})
        assert (await recv_until(ann, "ack"))["id"] == "a1"
        await send(ann, {"type": "place_bid", "id": "a2", "room": room, "amount": 2000, "currency": "EUR"})
        await ann.close()  # gone before its answer
        bob, _ = await client(live, "bob")
        await send(bob, {"type": "subscribe", "room": room})
        await recv_until(bob, "snapshot")
        await send(bob, {"type": "place_bid", "id": "b1", "room": room, "amount": 90_000, "currency": "EUR"})
        event = await recv_until(bob, "event")
        assert event["data"]["bidder"] == "bob"
        assert (await recv(bob))["type"] == "ack"
        await bob.close()
