"""Known-answer tests: recompute every committed vector (tests/draws/vectors/*.json).

Where possible the test also recomputes the answer independently (plain hmac/hashlib and a
recursive RFC 9162 tree written from the RFC's definitions), so the vectors are not merely
our code agreeing with itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from draws import (
    QUICKNET,
    BeaconInvalid,
    Drbg,
    canonical,
    derive_seed,
    pick_unweighted,
    pick_weighted,
    verify_drand,
)
from draws.leaves import build_leaves
from draws.merkle import MerkleTree, hash_leaves, verify_inclusion

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def test_drand_quicknet_known_answer() -> None:
    v = load("drand_quicknet")
    assert v["public_key"] == QUICKNET.public_key.hex()
    assert (v["genesis"], v["period"], v["chain_hash"]) == (
        QUICKNET.genesis_s,
        QUICKNET.period_s,
        QUICKNET.chain_hash,
    )
    sig = bytes.fromhex(v["signature"])
    randomness = verify_drand(QUICKNET, v["round"], sig, backend="drand-verify")
    assert randomness.hex() == v["randomness"] == hashlib.sha256(sig).hexdigest()
    with pytest.raises(BeaconInvalid):
        verify_drand(QUICKNET, v["rejected_round"], sig, backend="drand-verify")


def test_drand_quicknet_known_answer_py_ecc() -> None:
    """The independent pure-Python pairing check agrees (the one slow-ish BLS test)."""
    v = load("drand_quicknet")
    sig = bytes.fromhex(v["signature"])
    assert verify_drand(QUICKNET, v["round"], sig, backend="py-ecc").hex() == v["randomness"]
    with pytest.raises(BeaconInvalid):
        verify_drand(QUICKNET, v["rejected_round"], sig, backend="py-ecc")


def test_drbg_vector_and_independent_hmac() -> None:
    v = load("drbg")
    seed = bytes.fromhex(v["seed"])
    d = Drbg(seed)
    assert [d.block().hex() for _ in range(3)] == v["blocks"]
    for c, block in enumerate(v["blocks"]):
        msg = v["tag"].encode() + c.to_bytes(8, "big")
        assert hmac.new(seed, msg, hashlib.sha256).hexdigest() == block
    d = Drbg(seed)
    assert [d.next_u64() for _ in range(8)] == v["u64"]
    first = bytes.fromhex(v["blocks"][0])
    assert v["u64"][:4] == [int.from_bytes(first[i : i + 8], "big") for i in range(0, 32, 8)]


def test_below_vector() -> None:
    v = load("below")
    d = Drbg(bytes.fromhex(v["seed"]))
    assert [{"n": c["n"], "result": d.below(c["n"])} for c in v["calls"]] == v["calls"]
    assert d.draws == v["u64_consumed"]


def test_pick_vectors() -> None:
    v = load("picks")
    seed = bytes.fromhex(v["seed"])
    u, w = v["unweighted"], v["weighted"]
    assert pick_unweighted(Drbg(seed), u["n"], u["count"]) == u["picks"]
    assert pick_weighted(Drbg(seed), w["weights"], w["count"]) == w["picks"]


def rfc_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, literally: split at the largest power of two below n."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:])).digest()


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_mth(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_mth(leaves[:k])]


def test_merkle_vector_and_independent_tree() -> None:
    v = load("merkle")
    plain = v["plain"]
    leaves = [s.encode() for s in plain["leaves_utf8"]]
    tree = MerkleTree(hash_leaves(leaves))
    assert [h.hex() for h in tree.levels[0]] == plain["leaf_hashes"]
    assert tree.root.hex() == plain["root"] == rfc_mth(leaves).hex()
    assert [p.hex() for p in tree.audit_path(5)] == plain["audit_path_5"]
    assert [p.hex() for p in rfc_path(5, leaves)] == plain["audit_path_5"]
    assert MerkleTree([]).root.hex() == v["empty_root"]


def test_salted_leaves_vector_and_independent_computation() -> None:
    s = load("merkle")["salted"]
    secret = bytes.fromhex(s["host_secret"])
    private = build_leaves(secret, s["identities"], s["weights"])
    assert [leaf.hex() for leaf in private.leaves] == s["sorted_leaves"]
    assert private.root.hex() == s["root"]
    # independently: HMAC-SHA256 salts, SHA-256 commitments, 40-byte leaves, sorted
    mine = []
    for ident, weight in zip(s["identities"], s["weights"], strict=True):
        salt = hmac.new(secret, ident.encode(), hashlib.sha256).digest()
        commit = hashlib.sha256(salt + ident.encode()).digest()
        mine.append((commit + weight.to_bytes(8, "big"), ident, salt))
    mine.sort()
    assert [m[0].hex() for m in mine] == s["sorted_leaves"]
    assert [m[1] for m in mine] == s["sorted_identities"]
    assert [m[2].hex() for m in mine] == s["salts"]
    assert rfc_mth([m[0] for m in mine]).hex() == s["root"]


def test_seed_and_canonical_vectors() -> None:
    v = load("seed_canonical")
    sd = v["seed"]
    seed = derive_seed(bytes.fromhex(sd["commitment_hash"]), bytes.fromhex(sd["randomness"]))
    assert seed.hex() == sd["seed"]
    independent = hashlib.sha256(
        b"fairlot/seed/v1" + bytes.fromhex(sd["commitment_hash"]) + bytes.fromhex(sd["randomness"])
    )
    assert independent.hexdigest() == sd["seed"]
    c = v["canonical"]
    assert canonical(c["value"]).decode() == c["utf8"]
    assert c["utf8"] == ('{"a":"é\\n\\"","b":9007199254740991,"z":[1,true,null],"€":-5,"\U0001f600":{}}')
    assert hashlib.sha256(c["utf8"].encode()).hexdigest() == c["sha256"]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_audit_path_matches_rfc_and_verifies(size: int) -> None:
    leaves = [bytes([i]) * 3 for i in range(size)]
    tree = MerkleTree(hash_leaves(leaves))
    assert tree.root == rfc_mth(leaves)
    for m in range(size):
        path = tree.audit_path(m)
        assert path == rfc_path(m, leaves)
        assert verify_inclusion(tree.levels[0][m], m, size, path, tree.root)
        assert not verify_inclusion(
            tree.levels[0][m], m, size, [*path, path[0]] if path else [b"x" * 32], tree.root
        )
        if path:
            bent = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
            assert not verify_inclusion(tree.levels[0][m], m, size, bent, tree.root)
        if size > 1:
            wrong = (m + 1) % size
            assert not verify_inclusion(tree.levels[0][m], wrong, size, path, tree.root)
