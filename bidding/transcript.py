"""Auction transcripts and their pure verifier.

A transcript is one JSON document (canonical data: ints and strings only)::

    {
      "version": "fairlot.transcript/2",
      "stream_id": "<auction id>",
      "events": [<envelope>, ...],        # seq 1..n, see bidding.events
      "head": "<hash of the last event>",
      "result": {"final": true|false, "awards": [{"bidder", "price", "quantity"}]}
    }

The first event is the ``created`` event carrying ``{"kind", "params"}``, so the
transcript is self-contained. Version 2 goes with chain version 2 (the hash
covers the canonical JSON *array* of the body, see :mod:`bidding.events`); a
version-1 document (hashes over the sorted body object) is refused as unknown.
:func:`verify_transcript` needs nothing else: it
re-hashes every envelope, checks ``seq`` and ``prev_hash`` links, replays the
events through the format's ``evolve`` (which re-applies the auction rules to
every bid and refuses a forged one), recomputes the result from the bid-level
state, and compares it with the stated ``head`` and ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding.base import Stream, replay
from bidding.canonical import check
from bidding.errors import BiddingError
from bidding.events import Envelope

__all__ = ["TRANSCRIPT_VERSION", "VerificationReport", "make_transcript", "verify_transcript"]

TRANSCRIPT_VERSION = "fairlot.transcript/2"


def _result_data(stream: Stream[Any]) -> dict[str, Any]:
    awards = stream.result()
    return {
        "final": awards is not None,
        "awards": [a.to_dict() for a in awards or []],
    }


def make_transcript(stream: Stream[Any]) -> dict[str, Any]:
    """The transcript of a stream that kept its log (``keep_log=True``)."""
    if stream.log is None:
        raise ValueError("the stream did not keep its log")
    return {
        "version": TRANSCRIPT_VERSION,
        "stream_id": stream.stream_id,
        "events": [env.to_dict() for env in stream.log],
        "head": stream.head,
        "result": _result_data(stream),
    }


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What :func:`verify_transcript` found. ``ok`` is true only if every check passed."""

    ok: bool
    stream_id: str | None = None
    kind: str | None = None
    events: int = 0
    head: str | None = None
    state_hash: str | None = None
    final: bool = False
    awards: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def verify_transcript(transcript: Mapping[str, Any]) -> VerificationReport:
    """Verify a transcript document; never raises for bad content, reports it instead."""
    errors: list[str] = []
    try:
        check(dict(transcript))
    except BiddingError as exc:
        return VerificationReport(ok=False, errors=[f"not canonical data: {exc}"])
    if transcript.get("version") != TRANSCRIPT_VERSION:
        return VerificationReport(ok=False, errors=["unknown transcript version"])
    raw_events = transcript.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        return VerificationReport(ok=False, errors=["no events"])
    try:
        envelopes = [Envelope.from_dict(e) for e in raw_events]
        stream = replay(envelopes)
    except (BiddingError, TypeError, KeyError, ValueError, AttributeError) as exc:
        return VerificationReport(ok=False, events=len(raw_events), errors=[f"{type(exc).__name__}: {exc}"])
    if transcript.get("stream_id") != stream.stream_id:
        errors.append("stream_id does not match the events")
    if transcript.get("head") != stream.head:
        errors.append("head does not match the last event's hash")
    recomputed = _result_data(stream)
    if transcript.get("result") != recomputed:
        errors.append("stated result differs from the recomputed result")
    return VerificationReport(
        ok=not errors,
        stream_id=stream.stream_id,
        kind=stream.fmt.kind,
        events=stream.version,
        head=stream.head,
        state_hash=stream.state_hash(),
        final=recomputed["final"],
        awards=recomputed["awards"],
        errors=errors,
    )
