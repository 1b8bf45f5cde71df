"""The commitment: everything the draw depends on, fixed and signed before the beacon round.

Why: once the commitment (entries root, rules, sizes, target round) is signed and
published, the only unknown left is the beacon value, which nobody controls. The per-host
hash chain (``host_seq``, ``prev_cert_hash``) makes a hidden re-run show: skipping or
replacing a certificate breaks the chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from draws.beacon import DRAND, BeaconSpec
from draws.canonical import MAX_SAFE_INT, canonical
from draws.errors import CommitmentError
from draws.keys import COMMITMENT_TAG, public_key, sign

ALGORITHM = "fairlot-draw/1"
COMMITMENT_TYPE = "fairlot/commitment"


@dataclass(frozen=True, slots=True)
class Commitment:
    """The signed pre-draw statement (see docs/fairness.md section 6 for the JSON schema)."""

    draw_id: str
    host_id: str
    host_key: bytes
    host_seq: int
    prev_cert_hash: bytes | None
    rules_hash: bytes
    raw_import_sha256: bytes
    merkle_root: bytes
    n: int
    total_weight: int
    weighted: bool
    winners: int
    alternates: int
    beacon: BeaconSpec
    close_time_ms: int
    algorithm: str = ALGORITHM

    def __post_init__(self) -> None:
        problems = []
        if not self.draw_id or not self.host_id:
            problems.append("draw_id and host_id are required")
        if len(self.host_key) != 32:
            problems.append("host_key is a 32-byte Ed25519 public key")
        if self.host_seq < 1:
            problems.append("host_seq starts at 1")
        if (self.prev_cert_hash is None) != (self.host_seq == 1):
            problems.append("prev_cert_hash is null exactly for a host's first certificate")
        if self.prev_cert_hash is not None and len(self.prev_cert_hash) != 32:
            problems.append("prev_cert_hash is 32 bytes")
        if self.winners < 1 or self.alternates < 0:
            problems.append("at least one winner, no negative alternates")
        if self.winners + self.alternates > self.n:
            problems.append(f"{self.winners}+{self.alternates} picks exceed {self.n} entries")
        if not self.n <= self.total_weight <= MAX_SAFE_INT:
            problems.append("total weight must be between n and 2**53-1")
        if not self.weighted and self.total_weight != self.n:
            problems.append("an unweighted draw has total weight n")
        if self.algorithm != ALGORITHM:
            problems.append(f"unknown algorithm {self.algorithm!r}")
        if problems:
            raise CommitmentError("; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        """Canonical-JSON-ready dict; hex for bytes, null for the first prev hash."""
        return {
            "type": COMMITMENT_TYPE,
            "algorithm": self.algorithm,
            "draw_id": self.draw_id,
            "host_id": self.host_id,
            "host_key": self.host_key.hex(),
            "host_seq": self.host_seq,
            "prev_cert_hash": None if self.prev_cert_hash is None else self.prev_cert_hash.hex(),
            "rules_hash": self.rules_hash.hex(),
            "raw_import_sha256": self.raw_import_sha256.hex(),
            "merkle_root": self.merkle_root.hex(),
            "n": self.n,
            "total_weight": self.total_weight,
            "weighted": self.weighted,
            "winners": self.winners,
            "alternates": self.alternates,
            "beacon": self.beacon.to_json(),
            "close_time_ms": self.close_time_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Commitment:
        """Parse and validate; raises CommitmentError on anything malformed."""
        try:
            if data["type"] != COMMITMENT_TYPE:
                raise CommitmentError(f"not a commitment: type {data['type']!r}")
            prev = data["prev_cert_hash"]
            result = cls(
                draw_id=_str(data["draw_id"]),
                host_id=_str(data["host_id"]),
                host_key=bytes.fromhex(_str(data["host_key"])),
                host_seq=_int(data["host_seq"]),
                prev_cert_hash=None if prev is None else bytes.fromhex(_str(prev)),
                rules_hash=bytes.fromhex(_str(data["rules_hash"])),
                raw_import_sha256=bytes.fromhex(_str(data["raw_import_sha256"])),
                merkle_root=bytes.fromhex(_str(data["merkle_root"])),
                n=_int(data["n"]),
                total_weight=_int(data["total_weight"]),
                weighted=_bool(data["weighted"]),
                winners=_int(data["winners"]),
                alternates=_int(data["alternates"]),
                beacon=BeaconSpec.from_json(data["beacon"]),
                close_time_ms=_int(data["close_time_ms"]),
                algorithm=_str(data["algorithm"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CommitmentError):
                raise
            raise CommitmentError(f"malformed commitment: {exc!r}") from exc
        if set(data) != set(result.to_json()):
            raise CommitmentError("commitment has unknown or missing keys")
        return result

    def canonical_bytes(self) -> bytes:
        """RFC 8785 bytes of ``to_json()``."""
        return canonical(self.to_json())

    def digest(self) -> bytes:
        """The commitment hash: SHA-256 of the canonical bytes."""
        return hashlib.sha256(self.canonical_bytes()).digest()


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def timing_problem(commitment: Commitment) -> str | None:
    """Why the beacon cannot be trusted for this commitment's close time, if it cannot.

    The target round must be emitted strictly after the close time (genesis + (R-1)·period
    > close); otherwise the host could have known the randomness while entries were open.
    """
    beacon = commitment.beacon
    if beacon.ready_at_ms() <= commitment.close_time_ms:
        what = "round" if beacon.kind == DRAND else "reveal time"
        return (
            f"the beacon {what} ({beacon.ready_at_ms()} ms) must come after the "
            f"close time ({commitment.close_time_ms} ms)"
        )
    return None


def sign_commitment(commitment: Commitment, signing_key: bytes) -> bytes:
    """Ed25519 over COMMITMENT_TAG || commitment hash, by the key the commitment names."""
    problem = timing_problem(commitment)
    if problem:
        raise CommitmentError(problem)
    if public_key(signing_key) != commitment.host_key:
        raise CommitmentError("the signing key does not match the commitment's host_key")
    return sign(signing_key, COMMITMENT_TAG, commitment.digest())
