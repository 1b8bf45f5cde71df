"""End-to-end verification and tamper tests: each tamper fails at its own step."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from draws import (
    TRUST_PUBLIC,
    TRUST_WEAK,
    BeaconSpec,
    BeaconValue,
    add_substitution,
    canonical,
    certificate_bytes,
    encode_leaves_file,
    render_text,
    verify_certificate,
)
from draws.verify import CHECK_ORDER
from tests.draws.helpers import (
    CLOSE_MS,
    ROUND,
    SIGNATURE,
    SIGNING_KEY,
    Draw,
    make_draw,
    resign,
    resign_commitment,
)


@pytest.fixture(scope="module")
def unweighted() -> Draw:
    return make_draw()


@pytest.fixture(scope="module")
def weighted() -> Draw:
    return make_draw(weighted=True)


def names(report: Any) -> list[str]:
    return [c.name for c in report.checks]


def test_valid_certificate_passes_every_check(unweighted: Draw) -> None:
    report = verify_certificate(unweighted.cert_bytes, leaves=unweighted.leaves_file)
    assert report.ok and report.first_failure is None
    assert names(report) == [n for n in CHECK_ORDER if n != "receipt"]
    assert all(c.passed for c in report.checks)
    assert report.trust == TRUST_PUBLIC
    text = render_text(report)
    assert "PASS  beacon" in text and "result: VALID" in text


def test_weighted_without_leaves_skips_selection_but_proves_inclusion(weighted: Draw) -> None:
    report = verify_certificate(weighted.cert_bytes)
    status = {c.name: c.passed for c in report.checks}
    assert report.ok
    assert status["root"] is None and status["winners"] is None and status["beacon"] is True
    full = verify_certificate(weighted.cert_bytes, leaves=weighted.leaves_file)
    assert all(c.passed for c in full.checks)


def test_unweighted_without_leaves_recomputes_winners(unweighted: Draw) -> None:
    report = verify_certificate(unweighted.cert_bytes)
    status = {c.name: c.passed for c in report.checks}
    assert status["winners"] is True and status["alternates"] is True and status["root"] is None


def tampered(draw: Draw, edit: Callable[[dict[str, Any]], None], *, sign: bool) -> bytes:
    cert = copy.deepcopy(draw.cert)
    edit(cert)
    return certificate_bytes(resign(cert) if sign else cert)


def flip_hex(value: str, at: int = 0) -> str:
    digit = "0" if value[at] != "0" else "1"
    return value[:at] + digit + value[at + 1 :]


def flip_leaf(leaves_file: bytes, leaf: int, byte: int) -> bytes:
    from draws.leaves import LEAVES_MAGIC

    data = bytearray(leaves_file)
    data[len(LEAVES_MAGIC) + 40 * leaf + byte] ^= 0x01
    return bytes(data)


def test_tamper_entry_fails_at_root(unweighted: Draw) -> None:
    # change an id_commit byte of the last leaf (keeps sort order): the root no longer matches
    n = unweighted.prepared.commitment.n
    report = verify_certificate(unweighted.cert_bytes, leaves=flip_leaf(unweighted.leaves_file, n - 1, 31))
    assert report.first_failure == "root"


def test_tamper_weight_fails_at_root(weighted: Draw) -> None:
    leaves = list(weighted.prepared.leaves.leaves)
    a, b = leaves[0], leaves[1]
    # move one unit of weight between two leaves: total unchanged, root changes
    leaves[0] = a[:32] + (int.from_bytes(a[32:], "big") + 1).to_bytes(8, "big")
    leaves[1] = b[:32] + (int.from_bytes(b[32:], "big") - 1).to_bytes(8, "big")
    report = verify_certificate(weighted.cert_bytes, leaves=encode_leaves_file(leaves))
    assert report.first_failure == "root"


def test_tamper_rules_fails_at_rules(unweighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["body"]["rules"]["min_mentions"] = 0

    for sign in (False, True):
        assert verify_certificate(tampered(unweighted, edit, sign=sign)).first_failure == "rules"


def test_tamper_commitment_fields_fail_at_commitment(unweighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["body"]["commitment"]["draw_id"] = "draw-2"

    assert verify_certificate(tampered(unweighted, edit, sign=True)).first_failure == "commitment"


def test_host_resigning_a_new_commitment_is_caught_at_its_signature(unweighted: Draw) -> None:
    cert = copy.deepcopy(unweighted.cert)
    cert["body"]["commitment_signature"] = flip_hex(cert["body"]["commitment_signature"], 5)
    report = verify_certificate(certificate_bytes(cert))
    assert report.first_failure == "commitment_signature"


def test_tamper_beacon_fails_at_beacon(unweighted: Draw) -> None:
    def edit_sig(c: dict[str, Any]) -> None:
        c["body"]["beacon_value"]["signature"] = flip_hex(c["body"]["beacon_value"]["signature"], 9)

    def edit_random(c: dict[str, Any]) -> None:
        c["body"]["beacon_value"]["randomness"] = flip_hex(c["body"]["beacon_value"]["randomness"])

    def edit_round(c: dict[str, Any]) -> None:
        c["body"]["beacon_value"]["round"] = ROUND + 1

    for edit in (edit_sig, edit_random, edit_round):
        assert verify_certificate(tampered(unweighted, edit, sign=True)).first_failure == "beacon"


def test_tamper_seed_fails_at_seed(unweighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["body"]["seed"] = flip_hex(c["body"]["seed"], 3)

    for sign in (False, True):
        assert verify_certificate(tampered(unweighted, edit, sign=sign)).first_failure == "seed"


def test_tamper_winner_fails_at_winners(unweighted: Draw) -> None:
    leaves = unweighted.prepared.leaves
    taken = {p["index"] for p in unweighted.cert["body"]["winners"]}
    other = next(i for i in range(len(leaves.leaves)) if i not in taken)

    def edit(c: dict[str, Any]) -> None:
        # a consistent substitute: real leaf and real audit path, just not the drawn one
        c["body"]["winners"][0].update(
            index=other,
            leaf=leaves.leaves[other].hex(),
            audit_path=[p.hex() for p in leaves.tree.audit_path(other)],
        )

    for sign in (False, True):
        report = verify_certificate(tampered(unweighted, edit, sign=sign))
        assert report.first_failure == "winners"


def test_tamper_order_fails_at_winners(weighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        w = c["body"]["winners"]
        w[0], w[1] = w[1], w[0]
        w[0]["position"], w[1]["position"] = 0, 1

    report = verify_certificate(tampered(weighted, edit, sign=True), leaves=weighted.leaves_file)
    assert report.first_failure == "winners"


def test_tamper_alternate_fails_at_alternates(unweighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        a = c["body"]["alternates"]
        a[0], a[1] = a[1], a[0]
        a[0]["position"], a[1]["position"] = 0, 1

    assert verify_certificate(tampered(unweighted, edit, sign=True)).first_failure == "alternates"


def test_tamper_winner_leaf_fails_inclusion(unweighted: Draw) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["body"]["winners"][1]["leaf"] = flip_hex(c["body"]["winners"][1]["leaf"], 10)

    report = verify_certificate(tampered(unweighted, edit, sign=True))
    assert report.first_failure == "winners"
    assert "not at index" in next(c.detail for c in report.checks if c.name == "winners")


def test_tamper_certificate_signature_or_other_bytes(unweighted: Draw) -> None:
    cert = copy.deepcopy(unweighted.cert)
    cert["signature"] = flip_hex(cert["signature"], 7)
    assert verify_certificate(certificate_bytes(cert)).first_failure == "certificate_signature"

    def edit(c: dict[str, Any]) -> None:  # host-asserted data is covered by the signature
        c["body"]["waterfall"]["raw"] += 1

    report = verify_certificate(tampered(unweighted, edit, sign=False))
    assert report.first_failure == "certificate_signature"


def test_signature_by_another_key_fails(unweighted: Draw) -> None:
    from draws.certificate import seal

    forged = seal(copy.deepcopy(unweighted.cert["body"]), hashlib.sha256(b"other").digest())
    report = verify_certificate(certificate_bytes(forged))
    assert report.first_failure == "certificate_signature"


def test_chain_link_checked_against_previous_certificate() -> None:
    first = make_draw(draw_id="d1")
    prev_hash = bytes.fromhex(first.cert["certificate_hash"])
    second = make_draw(draw_id="d2", host_seq=2, prev=prev_hash)
    ok = verify_certificate(second.cert_bytes, previous=first.cert_bytes)
    assert ok.ok and {c.name: c.passed for c in ok.checks}["chain_link"] is True
    alone = verify_certificate(second.cert_bytes)
    assert {c.name: c.passed for c in alone.checks}["chain_link"] is None

    # a hidden re-roll: the host skips a certificate and links to an older one
    third = make_draw(draw_id="d3", host_seq=3, prev=prev_hash)
    assert verify_certificate(third.cert_bytes, previous=second.cert_bytes).first_failure == ("chain_link")
    # the chain link byte itself changed (and everything re-signed by the host)
    bad_link = resign_commitment(second.cert, prev_cert_hash=bytes(32))
    report = verify_certificate(certificate_bytes(bad_link), previous=first.cert_bytes)
    assert report.first_failure == "chain_link"
    # the same change without re-signing is caught when the commitment is hashed
    raw = copy.deepcopy(second.cert)
    raw["body"]["commitment"]["prev_cert_hash"] = "00" * 32
    assert verify_certificate(certificate_bytes(raw)).first_failure == "commitment"


def test_target_round_before_close_is_refused_at_beacon(unweighted: Draw) -> None:
    late = resign_commitment(unweighted.cert, close_time_ms=CLOSE_MS + 120_000)
    report = verify_certificate(certificate_bytes(late))
    assert report.first_failure == "beacon"
    assert "after the close time" in next(c.detail for c in report.checks if c.name == "beacon")


def test_substitutions_verify_and_tampering_fails() -> None:
    draw = make_draw()
    cert = add_substitution(draw.cert, 1, "declined", CLOSE_MS + 999_999, SIGNING_KEY)
    cert = add_substitution(cert, 0, "unreachable", CLOSE_MS + 1_999_999, SIGNING_KEY)
    report = verify_certificate(certificate_bytes(cert))
    assert report.ok
    alternates = [p["index"] for p in cert["body"]["alternates"]]
    assert report.current_winners[1] == alternates[0]
    assert report.current_winners[0] == alternates[1]

    skipped = copy.deepcopy(cert)
    skipped["substitutions"] = skipped["substitutions"][1:]
    assert verify_certificate(certificate_bytes(skipped)).first_failure == "substitutions"
    edited = copy.deepcopy(cert)
    edited["substitutions"][0]["event"]["reason"] = "ineligible"
    assert verify_certificate(certificate_bytes(edited)).first_failure == "substitutions"


def test_receipt_for_entrant_passes_and_for_others_fails(unweighted: Draw) -> None:
    leaves = unweighted.prepared.leaves
    c = unweighted.prepared.commitment
    receipt = leaves.receipt(4).to_json(c.draw_id, c.merkle_root)
    report = verify_certificate(unweighted.cert_bytes, receipt=canonical(receipt))
    assert report.ok and report.checks[-1].name == "receipt" and report.checks[-1].passed

    stranger = dict(receipt, identity="instagram/id/999999")
    changed = dict(receipt, weight=receipt["weight"] + 1)
    other_draw = dict(receipt, draw_id="another")
    for bad in (stranger, changed, other_draw, {"nonsense": 1}):
        report = verify_certificate(unweighted.cert_bytes, receipt=bad)
        assert report.first_failure == "receipt"


def test_commit_reveal_beacon_is_labelled_weaker() -> None:
    reveal = hashlib.sha256(b"host reveal").digest()
    spec = BeaconSpec.commit_reveal(reveal, CLOSE_MS + 1)
    draw = make_draw(beacon=spec, value=BeaconValue.revealed(reveal))
    report = verify_certificate(draw.cert_bytes, leaves=draw.leaves_file)
    assert report.ok and report.trust == TRUST_WEAK
    assert "WEAKER" in render_text(report)

    def edit(c: dict[str, Any]) -> None:
        c["body"]["beacon_value"]["reveal"] = flip_hex(c["body"]["beacon_value"]["reveal"])

    assert verify_certificate(tampered(draw, edit, sign=True)).first_failure == "beacon"


@pytest.mark.parametrize(
    "blob",
    [b"not json", b"[]", b'{"body": 1}', b'{"a": 1.5}', b'{"a": 1, "a": 2}'],
)
def test_unreadable_certificates_fail_at_format(blob: bytes) -> None:
    report = verify_certificate(blob)
    assert report.first_failure == "format" and not report.ok


def test_bad_leaves_file_fails_at_root(unweighted: Draw) -> None:
    for bad in (b"nope", unweighted.leaves_file[:-1], unweighted.leaves_file + b"x" * 40):
        assert verify_certificate(unweighted.cert_bytes, leaves=bad).first_failure == "root"


def test_explicit_backend_and_dict_input(unweighted: Draw) -> None:
    """py-ecc is exercised once, in test_vectors; here the wheel is named explicitly."""
    report = verify_certificate(unweighted.cert, backend="drand-verify")
    assert report.ok
    assert SIGNATURE.hex() in unweighted.cert_bytes.decode()
