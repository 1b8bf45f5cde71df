"""Event envelopes: the hash covers exactly the documented canonical body."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidding.errors import ChainError, TranscriptError
from bidding.events import GENESIS, Envelope, seal


def test_hash_is_sha256_of_sorted_compact_json() -> None:
    env = seal("lot-1", 1, GENESIS, 1700000000000, "bid", "ann", "c1", {"max": 5, "bidder": "ann"})
    body = {
        "stream_id": "lot-1",
        "seq": 1,
        "prev_hash": GENESIS,
        "time": 1700000000000,
        "type": "bid",
        "actor": "ann",
        "command_id": "c1",
        "payload": {"max": 5, "bidder": "ann"},
    }
    # an independent encoder: stdlib json with sorted keys and no whitespace
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert env.hash == hashlib.sha256(text.encode()).hexdigest()
    assert env.compute_hash() == env.hash
    assert GENESIS == "0" * 64


def test_wire_round_trip_and_tamper_detection() -> None:
    env = seal("lot-1", 2, "ab" * 32, 5, "bid", "ann", "c1", {"max": 5, "note": "é"})
    d = env.to_dict()
    assert Envelope.from_dict(d) == env
    with pytest.raises(ChainError):
        Envelope.from_dict({**d, "time": 6})
    with pytest.raises(TranscriptError):
        Envelope.from_dict({k: v for k, v in d.items() if k != "actor"})
    with pytest.raises(TranscriptError):
        Envelope.from_dict({**d, "seq": "2"})
    with pytest.raises(TranscriptError):
        Envelope.from_dict({**d, "payload": {"max": 1.5}})
    assert Envelope.from_dict({**d, "time": 6}, verify=False).time == 6


@given(
    payload=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=10) | st.booleans() | st.none(),
        max_size=6,
    ),
    seq=st.integers(1, 10**9),
)
def test_any_canonical_payload_round_trips(payload: dict[str, object], seq: int) -> None:
    env = seal("s", seq, GENESIS, 0, "t", "a", "c", payload)
    again = Envelope.from_dict(json.loads(json.dumps(env.to_dict())))
    assert again == env
