"""Ed25519 signing for commitments, certificates and substitutions, with domain tags.

Why tags: every signature covers ``tag || SHA-256(document)``, so a signature made for one
kind of document can never be replayed as another. Keys are raw 32-byte values (the seed
for signing, the public point for verifying) so the format is library-independent.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

COMMITMENT_TAG = b"fairlot/commitment/v1"
CERTIFICATE_TAG = b"fairlot/certificate/v1"
SUBSTITUTION_TAG = b"fairlot/substitution/v1"


def public_key(signing_key: bytes) -> bytes:
    """Raw 32-byte Ed25519 public key of a raw 32-byte private key (seed)."""
    key = Ed25519PrivateKey.from_private_bytes(signing_key)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(signing_key: bytes, tag: bytes, digest: bytes) -> bytes:
    """Ed25519 signature over ``tag || digest``."""
    return Ed25519PrivateKey.from_private_bytes(signing_key).sign(tag + digest)


def verify_signature(key: bytes, tag: bytes, digest: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature by ``key`` over ``tag || digest``."""
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, tag + digest)
    except (InvalidSignature, ValueError):
        return False
    return True


def fingerprint(key: bytes) -> str:
    """Short human-comparable key id: first 16 bytes of SHA-256(key), hex in groups of 4."""
    digest = hashlib.sha256(key).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))
