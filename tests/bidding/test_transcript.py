"""Transcripts: round trip through JSON, and every kind of tampering is reported."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bidding.base import Close, PlaceBid, Stream
from bidding.dutch import DUTCH, Accept
from bidding.english import ENGLISH
from bidding.reverse import REVERSE
from bidding.sealed import SEALED, Commit, Reveal, sealed_commitment
from bidding.transcript import TRANSCRIPT_VERSION, make_transcript, verify_transcript


def english_transcript(close: bool = True) -> dict[str, Any]:
    s = Stream.create(ENGLISH, "lot-9", {"currency": "USD", "opening": 100, "end": 1000}, 0)
    s.handle(PlaceBid("1", "ann", 1000), 10)
    s.handle(PlaceBid("2", "ben", 500), 20)
    if close:
        s.handle(Close("c"), 1000)
    doc: dict[str, Any] = json.loads(json.dumps(make_transcript(s)))
    return doc


def test_valid_transcript_verifies_and_recomputes_result() -> None:
    doc = english_transcript()
    assert doc["version"] == TRANSCRIPT_VERSION
    report = verify_transcript(doc)
    assert report.ok, report.errors
    assert (report.kind, report.stream_id, report.events, report.final) == ("english", "lot-9", 4, True)
    assert report.awards == [{"bidder": "ann", "price": 550, "quantity": 1}]
    assert report.head == doc["head"]


def test_open_auction_transcript_is_not_final() -> None:
    report = verify_transcript(english_transcript(close=False))
    assert report.ok and not report.final and report.awards == []


def tampered(change: Any) -> list[str]:
    doc = english_transcript()
    change(doc)
    report = verify_transcript(doc)
    assert not report.ok
    return report.errors


def _set_price(doc: dict[str, Any]) -> None:
    doc["events"][2]["payload"]["price"] = 501


def _rehash_forged_price(doc: dict[str, Any]) -> None:
    # a forger who recomputes every hash still cannot pass the rule check
    from bidding.events import seal

    events = doc["events"]
    events[2]["payload"]["price"] = 501
    prev = events[1]["hash"]
    for e in events[2:]:
        env = seal(
            e["stream_id"], e["seq"], prev, e["time"], e["type"], e["actor"], e["command_id"], e["payload"]
        )
        e["prev_hash"], e["hash"] = prev, env.hash
        prev = env.hash
    doc["head"] = prev


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (_set_price, "ChainError"),
        (_rehash_forged_price, "InvalidTransition"),
        (lambda d: d["events"].pop(2), "SequenceError"),
        (lambda d: d.update(head="00" * 32), "head"),
        (lambda d: d["result"]["awards"][0].update(price=1), "result"),
        (lambda d: d.update(stream_id="other"), "stream_id"),
        (lambda d: d.update(version="v0"), "version"),
        (lambda d: d.update(events=[]), "no events"),
        (lambda d: d["events"][1]["payload"].update(max=10.5), "canonical"),
        (lambda d: d["events"][1].pop("payload"), "payload"),
        (lambda d: d["events"][1]["payload"].pop("max"), "Error"),
    ],
)
def test_tampering_is_reported(change: Any, needle: str) -> None:
    errors = tampered(change)
    assert any(needle in e for e in errors), errors


def test_every_format_round_trips() -> None:
    streams: list[Stream[Any]] = []
    d = Stream.create(
        DUTCH, "d", {"start_price": 1000, "step": 10, "floor": 500, "tick_ms": 100, "quantity": 2}, 0
    )
    d.handle(Accept("a", "ann", 2), 250)
    streams.append(d)
    s = Stream.create(SEALED, "s", {"auction": "s", "end": 100, "reveal_end": 200, "mode": "second"}, 0)
    nonce = "ab" * 32
    for who, amount in (("ann", 700), ("ben", 900)):
        s.handle(Commit(f"c{who}", who, sealed_commitment(amount, nonce, who, "s")), 10)
    for who, amount in (("ann", 700), ("ben", 900)):
        s.handle(Reveal(f"r{who}", who, amount, nonce), 150)
    s.handle(Close("x"), 200)
    streams.append(s)
    r = Stream.create(REVERSE, "r", {"end": 100, "decrement": 5}, 0)
    r.handle(PlaceBid("1", "s1", 900), 1)
    r.handle(PlaceBid("2", "s2", 800), 2)
    r.handle(Close("x"), 100)
    streams.append(r)
    expected = [
        [{"bidder": "ann", "price": 980, "quantity": 2}],
        [{"bidder": "ben", "price": 700, "quantity": 1}],
        [{"bidder": "s2", "price": 800, "quantity": 1}],
    ]
    for stream, awards in zip(streams, expected, strict=True):
        doc = json.loads(json.dumps(make_transcript(stream)))
        report = verify_transcript(copy.deepcopy(doc))
        assert report.ok, report.errors
        assert report.awards == awards
        assert report.state_hash == stream.state_hash()


def test_transcript_needs_a_log() -> None:
    s = Stream.create(ENGLISH, "x", {"opening": 1, "end": 5}, 0, keep_log=False)
    with pytest.raises(ValueError, match="log"):
        make_transcript(s)
