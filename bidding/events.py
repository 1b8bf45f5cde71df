"""The event envelope and its SHA-256 hash chain.

Every state change of an auction is one :class:`Envelope`. Envelopes of one
stream form a chain: ``seq`` counts from 1 without gaps, ``prev_hash`` is the
previous envelope's ``hash`` (64 zeros for the first), and ``hash`` is::

    SHA-256( canonical_json({
        "actor": ..., "command_id": ..., "payload": {...}, "prev_hash": ...,
        "seq": ..., "stream_id": ..., "time": ..., "type": ...}) )

in lower-case hex, where ``canonical_json`` is :func:`bidding.canonical.encode`
(sorted keys, no whitespace, integers only). Because each hash covers the
previous one, editing, dropping or reordering any event breaks every later hash;
publishing the last hash commits to the whole history.

``actor`` is who caused the event (a bidder id, the host, ``"system"`` for
timers) and ``command_id`` the client-chosen id of the command that produced it;
both are in the hash, so idempotency and velocity bookkeeping can be rebuilt
from the log alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from bidding.canonical import check
from bidding.errors import ChainError, TranscriptError

__all__ = ["GENESIS", "Envelope", "seal"]

#: ``prev_hash`` of the first event of every stream.
GENESIS = "0" * 64

_OPT = orjson.OPT_SORT_KEYS
_sha256 = hashlib.sha256
_dumps = orjson.dumps

_FIELDS = ("stream_id", "seq", "prev_hash", "time", "type", "actor", "command_id", "payload")


class Envelope(NamedTuple):
    """One hashed, sequenced event. Payloads are plain canonical data; never mutate them.

    Immutable like a frozen dataclass, but a ``NamedTuple``: building a frozen
    slotted dataclass of nine fields measured 3.0 µs here against 0.43 µs for a
    named tuple, and one envelope is built per accepted bid.
    """

    stream_id: str
    seq: int
    prev_hash: str
    time: int
    type: str
    actor: str
    command_id: str
    payload: Mapping[str, Any]
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed part of the envelope (everything but ``hash``)."""
        return {
            "stream_id": self.stream_id,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "time": self.time,
            "type": self.type,
            "actor": self.actor,
            "command_id": self.command_id,
            "payload": self.payload,
        }

    def to_dict(self) -> dict[str, Any]:
        """Wire/transcript form: the body plus ``hash``."""
        d = self.body()
        d["hash"] = self.hash
        return d

    def compute_hash(self) -> str:
        """Recompute the hash from the body (what a verifier does)."""
        return _sha256(_dumps(self.body(), option=_OPT)).hexdigest()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, verify: bool = True) -> Envelope:
        """Parse the wire form. With ``verify`` (default) the data is checked to be
        strict canonical data and the stated hash must match the recomputed one."""
        try:
            values = [d[name] for name in _FIELDS]
            stated = d["hash"]
        except KeyError as exc:
            raise TranscriptError(f"envelope lacks field {exc.args[0]!r}") from None
        if verify:
            check(dict(d))
            stream_id, seq, prev, time, type_, actor, cmd, payload = values
            if not (
                isinstance(stream_id, str)
                and isinstance(seq, int)
                and not isinstance(seq, bool)
                and isinstance(prev, str)
                and isinstance(time, int)
                and not isinstance(time, bool)
                and isinstance(type_, str)
                and isinstance(actor, str)
                and isinstance(cmd, str)
                and isinstance(payload, dict)
                and isinstance(stated, str)
            ):
                raise TranscriptError("envelope field has the wrong type")
        env = cls(
            d["stream_id"],
            d["seq"],
            d["prev_hash"],
            d["time"],
            d["type"],
            d["actor"],
            d["command_id"],
            d["payload"],
            stated,
        )
        if verify and env.compute_hash() != stated:
            raise ChainError(f"event seq {env.seq}: hash does not match its content")
        return env


def seal(
    stream_id: str,
    seq: int,
    prev_hash: str,
    time: int,
    type: str,
    actor: str,
    command_id: str,
    payload: Mapping[str, Any],
) -> Envelope:
    """Build an envelope and compute its hash (one canonical encode + one SHA-256)."""
    body = {
        "stream_id": stream_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "time": time,
        "type": type,
        "actor": actor,
        "command_id": command_id,
        "payload": payload,
    }
    h = _sha256(_dumps(body, option=_OPT)).hexdigest()
    return Envelope(stream_id, seq, prev_hash, time, type, actor, command_id, payload, h)
