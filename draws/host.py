"""The host's side of a draw, step by step: prepare (import, filter, commit), then issue.

Why two steps: ``prepare_draw`` ends with a signed commitment that must be published before
the beacon round; ``issue_certificate`` can only run once the round exists (it refuses
earlier, and refuses a value for any other round).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from draws.beacon import BeaconSpec, BeaconValue, beacon_for_draw
from draws.certificate import CERTIFICATE_TYPE, CERTIFICATE_VERSION, pick_json, seal
from draws.commit import Commitment, sign_commitment
from draws.draw import derive_seed, select_picks
from draws.entries import ImportResult
from draws.filters import FilterResult, Rules, apply_rules
from draws.keys import public_key
from draws.leaves import PrivateLeaves, build_leaves, leaf_weights

#: ``(host_secret, identities, weights) -> PrivateLeaves``, as ``build_leaves``.
LeafBuilder = Callable[[bytes, Sequence[str], Sequence[int]], PrivateLeaves]


@dataclass(frozen=True, slots=True)
class PreparedDraw:
    """Everything fixed before the beacon: filtered entries, leaves, signed commitment."""

    rules: Rules
    filtered: FilterResult
    leaves: PrivateLeaves
    commitment: Commitment
    commitment_signature: bytes

    def display_name(self, position: int) -> str:
        """Handle (else user id) of the entry at sorted leaf ``position``."""
        e, i = self.filtered.eligible, self.leaves.order[position]
        return e.handle[i] or e.user_id[i]

    def display_names(self) -> list[str]:
        """Handle (else user id) of the entry at each sorted leaf position."""
        return list(map(self.display_name, range(len(self.leaves.order))))


def prepare_draw(
    *,
    imported: ImportResult,
    rules: Rules,
    host_secret: bytes,
    signing_key: bytes,
    draw_id: str,
    host_id: str,
    host_seq: int,
    prev_cert_hash: bytes | None,
    winners: int,
    alternates: int,
    weighted: bool,
    beacon: BeaconSpec,
    close_time_ms: int,
    leaf_builder: LeafBuilder = build_leaves,
) -> PreparedDraw:
    """Filter, build the salted tree, and sign the commitment.

    ``leaf_builder`` must return what ``build_leaves`` returns; a runner outside this pure
    package may pass one that spreads the hashing over processes.
    """
    filtered = apply_rules(imported.entries, rules)
    eligible = filtered.eligible
    if not weighted:  # the waterfall shows the weight the draw uses: 1 per entry
        filtered = replace(filtered, waterfall=replace(filtered.waterfall, total_weight=len(eligible)))
    weights = eligible.weight if weighted else (1,) * len(eligible)
    leaves = leaf_builder(host_secret, eligible.identities(), weights)
    commitment = Commitment(
        draw_id=draw_id,
        host_id=host_id,
        host_key=public_key(signing_key),
        host_seq=host_seq,
        prev_cert_hash=prev_cert_hash,
        rules_hash=rules.digest(),
        raw_import_sha256=imported.raw_sha256,
        merkle_root=leaves.root,
        n=len(eligible),
        total_weight=sum(weights),
        weighted=weighted,
        winners=winners,
        alternates=alternates,
        beacon=beacon,
        close_time_ms=close_time_ms,
    )
    return PreparedDraw(rules, filtered, leaves, commitment, sign_commitment(commitment, signing_key))


def issue_certificate(
    prepared: PreparedDraw,
    beacon_value: BeaconValue,
    now_ms: int,
    signing_key: bytes,
    branding: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Draw and seal the certificate; refuses before the round exists or for a wrong round."""
    c = prepared.commitment
    randomness = beacon_for_draw(c.beacon, beacon_value, now_ms)
    commitment_hash = c.digest()
    seed = derive_seed(commitment_hash, randomness)
    weights = leaf_weights(prepared.leaves.leaves) if c.weighted else None
    picks = select_picks(seed, c.n, c.winners, c.alternates, weights)
    names = {i: prepared.display_name(i) for i in (*picks.winners, *picks.alternates)}  # picks only
    body: dict[str, Any] = {
        "type": CERTIFICATE_TYPE,
        "version": CERTIFICATE_VERSION,
        "commitment": c.to_json(),
        "commitment_hash": commitment_hash.hex(),
        "commitment_signature": prepared.commitment_signature.hex(),
        "rules": prepared.rules.to_json(),
        "beacon_value": beacon_value.to_json(),
        "seed": seed.hex(),
        "winners": pick_json(prepared.leaves, picks.winners, names),
        "alternates": pick_json(prepared.leaves, picks.alternates, names),
        "waterfall": prepared.filtered.waterfall.to_json(),
        "branding": dict(branding or {}),
    }
    return seal(body, signing_key)
