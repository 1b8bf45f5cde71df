"""Injectable time, after trio's Clock/MockClock.

Why: the pure cores take ``now`` as an argument; the engine is the one place that asks
what time it is, through a Clock, so soft-close, Dutch-tick and hold-expiry tests run on a
ManualClock and take no real time.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Integer milliseconds since the Unix epoch (UTC)."""

    @abstractmethod
    def now(self) -> int: ...

    @abstractmethod
    async def sleep_until(self, deadline_ms: int) -> None:
        """Return once ``now() >= deadline_ms``."""


class SystemClock(Clock):
    """Wall-clock time; sleeps on the event loop."""

    def now(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_until(self, deadline_ms: int) -> None:
        while True:
            remaining = deadline_ms - self.now()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining / 1000)


class ManualClock(Clock):
    """Time moves only when a test says so; sleepers wake as their deadline passes."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._changed = asyncio.Event()

    def now(self) -> int:
        return self._now

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("a ManualClock never goes backwards")
        self._now = now_ms
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)

    async def sleep_until(self, deadline_ms: int) -> None:
        while self._now < deadline_ms:
            await self._changed.wait()
