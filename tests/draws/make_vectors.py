"""Generate tests/draws/vectors/*.json once (``python -m tests.draws.make_vectors``).

The committed files are the known answers: test_vectors.py recomputes them and must agree,
so a change to any algorithm shows as a failing vector, never as a silently new answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from draws import Drbg, canonical, derive_seed, pick_unweighted, pick_weighted
from draws.leaves import build_leaves
from draws.merkle import MerkleTree, hash_leaves

VECTORS = Path(__file__).parent / "vectors"
SEED = hashlib.sha256(b"fairlot test vector seed").digest()
BELOW_BOUNDS = [1, 2, 3, 6, 7, 10, 100, 1000, 2**32 + 1, 2**53 - 1, 2**64]
WEIGHTS = [5, 1, 1, 20, 3, 3, 1, 8, 2, 2, 1, 1, 13, 1, 4, 1, 1, 6, 1, 2]


def drbg() -> dict[str, Any]:
    d = Drbg(SEED)
    blocks = [d.block().hex() for _ in range(3)]
    d = Drbg(SEED)
    return {
        "seed": SEED.hex(),
        "tag": "fairlot/drbg/v1",
        "blocks": blocks,
        "u64": [d.next_u64() for _ in range(8)],
    }


def below() -> dict[str, Any]:
    d = Drbg(SEED)
    return {
        "seed": SEED.hex(),
        "calls": [{"n": n, "result": d.below(n)} for n in BELOW_BOUNDS],
        "u64_consumed": d.draws,
    }


def picks() -> dict[str, Any]:
    return {
        "seed": SEED.hex(),
        "unweighted": {"n": 100, "count": 10, "picks": pick_unweighted(Drbg(SEED), 100, 10)},
        "weighted": {
            "weights": WEIGHTS,
            "count": 8,
            "picks": pick_weighted(Drbg(SEED), WEIGHTS, 8),
        },
    }


def merkle() -> dict[str, Any]:
    leaves = [f"leaf-{i}".encode() for i in range(7)]
    tree = MerkleTree(hash_leaves(leaves))
    secret = hashlib.sha256(b"fairlot test host secret").digest()
    identities = ["instagram/id/1001", "instagram/handle/ana", "tiktok/id/77", "x/id/5"]
    weights = [1, 3, 2, 1]
    private = build_leaves(secret, identities, weights)
    return {
        "plain": {
            "leaves_utf8": [leaf.decode() for leaf in leaves],
            "leaf_hashes": [h.hex() for h in tree.levels[0]],
            "root": tree.root.hex(),
            "audit_path_5": [p.hex() for p in tree.audit_path(5)],
        },
        "salted": {
            "host_secret": secret.hex(),
            "identities": identities,
            "weights": weights,
            "sorted_identities": [i.decode() for i in private.identities],
            "salts": [s.hex() for s in private.salts],
            "sorted_leaves": [leaf.hex() for leaf in private.leaves],
            "root": private.root.hex(),
        },
        "empty_root": MerkleTree([]).root.hex(),
    }


def seed_and_canonical() -> dict[str, Any]:
    commitment_hash = hashlib.sha256(b"example commitment").digest()
    randomness = bytes.fromhex("fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587")
    sample = {"z": [1, True, None], "a": 'é\n"', "€": -5, "\U0001f600": {}, "b": 2**53 - 1}
    return {
        "seed": {
            "commitment_hash": commitment_hash.hex(),
            "randomness": randomness.hex(),
            "seed": derive_seed(commitment_hash, randomness).hex(),
        },
        "canonical": {
            "value": sample,
            "utf8": canonical(sample).decode(),
            "sha256": hashlib.sha256(canonical(sample)).hexdigest(),
        },
    }


def main() -> None:
    VECTORS.mkdir(exist_ok=True)
    for name, build in [
        ("drbg", drbg),
        ("below", below),
        ("picks", picks),
        ("merkle", merkle),
        ("seed_canonical", seed_and_canonical),
    ]:
        path = VECTORS / f"{name}.json"
        path.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print("wrote", path)


if __name__ == "__main__":
    main()
