"""Durable draws on real Redis and Postgres with a manual clock: the whole life of a draw,
reveals paced by the actor's timer (no real time), and a restart at each stage that
continues the draw to a certificate that verifies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bidding import Envelope, Rejected, replay
from draws import EntryImportError, verify_certificate
from engine.clock import ManualClock
from engine.draw_format import DrawState
from engine.draw_service import DrawRefused, draw_id_of
from server.config import Settings
from server.stores import Stores, connect
from tests.engine.test_recovery import Node, start_node

START = 1_800_000_000_000


def csv_entries(n: int) -> bytes:
    rows = ["platform,user_id,handle,text,created_at"]
    rows += [f"instagram,{1000 + i},@user{i},hello #win,{START - 60_000 + i}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[Stores]:
    s = await connect(settings)  # migrates, 0003 included
    yield s
    await s.close()


async def settle(clock: ManualClock, state: DrawState, until: str, step: int = 100) -> None:
    for _ in range(200):
        if state.status == until:
            return
        clock.advance(step)
        await asyncio.sleep(0.005)
    raise AssertionError(f"draw stuck in {state.status}")


async def test_draw_lifecycle_restart_and_paced_reveals(stores: Stores) -> None:
    clock = ManualClock(START)
    node: Node = start_node(stores, clock)
    draws = node.registry.draws
    actor = await draws.create(
        "host-1",
        {"title": "Spring", "winners": 3, "alternates": 1, "rules": {"required_hashtags": ["win"]},
         "reveal_interval_ms": 1000},
    )  # fmt: skip
    assert actor.stream_id.startswith("draw:d_")
    with pytest.raises(EntryImportError, match="row 2"):
        await draws.import_entries(actor, "host-1", b"user_id,handle\n1,@a\n2,@b,extra,cols\n", "csv")
    actor, excluded = await draws.import_entries(actor, "host-1", csv_entries(20), "csv")
    assert excluded == [] and draws.state(actor).entries["eligible"] == 20  # type: ignore[index]
    with pytest.raises(DrawRefused):
        await draws.run(actor, "host-1")  # not committed yet
    await draws.commit(actor, "host-1")
    commitment_hash = draws.state(actor).commitment_hash
    with pytest.raises(DrawRefused):  # entries are fixed now
        await draws.import_entries(actor, "host-1", csv_entries(5), "csv")
    await node.projector.wait_idle()

    # Restart after commit: the new node rebuilds the draw and recomputes its leaves.
    await node.stop()
    node = start_node(stores, clock)
    draws = node.registry.draws
    await node.registry.recover()
    actor = await draws.actor(draw_id_of(actor.stream_id))
    state = draws.state(actor)
    assert state.status == "committed" and state.commitment_hash == commitment_hash
    clock.advance(1)  # the commit-reveal beacon opens 1 ms after the close (delay_ms 0)
    await draws.run(actor, "host-1", reveal_interval_ms=5000)
    assert state.status == "revealing" and state.revealed == []
    # Reveals are paced by the actor's timer on the manual clock: one per 5 s.
    clock.advance(5000)
    for _ in range(100):
        if len(state.revealed) == 1:
            break
        await asyncio.sleep(0.005)
    assert len(state.revealed) == 1 and state.status == "revealing"

    # Restart mid-reveal: the timer is re-armed from the log and the reveals finish.
    await node.stop()
    node = start_node(stores, clock)
    draws = node.registry.draws
    await node.registry.recover()
    actor = await draws.actor(draw_id_of(actor.stream_id))
    state = draws.state(actor)
    assert len(state.revealed) == 1
    await settle(clock, state, "complete", 2500)
    assert [w["position"] for w in state.revealed] == [0, 1, 2]
    assert state.certificate is not None
    leaves = await draws.leaves_file(actor)
    report = verify_certificate(state.certificate, leaves=leaves)
    assert report.ok, report
    assert draws.by_certificate(state.certificate_hash) is actor

    # A substitution is an appended, signed event; the certificate still verifies.
    await draws.substitute(actor, "host-1", 1, "no_answer")
    assert state.certificate["substitutions"][0]["event"]["position"] == 1
    assert verify_certificate(state.certificate, leaves=leaves).ok

    # The log alone replays to the same state; a bid on a draw is refused.
    await node.projector.wait_idle()
    events = await stores.records.read(actor.stream_id)
    assert replay(Envelope.from_dict(e) for e in events).state_hash() == actor.stream.state_hash()
    from bidding.base import PlaceBid

    with pytest.raises(Rejected, match="invalid_command"):
        await actor.submit(PlaceBid("b1", "eve", 100))

    # The host's second draw chains to the first certificate.
    second = await draws.create("host-1", {"winners": 1})
    await draws.import_entries(second, "host-1", csv_entries(3), "csv")
    await draws.commit(second, "host-1")
    c2 = draws.state(second).commitment
    assert c2 is not None and c2["host_seq"] == 2 and c2["prev_cert_hash"] == state.certificate_hash
    third = await draws.create("host-1", {"winners": 1})
    await draws.import_entries(third, "host-1", csv_entries(3), "csv")
    with pytest.raises(DrawRefused, match="waiting for its beacon"):
        await draws.commit(third, "host-1")
    await node.stop()
