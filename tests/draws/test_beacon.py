"""Beacons: round arithmetic, refusal before the round and for wrong rounds, commit-reveal."""

from __future__ import annotations

import hashlib

import pytest

from draws import (
    QUICKNET,
    BeaconInvalid,
    BeaconNotReady,
    BeaconSpec,
    BeaconValue,
    CommitmentError,
    WrongRound,
    beacon_for_draw,
    check_beacon,
    verify_drand,
)
from draws.beacon import drand_message
from tests.draws.helpers import RANDOMNESS, ROUND, ROUND_TIME_MS, SIGNATURE


def test_round_arithmetic_follows_genesis_and_period() -> None:
    assert QUICKNET.round_time_ms(1) == QUICKNET.genesis_s * 1000
    assert ROUND_TIME_MS == (1692803367 + (ROUND - 1) * 3) * 1000
    assert QUICKNET.first_round_after(ROUND_TIME_MS - 1) == ROUND
    assert QUICKNET.first_round_after(ROUND_TIME_MS) == ROUND + 1
    assert QUICKNET.first_round_after(0) == 1
    assert QUICKNET.latest_round(ROUND_TIME_MS) == ROUND
    assert QUICKNET.latest_round(ROUND_TIME_MS - 1) == ROUND - 1
    assert QUICKNET.latest_round(0) == 0
    assert drand_message(1) == hashlib.sha256(b"\x00" * 7 + b"\x01").digest()


def test_draw_refuses_before_the_round_and_wrong_rounds() -> None:
    spec = BeaconSpec.drand(ROUND)
    value = BeaconValue.drand(ROUND, SIGNATURE)
    with pytest.raises(BeaconNotReady):
        beacon_for_draw(spec, value, ROUND_TIME_MS - 1)
    assert beacon_for_draw(spec, value, ROUND_TIME_MS) == RANDOMNESS
    with pytest.raises(WrongRound):
        beacon_for_draw(BeaconSpec.drand(ROUND + 1), value, ROUND_TIME_MS + 10_000)
    # a relabelled value: the right round number on the wrong signature
    with pytest.raises(BeaconInvalid):
        check_beacon(BeaconSpec.drand(ROUND + 1), BeaconValue.drand(ROUND + 1, SIGNATURE))
    with pytest.raises(BeaconInvalid):
        check_beacon(spec, BeaconValue.drand(ROUND, SIGNATURE, bytes(32)))
    with pytest.raises(WrongRound):
        check_beacon(spec, BeaconValue.revealed(bytes(32)))


def test_malformed_drand_values_never_crash() -> None:
    for sig in (b"", bytes(48), b"\xff" * 48, SIGNATURE[:47]):
        with pytest.raises(BeaconInvalid):
            verify_drand(QUICKNET, ROUND, sig)
    with pytest.raises(BeaconInvalid):
        verify_drand(QUICKNET, 0, SIGNATURE)
    with pytest.raises(BeaconInvalid):
        BeaconValue.from_json({"kind": "drand", "round": 1, "randomness": "zz"})


def test_commit_reveal_beacon() -> None:
    reveal = hashlib.sha256(b"secret").digest()
    spec = BeaconSpec.commit_reveal(reveal, 5_000)
    with pytest.raises(BeaconNotReady):
        beacon_for_draw(spec, BeaconValue.revealed(reveal), 4_999)
    assert beacon_for_draw(spec, BeaconValue.revealed(reveal), 5_000) == (
        BeaconValue.revealed(reveal).randomness
    )
    with pytest.raises(BeaconInvalid):
        check_beacon(spec, BeaconValue.revealed(bytes(32)))
    assert "WEAKER" in spec.trust
    assert BeaconSpec.from_json(spec.to_json()) == spec


def test_spec_json_pins_the_chain() -> None:
    spec = BeaconSpec.drand(ROUND)
    assert BeaconSpec.from_json(spec.to_json()) == spec
    for change in ({"genesis": 1}, {"public_key": "00"}, {"chain_hash": "ab"}, {"kind": "x"}):
        with pytest.raises(CommitmentError):
            BeaconSpec.from_json({**spec.to_json(), **change})
    assert BeaconValue.from_json(BeaconValue.drand(ROUND, SIGNATURE).to_json()).randomness == (RANDOMNESS)
