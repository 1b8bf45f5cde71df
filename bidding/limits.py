"""Per-bidder spending limits and the velocity rule: decide-time checks for any format.

Both are checked by :class:`bidding.base.Stream` *before* a format's ``decide``
runs, for commands the format calls bids (``commitment(state, command, now)`` is not
``None``), so every format gets them without code of its own.

* :class:`VelocityRule` / :class:`VelocityTracker`: at most ``max_bids`` accepted
  bids per bidder in any window of ``window_ms`` milliseconds (default: one
  second). Only *accepted* commands count, because the tracker is rebuilt from the
  event log on replay and rejected commands leave no event; raw message floods are
  the server's rate limiter's job.
* :class:`ExposureLedger`: a B2B spending limit. It is shared by all open streams
  of one host (the engine owns one ledger per host). Each stream reports, after
  every event, what each bidder may have to pay in it (``exposure(state)``); a new
  bid is refused with ``over_limit`` when the bidder's exposure in the other
  streams plus the bid's commitment in this one would exceed the bidder's limit.
  Bidders without a configured limit are unlimited.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from bidding.errors import Code, InvalidParams, Rejected

__all__ = ["ExposureLedger", "VelocityRule", "VelocityTracker"]


@dataclass(frozen=True, slots=True)
class VelocityRule:
    """At most ``max_bids`` bids per bidder in any ``window_ms`` window."""

    max_bids: int
    window_ms: int = 1000

    def __post_init__(self) -> None:
        if self.max_bids < 1 or self.window_ms < 1:
            raise InvalidParams("velocity rule needs max_bids >= 1 and window_ms >= 1")


class VelocityTracker:
    """Recent accepted-command times per actor, enough to apply a :class:`VelocityRule`."""

    __slots__ = ("_recent", "rule")

    def __init__(self, rule: VelocityRule) -> None:
        self.rule = rule
        self._recent: dict[str, deque[int]] = {}

    def check(self, actor: str, now: int) -> None:
        """Raise ``rate_limited`` if one more bid by ``actor`` at ``now`` breaks the rule."""
        recent = self._recent.get(actor)
        if recent is not None and len(recent) == self.rule.max_bids and now - recent[0] < self.rule.window_ms:
            raise Rejected(
                Code.RATE_LIMITED,
                f"at most {self.rule.max_bids} bids per {self.rule.window_ms} ms",
            )

    def record(self, actor: str, time: int) -> None:
        """Remember one accepted command by ``actor`` at ``time``."""
        recent = self._recent.get(actor)
        if recent is None:
            recent = self._recent[actor] = deque(maxlen=self.rule.max_bids)
        recent.append(time)


class ExposureLedger:
    """Host-wide map of what each bidder may owe in each open stream."""

    __slots__ = ("_by_stream", "_totals", "limits")

    def __init__(self, limits: Mapping[str, int]) -> None:
        for bidder, limit in limits.items():
            if limit < 0:
                raise InvalidParams(f"negative limit for {bidder!r}")
        self.limits: dict[str, int] = dict(limits)
        self._by_stream: dict[str, dict[str, int]] = {}
        self._totals: dict[str, int] = {}

    def total(self, bidder: str) -> int:
        """The bidder's exposure summed over all streams."""
        return self._totals.get(bidder, 0)

    def in_stream(self, stream_id: str, bidder: str) -> int:
        """The bidder's exposure in one stream."""
        return self._by_stream.get(stream_id, {}).get(bidder, 0)

    def check(self, stream_id: str, bidder: str, commitment: int) -> None:
        """Raise ``over_limit`` if ``bidder`` committing ``commitment`` in ``stream_id``
        (replacing their current exposure there) would exceed their limit."""
        limit = self.limits.get(bidder)
        if limit is None:
            return
        elsewhere = self.total(bidder) - self.in_stream(stream_id, bidder)
        if elsewhere + commitment > limit:
            raise Rejected(
                Code.OVER_LIMIT,
                f"exposure {elsewhere} elsewhere + {commitment} here exceeds limit {limit}",
            )

    def update(self, stream_id: str, exposures: Mapping[str, int]) -> None:
        """Replace the stream's exposures (called by the stream after each event)."""
        old = self._by_stream.get(stream_id, {})
        totals = self._totals
        for bidder, amount in old.items():
            totals[bidder] -= amount
        new = {b: a for b, a in exposures.items() if a}
        for bidder, amount in new.items():
            totals[bidder] = totals.get(bidder, 0) + amount
        for bidder in old:
            if totals.get(bidder) == 0:
                del totals[bidder]
        if new:
            self._by_stream[stream_id] = new
        else:
            self._by_stream.pop(stream_id, None)

    def release(self, stream_id: str) -> None:
        """Forget a stream (settled or cancelled): its exposures no longer count."""
        self.update(stream_id, {})
