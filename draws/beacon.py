"""Beacons behind one interface: drand quicknet (public, BLS-verified) and commit–reveal.

Why a public beacon: the seed must come from something nobody (host included) knows when
the commitment is signed. drand quicknet publishes round R at ``genesis + (R-1)·3 s``
with an unchained BLS signature on G1 over ``SHA-256(R as 8-byte big-endian)``, verifiable
offline against the pinned League of Entropy public key; randomness = SHA-256(signature).

The offline commit–reveal beacon is for demos without network: the host commits to
``SHA-256(REVEAL_COMMIT_TAG || reveal)`` inside the signed commitment and reveals later. It
proves the value did not change after the commitment, not that the host did not choose it:
it is labelled weaker everywhere.

Backends: the drand-verify wheel (Rust, ~10 ms) and py-ecc (pure Python, independent code,
~0.5-3 s) as fallback or cross-check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from draws.errors import BeaconInvalid, BeaconNotReady, CommitmentError, WrongRound

DRAND = "drand"
COMMIT_REVEAL = "commit-reveal"
REVEAL_COMMIT_TAG = b"fairlot/reveal-commit/v1"
REVEAL_RANDOM_TAG = b"fairlot/reveal-random/v1"
DST_G1 = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
TRUST_PUBLIC = "public: drand round verified against the pinned network key"
TRUST_WEAK = "WEAKER: host commit-reveal (the host could choose the value; demo/offline use)"
Backend = Literal["auto", "drand-verify", "py-ecc", "both"]


@dataclass(frozen=True, slots=True)
class DrandChain:
    """A drand network with unchained G1 signatures (the quicknet scheme)."""

    name: str
    chain_hash: str
    public_key: bytes
    genesis_s: int
    period_s: int

    def round_time_ms(self, round_: int) -> int:
        """When round ``round_`` (>= 1) is emitted, in ms UTC."""
        return (self.genesis_s + (round_ - 1) * self.period_s) * 1000

    def first_round_after(self, t_ms: int) -> int:
        """The smallest round emitted strictly after ``t_ms``."""
        offset = t_ms - self.genesis_s * 1000
        if offset < 0:
            return 1
        return offset // (self.period_s * 1000) + 2

    def latest_round(self, now_ms: int) -> int:
        """The last round emitted at or before ``now_ms`` (0 before genesis)."""
        offset = now_ms - self.genesis_s * 1000
        return 0 if offset < 0 else offset // (self.period_s * 1000) + 1


QUICKNET = DrandChain(
    name="quicknet",
    chain_hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key=bytes.fromhex(
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5"
        "776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a"
        "4bc09e76eae8991ef5ece45a"
    ),
    genesis_s=1692803367,
    period_s=3,
)
CHAINS = {QUICKNET.chain_hash: QUICKNET}


def drand_message(round_: int) -> bytes:
    """The signed message of an unchained round: SHA-256(round as 8-byte big-endian)."""
    return hashlib.sha256(round_.to_bytes(8, "big")).digest()


def _verify_drand_verify(chain: DrandChain, round_: int, signature: bytes) -> bool:
    import drand_verify

    try:
        drand_verify.verify_bls_unchained_g1_rfc9380(round_, signature.hex(), chain.public_key.hex())
    except BaseException as exc:  # the wheel raises ValueError, or a Rust panic on garbage
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        return False
    return True


def _verify_py_ecc(chain: DrandChain, round_: int, signature: bytes) -> bool:
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2
    from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
    from py_ecc.optimized_bls12_381.optimized_curve import G2, neg
    from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, miller_loop

    pk = chain.public_key
    try:
        sig_point = decompress_G1(int.from_bytes(signature, "big"))  # type: ignore[arg-type]
        pk_point = decompress_G2(
            (int.from_bytes(pk[:48], "big"), int.from_bytes(pk[48:], "big"))  # type: ignore[arg-type]
        )
    except (ValueError, IndexError):
        return False
    if not (subgroup_check(sig_point) and subgroup_check(pk_point)):
        return False
    hashed = hash_to_G1(drand_message(round_), DST_G1, hashlib.sha256)  # type: ignore[arg-type]
    # e(sig, G2) == e(H(m), pk)  <=>  e(sig, G2) · e(H(m), -pk) == 1
    product = miller_loop(G2, sig_point, False) * miller_loop(neg(pk_point), hashed, False)
    return bool(final_exponentiate(product) == FQ12.one())


def verify_drand(chain: DrandChain, round_: int, signature: bytes, backend: Backend = "auto") -> bytes:
    """Verify round ``round_``'s signature; return its randomness, else raise BeaconInvalid.

    ``auto`` uses the drand-verify wheel, falling back to py-ecc when it is not installed;
    ``both`` requires the two independent implementations to agree.
    """
    if round_ < 1 or len(signature) != 48:
        raise BeaconInvalid(f"malformed drand value: round {round_}, {len(signature)}-byte sig")
    results: list[bool] = []
    if backend in ("auto", "drand-verify", "both"):
        try:
            results.append(_verify_drand_verify(chain, round_, signature))
        except ImportError:
            if backend != "auto":
                raise
    if backend in ("py-ecc", "both") or (backend == "auto" and not results):
        results.append(_verify_py_ecc(chain, round_, signature))
    if not results or not all(results):
        raise BeaconInvalid(f"BLS signature does not verify for {chain.name} round {round_}")
    return hashlib.sha256(signature).digest()


@dataclass(frozen=True, slots=True)
class BeaconSpec:
    """What the commitment pins: which beacon, and which future round (or reveal)."""

    kind: str
    round: int
    chain_hash: str = ""
    reveal_commitment: bytes = b""
    reveal_after_ms: int = 0

    @classmethod
    def drand(cls, round_: int, chain: DrandChain = QUICKNET) -> BeaconSpec:
        """A drand round of a known chain."""
        return cls(kind=DRAND, round=round_, chain_hash=chain.chain_hash)

    @classmethod
    def commit_reveal(cls, reveal: bytes, reveal_after_ms: int) -> BeaconSpec:
        """An offline commit–reveal beacon over a 32-byte secret ``reveal``."""
        return cls(
            kind=COMMIT_REVEAL,
            round=1,
            reveal_commitment=reveal_commitment(reveal),
            reveal_after_ms=reveal_after_ms,
        )

    @property
    def trust(self) -> str:
        """Human trust label carried into reports and PDFs."""
        return TRUST_PUBLIC if self.kind == DRAND else TRUST_WEAK

    def chain(self) -> DrandChain:
        """The pinned chain parameters (only known chains are accepted)."""
        try:
            return CHAINS[self.chain_hash]
        except KeyError:
            raise CommitmentError(f"unknown drand chain {self.chain_hash!r}") from None

    def ready_at_ms(self) -> int:
        """Earliest time the beacon value can exist."""
        if self.kind == DRAND:
            return self.chain().round_time_ms(self.round)
        return self.reveal_after_ms

    def to_json(self) -> dict[str, Any]:
        """JSON form inside the commitment (keys depend on the kind)."""
        if self.kind == DRAND:
            chain = self.chain()
            return {
                "kind": DRAND,
                "chain": chain.name,
                "chain_hash": chain.chain_hash,
                "public_key": chain.public_key.hex(),
                "genesis": chain.genesis_s,
                "period": chain.period_s,
                "round": self.round,
            }
        return {
            "kind": COMMIT_REVEAL,
            "round": self.round,
            "reveal_commitment": self.reveal_commitment.hex(),
            "reveal_after_ms": self.reveal_after_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BeaconSpec:
        """Parse and check against the pinned chain parameters (no trusting the document)."""
        kind = data.get("kind")
        if kind == DRAND:
            spec = cls.drand(int(data["round"]), CHAINS.get(str(data.get("chain_hash")), QUICKNET))
            if spec.chain_hash != data.get("chain_hash") or spec.to_json() != dict(data):
                raise CommitmentError("drand parameters differ from the pinned chain")
            return spec
        if kind == COMMIT_REVEAL:
            return cls(
                kind=COMMIT_REVEAL,
                round=int(data["round"]),
                reveal_commitment=bytes.fromhex(str(data["reveal_commitment"])),
                reveal_after_ms=int(data["reveal_after_ms"]),
            )
        raise CommitmentError(f"unknown beacon kind {kind!r}")


def reveal_commitment(reveal: bytes) -> bytes:
    """``SHA-256(REVEAL_COMMIT_TAG || reveal)``."""
    return hashlib.sha256(REVEAL_COMMIT_TAG + reveal).digest()


@dataclass(frozen=True, slots=True)
class BeaconValue:
    """A beacon output: drand (round, signature) or commit–reveal (reveal); plus randomness."""

    kind: str
    round: int
    randomness: bytes
    signature: bytes = b""
    reveal: bytes = b""

    @classmethod
    def drand(cls, round_: int, signature: bytes, randomness: bytes | None = None) -> BeaconValue:
        """A drand round as published (randomness defaults to SHA-256(signature))."""
        if randomness is None:
            randomness = hashlib.sha256(signature).digest()
        return cls(kind=DRAND, round=round_, randomness=randomness, signature=signature)

    @classmethod
    def revealed(cls, reveal: bytes) -> BeaconValue:
        """The reveal of a commit–reveal beacon."""
        return cls(
            kind=COMMIT_REVEAL,
            round=1,
            randomness=hashlib.sha256(REVEAL_RANDOM_TAG + reveal).digest(),
            reveal=reveal,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form carried in the certificate."""
        if self.kind == DRAND:
            return {
                "kind": DRAND,
                "round": self.round,
                "signature": self.signature.hex(),
                "randomness": self.randomness.hex(),
            }
        return {
            "kind": COMMIT_REVEAL,
            "round": self.round,
            "reveal": self.reveal.hex(),
            "randomness": self.randomness.hex(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BeaconValue:
        """Parse; hex fields must be hex (verification happens in ``check_beacon``)."""
        try:
            return cls(
                kind=str(data["kind"]),
                round=int(data["round"]),
                randomness=bytes.fromhex(str(data["randomness"])),
                signature=bytes.fromhex(str(data.get("signature", ""))),
                reveal=bytes.fromhex(str(data.get("reveal", ""))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BeaconInvalid(f"malformed beacon value: {exc}") from exc


def check_beacon(spec: BeaconSpec, value: BeaconValue, backend: Backend = "auto") -> bytes:
    """Verify ``value`` against the committed ``spec``; return the randomness.

    Refuses a value of another kind or round (WrongRound) and any value that does not
    verify (BeaconInvalid). Needs no clock: a valid signature proves the round exists.
    """
    if value.kind != spec.kind:
        raise WrongRound(f"beacon kind {value.kind!r} but the commitment pins {spec.kind!r}")
    if value.round != spec.round:
        raise WrongRound(f"beacon value is round {value.round}, the commitment pins {spec.round}")
    if spec.kind == DRAND:
        randomness = verify_drand(spec.chain(), value.round, value.signature, backend)
    else:
        if reveal_commitment(value.reveal) != spec.reveal_commitment:
            raise BeaconInvalid("the reveal does not match the committed hash")
        randomness = hashlib.sha256(REVEAL_RANDOM_TAG + value.reveal).digest()
    if randomness != value.randomness:
        raise BeaconInvalid("stated randomness differs from the verified one")
    return randomness


def beacon_for_draw(spec: BeaconSpec, value: BeaconValue, now_ms: int) -> bytes:
    """Gate used by the host before drawing: refuse before the round exists, then check."""
    if now_ms < spec.ready_at_ms():
        raise BeaconNotReady(
            f"{spec.kind} round {spec.round} is due at {spec.ready_at_ms()} ms, now is {now_ms}"
        )
    return check_beacon(spec, value)
