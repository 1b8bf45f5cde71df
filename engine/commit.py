"""Group commit: many actors' batches, one journal round trip, acks after it.

Why: with ``appendfsync always`` every Redis write round trip costs an fsync; a bid per
round trip caps a server at a few thousand bids/s. Batches that arrive while a flush is
in flight wait for the next flush, so under load each flush carries hundreds of events,
and at low load a lone bid is flushed at once (``linger_ms`` = 0: no added latency).
Every caller's future resolves only after the flush that holds its events returned.
Why three flushes in flight by default: measured with bench_durable (2 cores, 32 to 256
closed-loop clients), 3 carried 30-80% more bids/s than 2 at a lower ack p50 and p99
(and bigger batches); 4 gained nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.store import Journal, JournalEntry

#: Told the outcome of a write: ``None`` once it is durable, else the failure.
Done = Callable[[BaseException | None], None]
Pending = tuple[Sequence[JournalEntry], Done]

log = logging.getLogger("fairlot.commit")


@dataclass(frozen=True, slots=True)
class CommitStatistics:
    flushes: int
    batches: int
    events: int
    pending: int


class GroupCommitter:
    def __init__(
        self, journal: Journal, *, max_events: int = 2000, linger_ms: float = 0.0, max_in_flight: int = 3
    ) -> None:
        self.journal = journal
        self.max_events = max_events
        self.linger_ms = linger_ms
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._flushing: set[asyncio.Task[None]] = set()
        self._pending: deque[Pending] = deque()
        self._pending_events = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushes = 0
        self._batches = 0
        self._events = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._flushing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending, self._pending = self._pending, deque()
        for _, done in pending:
            done(asyncio.CancelledError())

    @property
    def running(self) -> bool:
        return self._task is not None

    def enqueue(self, entries: Sequence[JournalEntry], done: Done) -> None:
        """Queue ``entries`` for the next flush; ``done`` is called with its outcome.

        The callback form is the actors' hot path: no future, no task switch per batch
        (``commit`` is the awaitable form). Requires a started committer."""
        if self._task is None:
            raise RuntimeError("the group committer is not started")
        self._pending.append((entries, done))
        self._pending_events += len(entries)
        self._wake.set()

    async def commit(self, entries: Sequence[JournalEntry]) -> None:
        """Return once ``entries`` are durable; raise what the journal raised otherwise."""
        if self._task is None:  # not started (tests, tools): commit directly
            await self.journal.append(entries)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(failure: BaseException | None) -> None:
            if fut.done():
                return
            if failure is None:
                fut.set_result(None)
            elif isinstance(failure, asyncio.CancelledError):
                fut.cancel()
            else:
                fut.set_exception(failure)

        self.enqueue(entries, done)
        await fut

    def statistics(self) -> CommitStatistics:
        return CommitStatistics(self._flushes, self._batches, self._events, self._pending_events)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending or self._in_flight >= self.max_in_flight:
                continue
            if self.linger_ms > 0 and self._pending_events < self.max_events:
                await asyncio.sleep(self.linger_ms / 1000)
            taken: list[Pending] = []
            count = 0
            pending = self._pending
            while pending and (not taken or count + len(pending[0][0]) <= self.max_events):
                item = pending.popleft()
                taken.append(item)
                count += len(item[0])
            self._pending_events -= count
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._flush(taken, count))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
            if self._pending:
                self._wake.set()

    async def _flush(self, taken: list[Pending], count: int) -> None:
        """One journal round trip. Several may be in flight (on separate connections):
        each writer has at most one batch in flight (it waits for that batch's outcome
        before it writes again), so a stream's events can never overtake each other."""
        try:
            outcomes = await self.journal.append_batches([entries for entries, _ in taken])
        except BaseException as exc:  # cancelled: nobody is acknowledged
            cancelled = asyncio.CancelledError()
            for _, done in taken:
                done(cancelled)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._in_flight -= 1
            self._wake.set()
        self._flushes += 1
        self._batches += len(taken)
        self._events += count
        for (_, done), failure in zip(taken, outcomes, strict=True):
            try:
                done(failure)
            except Exception:  # one writer's bug must not strand the others' acks
                log.exception("group commit: completion callback failed")
