"""The certificate: one canonical JSON document carrying everything a verifier needs.

Layout ``{"body": ..., "certificate_hash": ..., "signature": ..., "substitutions": [...]}``.
The certificate hash is SHA-256 of the canonical body; it is what the next certificate of
the host chains to and what the verify URL names. Substitutions sit outside the body (they
come later) and chain to the certificate hash themselves.

The body does not embed the entries (a million of them would not fit a PDF or a URL): it
carries the root, sizes, and for each pick its leaf and audit path. The public leaves file
(``leaves.encode_leaves_file``) lets anyone recompute root and weighted picks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from draws.canonical import canonical
from draws.keys import CERTIFICATE_TAG, sign
from draws.leaves import PrivateLeaves
from draws.substitution import make_substitution

CERTIFICATE_TYPE = "fairlot/certificate"
CERTIFICATE_VERSION = 1


def mask_handle(handle: str) -> str:
    """Show enough of a handle for the winner to recognise it, not enough to dox them."""
    if len(handle) <= 2:
        return handle[:1] + "*"
    if len(handle) <= 5:
        return handle[:1] + "*" * (len(handle) - 2) + handle[-1:]
    return handle[:2] + "*" * (len(handle) - 3) + handle[-1:]


def pick_json(
    leaves: PrivateLeaves, indices: Sequence[int], handles: Mapping[int, str] | Sequence[str]
) -> list[dict[str, Any]]:
    """The per-pick records: position, leaf index, leaf, audit path, masked handle.

    ``handles[index]`` is the display name at leaf ``index`` (only the picked ones are read).
    """
    return [
        {
            "position": position,
            "index": index,
            "leaf": leaves.leaves[index].hex(),
            "audit_path": [p.hex() for p in leaves.tree.audit_path(index)],
            "handle": mask_handle(handles[index]),
        }
        for position, index in enumerate(indices)
    ]


def certificate_hash(body: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of the body."""
    return hashlib.sha256(canonical(dict(body))).digest()


def seal(body: dict[str, Any], signing_key: bytes) -> dict[str, Any]:
    """Hash and sign a body into a certificate with no substitutions yet."""
    digest = certificate_hash(body)
    return {
        "body": body,
        "certificate_hash": digest.hex(),
        "signature": sign(signing_key, CERTIFICATE_TAG, digest).hex(),
        "substitutions": [],
    }


def winners_of(cert: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """(winner indices, alternate indices) as drawn, before substitutions."""
    body = cert["body"]
    return [p["index"] for p in body["winners"]], [p["index"] for p in body["alternates"]]


def add_substitution(
    cert: Mapping[str, Any], position: int, reason: str, time_ms: int, signing_key: bytes
) -> dict[str, Any]:
    """A new certificate document with one more signed substitution appended."""
    winners, alternates = winners_of(cert)
    events = list(cert["substitutions"])
    event = make_substitution(
        bytes.fromhex(cert["certificate_hash"]),
        winners,
        alternates,
        events,
        position,
        reason,
        time_ms,
        signing_key,
    )
    return {**cert, "substitutions": [*events, event]}


def certificate_bytes(cert: Mapping[str, Any]) -> bytes:
    """The certificate file: canonical JSON."""
    return canonical(dict(cert))
