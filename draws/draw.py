"""From commitment and beacon randomness to the ordered picks (winners, then alternates).

Why the seed has no host secret: the host would otherwise be the last to reveal and could
pick among outcomes. seed = SHA-256(SEED_TAG || commitment hash || beacon randomness).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from draws.rng import Drbg
from draws.select import pick_unweighted, pick_weighted

SEED_TAG = b"fairlot/seed/v1"


def derive_seed(commitment_hash: bytes, randomness: bytes) -> bytes:
    """``SHA-256(SEED_TAG || commitment_hash || randomness)``."""
    if len(commitment_hash) != 32 or len(randomness) != 32:
        raise ValueError("commitment hash and randomness are 32 bytes each")
    return hashlib.sha256(SEED_TAG + commitment_hash + randomness).digest()


@dataclass(frozen=True, slots=True)
class Picks:
    """Leaf indices (positions in the sorted leaves) chosen by the draw."""

    winners: tuple[int, ...]
    alternates: tuple[int, ...]


def select_picks(seed: bytes, n: int, winners: int, alternates: int, weights: Sequence[int] | None) -> Picks:
    """Run the DRBG: weighted when ``weights`` is given (one per leaf), else uniform."""
    drbg = Drbg(seed)
    count = winners + alternates
    if weights is None:
        order = pick_unweighted(drbg, n, count)
    else:
        if len(weights) != n:
            raise ValueError("one weight per leaf")
        order = pick_weighted(drbg, weights, count)
    return Picks(tuple(order[:winners]), tuple(order[winners:]))
