"""The offline verifier: recompute everything a certificate claims, step by step.

Why standalone: a stranger must be able to check a draw with nothing of ours but this open
code; it needs only the standard library and the crypto wheels (cryptography, drand-verify,
py-ecc), never the network or a database. Checks run in a fixed order (``CHECK_ORDER``);
each uses recomputed values, never the document's own claims, so a tampered field fails
at its own step. A check that cannot run without an optional input says SKIP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from draws.beacon import Backend, BeaconSpec, BeaconValue, check_beacon
from draws.canonical import canonical, loads
from draws.certificate import CERTIFICATE_TYPE, CERTIFICATE_VERSION, certificate_hash
from draws.commit import Commitment, timing_problem
from draws.draw import derive_seed, select_picks
from draws.errors import DrawError
from draws.filters import Rules
from draws.keys import CERTIFICATE_TAG, COMMITMENT_TAG, fingerprint, verify_signature
from draws.leaves import Receipt, check_receipt, decode_leaves_file, leaf_weights
from draws.merkle import hash_leaves, merkle_root, verify_inclusion
from draws.substitution import check_chain, replay

CHECK_ORDER = (
    "format",
    "rules",
    "commitment",
    "commitment_signature",
    "chain_link",
    "beacon",
    "seed",
    "root",
    "winners",
    "alternates",
    "substitutions",
    "certificate_signature",
    "receipt",
)
BODY_KEYS = {
    "type", "version", "commitment", "commitment_hash", "commitment_signature", "rules",
    "beacon_value", "seed", "winners", "alternates", "waterfall", "branding",
}  # fmt: skip
PICK_KEYS = {"position", "index", "leaf", "audit_path", "handle"}


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: ``passed`` is True, False, or None when skipped."""

    name: str
    passed: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """All checks in order, plus what a reader needs to judge them."""

    checks: tuple[Check, ...]
    trust: str = "unknown"
    certificate_hash: str = ""
    key_fingerprint: str = ""
    current_winners: tuple[int, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True iff no check failed (skipped checks do not fail)."""
        return all(c.passed is not False for c in self.checks)

    @property
    def first_failure(self) -> str | None:
        """Name of the first failing check, in ``CHECK_ORDER``."""
        return next((c.name for c in self.checks if c.passed is False), None)


def _doc(value: bytes | Mapping[str, Any]) -> Any:
    return loads(value) if isinstance(value, bytes | bytearray | str) else value


def _hex32(value: Any) -> bytes:
    raw = bytes.fromhex(value)
    if len(raw) != 32:
        raise ValueError("expected 32 bytes of hex")
    return raw


def _parse_picks(items: Any, expected: int, what: str) -> list[dict[str, Any]]:
    if not isinstance(items, list) or len(items) != expected:
        raise ValueError(f"{what}: expected a list of {expected}")
    for pos, p in enumerate(items):
        if not isinstance(p, dict) or set(p) != PICK_KEYS:
            raise ValueError(f"{what}[{pos}]: keys must be {sorted(PICK_KEYS)}")
        if p["position"] != pos or not isinstance(p["index"], int):
            raise ValueError(f"{what}[{pos}]: bad position or index")
        if len(bytes.fromhex(p["leaf"])) != 40 or not isinstance(p["handle"], str):
            raise ValueError(f"{what}[{pos}]: leaf is 40 bytes of hex")
        for h in p["audit_path"]:
            _hex32(h)
    return items


@dataclass
class _Parsed:
    cert: dict[str, Any]
    body: dict[str, Any]
    commitment: Commitment
    beacon_value: BeaconValue


def _parse(doc: Any) -> _Parsed:
    if not isinstance(doc, dict) or set(doc) != {
        "body", "certificate_hash", "signature", "substitutions",
    }:  # fmt: skip
        raise ValueError("top level must be {body, certificate_hash, signature, substitutions}")
    body = doc["body"]
    if not isinstance(body, dict) or set(body) != BODY_KEYS:
        raise ValueError(f"body keys must be {sorted(BODY_KEYS)}")
    if body["type"] != CERTIFICATE_TYPE or body["version"] != CERTIFICATE_VERSION:
        raise ValueError("not a fairlot certificate of version 1")
    commitment = Commitment.from_json(body["commitment"])
    Rules.from_json(body["rules"])
    beacon_value = BeaconValue.from_json(body["beacon_value"])
    for key in ("commitment_hash", "seed"):
        _hex32(body[key])
    _hex32(doc["certificate_hash"])
    bytes.fromhex(body["commitment_signature"])
    bytes.fromhex(doc["signature"])
    _parse_picks(body["winners"], commitment.winners, "winners")
    _parse_picks(body["alternates"], commitment.alternates, "alternates")
    if not isinstance(doc["substitutions"], list):
        raise ValueError("substitutions must be a list")
    return _Parsed(doc, body, commitment, beacon_value)


class _Run:
    """Accumulates checks; one method per step keeps each step's logic separate."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, name: str, passed: bool | None, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))


def _check_picks(
    run: _Run,
    name: str,
    stated: list[dict[str, Any]],
    expected: tuple[int, ...] | None,
    c: Commitment,
    leaves: list[bytes] | None,
) -> None:
    stated_idx = tuple(p["index"] for p in stated)
    for p in stated:
        leaf = bytes.fromhex(p["leaf"])
        path = [bytes.fromhex(h) for h in p["audit_path"]]
        if not verify_inclusion(hash_leaves([leaf])[0], p["index"], c.n, path, c.merkle_root):
            run.add(name, False, f"position {p['position']}: leaf not at index {p['index']}")
            return
        if leaves is not None and leaves[p["index"]] != leaf:
            run.add(name, False, f"position {p['position']}: leaf differs from the leaves file")
            return
    if expected is None:
        run.add(
            name,
            None,
            "leaves proven under the root; weighted selection not recomputed "
            "(needs --entries, the public leaves file)",
        )
    elif stated_idx != expected:
        run.add(name, False, f"stated {list(stated_idx)}, recomputed {list(expected)}")
    else:
        run.add(name, True, f"{len(expected)} recomputed from the seed and proven under the root")


def verify_certificate(
    certificate: bytes | Mapping[str, Any],
    *,
    leaves: bytes | None = None,
    receipt: bytes | Mapping[str, Any] | None = None,
    previous: bytes | Mapping[str, Any] | None = None,
    backend: Backend = "auto",
) -> Report:
    """Verify a certificate; optional public leaves file, receipt and previous certificate."""
    run = _Run()
    try:
        parsed = _parse(_doc(certificate))
    except (DrawError, KeyError, TypeError, ValueError, AttributeError) as exc:
        run.add("format", False, f"unreadable certificate: {exc}")
        return Report(tuple(run.checks))
    run.add("format", True, "fairlot certificate v1")
    body, c, cert = parsed.body, parsed.commitment, parsed.cert

    rules_ok = hashlib.sha256(canonical(body["rules"])).digest() == c.rules_hash
    run.add(
        "rules",
        rules_ok,
        "rules hash to the committed rules_hash"
        if rules_ok
        else "the rules in the certificate do not hash to the committed rules_hash",
    )

    c_hash = c.digest()
    ok = c_hash.hex() == body["commitment_hash"] and canonical(body["commitment"]) == (c.canonical_bytes())
    run.add(
        "commitment",
        ok,
        f"commitment hash {c_hash.hex()}"
        if ok
        else f"commitment hashes to {c_hash.hex()}, certificate says {body['commitment_hash']}",
    )

    ok = verify_signature(c.host_key, COMMITMENT_TAG, c_hash, bytes.fromhex(body["commitment_signature"]))
    run.add(
        "commitment_signature",
        ok,
        f"Ed25519 by key {fingerprint(c.host_key)}"
        if ok
        else "commitment signature does not verify under host_key",
    )

    _chain_link(run, c, previous)

    randomness = parsed.beacon_value.randomness
    problem = timing_problem(c)
    if problem:
        run.add("beacon", False, problem)
    else:
        try:
            randomness = check_beacon(c.beacon, parsed.beacon_value, backend)
            run.add("beacon", True, _beacon_detail(c.beacon))
        except DrawError as exc:
            run.add("beacon", False, str(exc))

    seed = derive_seed(c_hash, randomness)
    ok = seed.hex() == body["seed"]
    run.add(
        "seed",
        ok,
        f"seed {seed.hex()}" if ok else f"seed recomputes to {seed.hex()}, certificate says {body['seed']}",
    )

    leaf_list, weights = _check_root(run, c, leaves)
    if c.weighted and weights is None:
        expected = None  # weighted picks need the leaves file
    else:
        expected = select_picks(seed, c.n, c.winners, c.alternates, weights if c.weighted else None)
    exp_w = None if expected is None else expected.winners
    exp_a = None if expected is None else expected.alternates
    _check_picks(run, "winners", body["winners"], exp_w, c, leaf_list)
    _check_picks(run, "alternates", body["alternates"], exp_a, c, leaf_list)

    winners = [p["index"] for p in body["winners"]]
    alternates = [p["index"] for p in body["alternates"]]
    cert_hash = certificate_hash(body)
    subs = cert["substitutions"]
    problem = check_chain(cert_hash, winners, alternates, subs, c.host_key)
    current = tuple(replay(winners, subs)) if problem is None else tuple(winners)
    run.add(
        "substitutions",
        problem is None,
        problem or f"{len(subs)} signed, linked, each using the next alternate",
    )

    ok = cert_hash.hex() == cert["certificate_hash"] and verify_signature(
        c.host_key, CERTIFICATE_TAG, cert_hash, bytes.fromhex(cert["signature"])
    )
    run.add(
        "certificate_signature",
        ok,
        f"certificate hash {cert_hash.hex()}"
        if ok
        else "certificate hash or signature does not match the body",
    )

    if receipt is not None:
        _check_receipt(run, c, receipt, current)
    return Report(
        checks=tuple(run.checks),
        trust=c.beacon.trust,
        certificate_hash=cert_hash.hex(),
        key_fingerprint=fingerprint(c.host_key),
        current_winners=current,
    )


def _beacon_detail(spec: BeaconSpec) -> str:
    if spec.kind == "drand":
        return f"drand {spec.chain().name} round {spec.round} BLS signature verifies"
    return "commit-reveal: the reveal matches the committed hash"


def _chain_link(run: _Run, c: Commitment, previous: bytes | Mapping[str, Any] | None) -> None:
    stated = f"host {c.host_id} seq {c.host_seq}"
    if previous is None:
        if c.host_seq == 1:
            run.add("chain_link", True, f"{stated}: first certificate of this host")
        else:
            prev_hash = c.prev_cert_hash.hex() if c.prev_cert_hash else "?"
            run.add("chain_link", None, f"{stated} links to {prev_hash}; give --prev to check")
        return
    try:
        prev = _parse(_doc(previous))
    except (DrawError, KeyError, TypeError, ValueError, AttributeError) as exc:
        run.add("chain_link", False, f"previous certificate unreadable: {exc}")
        return
    pc = prev.commitment
    prev_digest = certificate_hash(prev.body)
    problems = []
    if c.prev_cert_hash != prev_digest:
        problems.append("prev_cert_hash is not the previous certificate's hash")
    if pc.host_key != c.host_key or pc.host_id != c.host_id:
        problems.append("previous certificate is from another host or key")
    if pc.host_seq + 1 != c.host_seq:
        problems.append(f"host_seq {c.host_seq} does not follow {pc.host_seq}")
    if not verify_signature(pc.host_key, CERTIFICATE_TAG, prev_digest, bytes.fromhex(prev.cert["signature"])):
        problems.append("previous certificate's signature does not verify")
    run.add("chain_link", not problems, "; ".join(problems) or f"{stated} follows the previous")


def _check_root(
    run: _Run, c: Commitment, leaves: bytes | None
) -> tuple[list[bytes] | None, list[int] | None]:
    """The leaves and their weights when the file matches the commitment, else (None, None)."""
    if leaves is None:
        run.add("root", None, "give --entries (the public leaves file) to recompute the root")
        return None, None
    try:
        leaf_list = decode_leaves_file(leaves)
    except ValueError as exc:
        run.add("root", False, f"leaves file: {exc}")
        return None, None
    weights = leaf_weights(leaf_list)
    total = sum(weights)
    if len(leaf_list) != c.n:
        run.add("root", False, f"{len(leaf_list)} leaves, the commitment says {c.n}")
    elif total != c.total_weight:
        run.add("root", False, f"leaf weights sum to {total}, committed {c.total_weight}")
    elif not c.weighted and weights.count(1) != len(weights):
        run.add("root", False, "an unweighted draw has every weight 1")
    elif (root := merkle_root(leaf_list)) != c.merkle_root:
        run.add("root", False, f"leaves hash to {root.hex()}, committed {c.merkle_root.hex()}")
    else:
        run.add("root", True, f"{c.n} leaves hash to the committed root")
        return leaf_list, weights
    return None, None


def _check_receipt(
    run: _Run, c: Commitment, receipt: bytes | Mapping[str, Any], current: tuple[int, ...]
) -> None:
    try:
        data = _doc(receipt)
        parsed = Receipt.from_json(data)
        draw_id, root = data["draw_id"], data["merkle_root"]
    except (DrawError, KeyError, TypeError, ValueError) as exc:
        run.add("receipt", False, f"unreadable receipt: {exc}")
        return
    if draw_id != c.draw_id or root != c.merkle_root.hex():
        run.add("receipt", False, "receipt is for another draw or root")
    elif not check_receipt(parsed, c.merkle_root, c.n):
        run.add("receipt", False, f"{parsed.identity}: not included at index {parsed.index}")
    else:
        won = parsed.index in current
        where = f"winner at position {current.index(parsed.index)}" if won else "not a winner"
        run.add("receipt", True, f"{parsed.identity} is leaf {parsed.index} ({where})")


def render_text(report: Report) -> str:
    """Plain-text report: one line per check, then trust level and verdict."""
    labels = {True: "PASS", False: "FAIL", None: "SKIP"}
    width = max(len(name) for name in CHECK_ORDER)
    lines = [f"{labels[c.passed]}  {c.name:<{width}}  {c.detail}" for c in report.checks]
    lines.append(f"beacon trust: {report.trust}")
    if report.certificate_hash:
        lines.append(f"certificate: {report.certificate_hash}")
        lines.append(f"host key fingerprint: {report.key_fingerprint}")
    verdict = "VALID" if report.ok else f"INVALID (first failure: {report.first_failure})"
    lines.append(f"result: {verdict}")
    return "\n".join(lines) + "\n"
