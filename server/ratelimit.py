"""Token-bucket rate limits per user and per client IP.

Why two buckets: a user id bounds what one account may do (velocity checks, bots that
share nothing but a token), an IP bounds what one machine may do (many anonymous or
throw-away accounts). A command must get a token from both; the refusal names the wait
(``retry_after_ms``) so well-behaved clients back off exactly as long as needed.

Why time is passed in: the server's clock is injected (tests use a manual one), and a
bucket is pure arithmetic over ``now_ms``. Buckets idle long enough to be full again are
dropped, so memory stays proportional to recently active keys.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limited", "RateLimiter", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """``burst`` tokens, refilled at ``rate_per_s``; one token per command."""

    rate_per_s: float
    burst: int
    tokens: float
    updated_ms: int

    def refill(self, now_ms: int) -> None:
        """Add the tokens earned since the last update (never beyond ``burst``)."""
        elapsed = max(0, now_ms - self.updated_ms)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate_per_s / 1000.0)
        self.updated_ms = max(self.updated_ms, now_ms)

    def wait_ms(self) -> int:
        """Milliseconds until one token is available (0: now)."""
        if self.tokens >= 1.0:
            return 0
        return max(1, int((1.0 - self.tokens) * 1000.0 / self.rate_per_s + 0.999))

    def full_at(self) -> int:
        """When the bucket will be full again (ms)."""
        return self.updated_ms + int((self.burst - self.tokens) * 1000.0 / self.rate_per_s) + 1


@dataclass(frozen=True, slots=True)
class Limited:
    """A refusal: which bucket (``user`` or ``ip``) and how long to wait."""

    scope: str
    retry_after_ms: int


class RateLimiter:
    """Per-key buckets for users and IPs, with periodic pruning of idle ones."""

    def __init__(self, user_rate: float, user_burst: int, ip_rate: float, ip_burst: int) -> None:
        self._params = {"user": (user_rate, user_burst), "ip": (ip_rate, ip_burst)}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._next_prune = 0
        self.refused = 0

    def _bucket(self, scope: str, key: str, now_ms: int) -> TokenBucket:
        bucket = self._buckets.get((scope, key))
        if bucket is None:
            rate, burst = self._params[scope]
            bucket = self._buckets[(scope, key)] = TokenBucket(rate, burst, float(burst), now_ms)
        return bucket

    def check(self, user: str | None, ip: str | None, now_ms: int) -> Limited | None:
        """Take one token from the user's and the IP's bucket, or say how long to wait.

        Nothing is taken when either bucket refuses, so a refused command costs nothing.
        """
        self._maybe_prune(now_ms)
        buckets = []
        for scope, key in (("user", user), ("ip", ip)):
            if key is None:
                continue
            bucket = self._bucket(scope, key, now_ms)
            bucket.refill(now_ms)
            wait = bucket.wait_ms()
            if wait:
                self.refused += 1
                return Limited(scope, wait)
            buckets.append(bucket)
        for bucket in buckets:
            bucket.tokens -= 1.0
        return None

    def _maybe_prune(self, now_ms: int) -> None:
        if now_ms < self._next_prune:
            return
        self._next_prune = now_ms + 10_000
        stale = [key for key, b in self._buckets.items() if b.full_at() <= now_ms]
        for key in stale:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
