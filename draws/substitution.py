"""Substitutions: signed events appended to a certificate; never a redraw.

Why events: a winner who declines or is unreachable is replaced by the next unused
alternate, in order. The host chooses only *that* a slot is replaced (and says why), never
*by whom*. Each event links to the previous one (the first to the certificate hash) and is
signed, so events cannot be dropped, reordered or edited unseen.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from draws.canonical import canonical
from draws.errors import SubstitutionError
from draws.keys import SUBSTITUTION_TAG, sign, verify_signature

SUBSTITUTION_TYPE = "fairlot/substitution"
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")


def event_hash(event: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of an event."""
    return hashlib.sha256(canonical(dict(event))).digest()


def make_substitution(
    certificate_hash: bytes,
    winners: Sequence[int],
    alternates: Sequence[int],
    previous: Sequence[Mapping[str, Any]],
    position: int,
    reason: str,
    time_ms: int,
    signing_key: bytes,
) -> dict[str, Any]:
    """A signed event replacing winner slot ``position`` with the next unused alternate."""
    current = replay(winners, previous)
    used = len(previous)
    if not 0 <= position < len(winners):
        raise SubstitutionError(f"no winner slot {position} (there are {len(winners)})")
    if not _REASON.fullmatch(reason):
        raise SubstitutionError("reason is a short code: [a-z][a-z0-9_]{0,31}")
    if used >= len(alternates):
        raise SubstitutionError("no unused alternate left")
    prev = event_hash(previous[-1]["event"]) if previous else certificate_hash
    event = {
        "type": SUBSTITUTION_TYPE,
        "seq": used + 1,
        "certificate_hash": certificate_hash.hex(),
        "prev": prev.hex(),
        "position": position,
        "reason": reason,
        "replaced_index": current[position],
        "alternate_position": used,
        "alternate_index": alternates[used],
        "time_ms": time_ms,
    }
    return {"event": event, "signature": sign(signing_key, SUBSTITUTION_TAG, event_hash(event)).hex()}


def replay(winners: Sequence[int], events: Sequence[Mapping[str, Any]]) -> list[int]:
    """Current winner indices after applying the events (unchecked; see ``check_chain``)."""
    current = list(winners)
    for item in events:
        event = item["event"]
        current[event["position"]] = event["alternate_index"]
    return current


def check_chain(
    certificate_hash: bytes,
    winners: Sequence[int],
    alternates: Sequence[int],
    events: Sequence[Mapping[str, Any]],
    host_key: bytes,
) -> str | None:
    """None if every event is well-formed, linked, signed and uses the next alternate."""
    prev = certificate_hash
    current = list(winners)
    for k, item in enumerate(events):
        try:
            event = dict(item["event"])
            signature = bytes.fromhex(item["signature"])
            expected = {
                "type": SUBSTITUTION_TYPE,
                "seq": k + 1,
                "certificate_hash": certificate_hash.hex(),
                "prev": prev.hex(),
                "position": event["position"],
                "reason": event["reason"],
                "replaced_index": None,
                "alternate_position": k,
                "alternate_index": alternates[k] if k < len(alternates) else None,
                "time_ms": event["time_ms"],
            }
            position = event["position"]
            if not isinstance(position, int) or not 0 <= position < len(current):
                return f"event {k + 1}: no winner slot {position!r}"
            expected["replaced_index"] = current[position]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return f"event {k + 1}: malformed ({exc!r})"
        for key in expected:
            if event.get(key) != expected[key]:
                return f"event {k + 1}: {key} is {event.get(key)!r}, expected {expected[key]!r}"
        if set(event) != set(expected):
            return f"event {k + 1}: unexpected keys"
        if not isinstance(event["reason"], str) or not _REASON.fullmatch(event["reason"]):
            return f"event {k + 1}: bad reason code"
        if not isinstance(event["time_ms"], int):
            return f"event {k + 1}: bad time"
        digest = event_hash(event)
        if not verify_signature(host_key, SUBSTITUTION_TAG, digest, signature):
            return f"event {k + 1}: signature does not verify"
        current[position] = event["alternate_index"]
        prev = digest
    return None
