"""Commitment validation, hashing, signing; the host pipeline refuses early or wrong rounds."""

from __future__ import annotations

import dataclasses

import pytest

from draws import (
    BeaconNotReady,
    BeaconSpec,
    BeaconValue,
    Commitment,
    CommitmentError,
    WrongRound,
    issue_certificate,
    sign_commitment,
)
from draws.keys import fingerprint, public_key, verify_signature
from tests.draws.helpers import CLOSE_MS, ROUND, ROUND_TIME_MS, SIGNATURE, SIGNING_KEY, make_draw


def base() -> Commitment:
    return make_draw().prepared.commitment


def test_commitment_round_trips_and_hash_covers_every_field() -> None:
    c = base()
    assert Commitment.from_json(c.to_json()) == c
    for change in ({"n": c.n + 1, "total_weight": c.n + 1}, {"close_time_ms": 1},
                   {"draw_id": "x"}, {"winners": 2}, {"beacon": BeaconSpec.drand(ROUND + 5)}):  # fmt: skip
        assert dataclasses.replace(c, **change).digest() != c.digest()


@pytest.mark.parametrize(
    "change",
    [
        {"host_seq": 0},
        {"host_seq": 2},
        {"winners": 0},
        {"winners": 30, "alternates": 30},
        {"total_weight": 1},
        {"host_key": b"x"},
        {"algorithm": "other"},
        {"draw_id": ""},
    ],
)
def test_invalid_commitments_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(CommitmentError):
        dataclasses.replace(base(), **change)  # type: ignore[arg-type]


def test_signing_refuses_late_round_and_foreign_key() -> None:
    c = base()
    late = dataclasses.replace(c, close_time_ms=ROUND_TIME_MS)
    with pytest.raises(CommitmentError, match="after the close time"):
        sign_commitment(late, SIGNING_KEY)
    with pytest.raises(CommitmentError, match="host_key"):
        sign_commitment(c, bytes(32))
    sig = sign_commitment(c, SIGNING_KEY)
    from draws.keys import COMMITMENT_TAG

    assert verify_signature(public_key(SIGNING_KEY), COMMITMENT_TAG, c.digest(), sig)
    assert len(fingerprint(c.host_key)) == 39
    with pytest.raises(CommitmentError):
        Commitment.from_json({**c.to_json(), "extra": 1})
    with pytest.raises(CommitmentError):
        Commitment.from_json({**c.to_json(), "n": "3"})


def test_issue_refuses_before_round_and_wrong_round() -> None:
    prepared = make_draw().prepared
    value = BeaconValue.drand(ROUND, SIGNATURE)
    with pytest.raises(BeaconNotReady):
        issue_certificate(prepared, value, ROUND_TIME_MS - 1, SIGNING_KEY)
    with pytest.raises(WrongRound):
        issue_certificate(prepared, BeaconValue.drand(ROUND - 1, SIGNATURE), ROUND_TIME_MS,
                          SIGNING_KEY)  # fmt: skip
    assert CLOSE_MS < ROUND_TIME_MS


def test_same_inputs_same_certificate() -> None:
    assert make_draw().cert_bytes == make_draw().cert_bytes
