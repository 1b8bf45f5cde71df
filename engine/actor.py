"""One actor per auction: the only writer of its stream.

Why an actor: every command of an auction goes through one mailbox, so the pure core sees
them one at a time in arrival order, and seq/prev_hash never fork. Why batches: the actor
drains whatever queued up while the previous write was in flight, applies it all, and
makes it durable in one journal round trip; every command in the batch is acknowledged
only after that write returns. If the write fails, nothing is acknowledged and the
in-memory stream is thrown away and rebuilt from the durable log, so nothing
unacknowledged is half-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bidding import Envelope, Rejected, Stream
from bidding.base import Command
from engine.clock import Clock
from engine.errors import ActorStopped, EngineError, MailboxFull, Unavailable

Persist = Callable[[Sequence[Envelope]], Awaitable[None]]
Publish = Callable[[str, Sequence[Envelope]], None]
Reload = Callable[[], Awaitable[Stream[Any]]]

MAILBOX_SIZE = 10_000
MAX_BATCH = 512


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    stream_id: str
    version: int
    mailbox_depth: int
    batches: int
    commands: int


class AuctionActor:
    """Serialises commands for one stream through decide/evolve and the journal."""

    def __init__(
        self,
        stream: Stream[Any],
        *,
        clock: Clock,
        persist: Persist,
        publish: Publish,
        reload: Reload,
        mailbox_size: int = MAILBOX_SIZE,
    ) -> None:
        self.stream = stream
        self.stream_id = stream.stream_id
        #: The last seq known durable (and published); the stream may be ahead of it
        #: while a write is in flight.
        self.durable_version = stream.version
        self._clock = clock
        self._persist = persist
        self._publish = publish
        self._reload = reload
        self._mailbox: asyncio.Queue[tuple[Command, asyncio.Future[tuple[Envelope, ...]]]] = asyncio.Queue(
            mailbox_size
        )
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._broken = False
        self._batches = 0
        self._commands = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"actor:{self.stream_id}")

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._mailbox.empty():
            _, fut = self._mailbox.get_nowait()
            if not fut.done():
                fut.set_exception(ActorStopped())

    def submit_nowait(self, command: Command) -> asyncio.Future[tuple[Envelope, ...]]:
        """Queue a command; the future resolves to its durable events or raises."""
        if self._stopped:
            raise ActorStopped()
        fut: asyncio.Future[tuple[Envelope, ...]] = asyncio.get_running_loop().create_future()
        try:
            self._mailbox.put_nowait((command, fut))
        except asyncio.QueueFull:
            raise MailboxFull() from None
        return fut

    async def submit(self, command: Command) -> tuple[Envelope, ...]:
        return await self.submit_nowait(command)

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            self.stream_id, self.stream.version, self._mailbox.qsize(), self._batches, self._commands
        )

    async def _run(self) -> None:
        while True:
            first = await self._mailbox.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._mailbox.empty():
                batch.append(self._mailbox.get_nowait())
            if self._broken and not await self._try_reload():
                failure = Unavailable("the auction's store is unreachable; nothing was applied")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(failure)
                continue
            await self._process(batch)

    async def _try_reload(self) -> bool:
        """Replace the in-memory stream with the durable one; False if the store is down."""
        try:
            self.stream = await self._reload()
            self.durable_version = self.stream.version
        except Exception:
            self._broken = True
            return False
        self._broken = False
        return True

    async def _process(self, batch: list[tuple[Command, asyncio.Future[tuple[Envelope, ...]]]]) -> None:
        now = self._clock.now()
        outcomes: list[tuple[asyncio.Future[tuple[Envelope, ...]], tuple[Envelope, ...] | BaseException]] = []
        new_events: list[Envelope] = []
        start_version = self.stream.version
        for command, fut in batch:
            try:
                events = self.stream.handle(command, max(now, self.stream.time))
            except Rejected as rejection:
                outcomes.append((fut, rejection))
                continue
            except EngineError as exc:
                outcomes.append((fut, exc))
                continue
            for e in events:  # a repeat returns its first events: persist each only once
                if e.seq > start_version and (not new_events or e.seq > new_events[-1].seq):
                    new_events.append(e)
            outcomes.append((fut, events))
        if new_events:
            try:
                await self._persist(new_events)
            except Exception as exc:  # nothing is acknowledged; state is rebuilt from the log
                failure = exc if isinstance(exc, EngineError) else Unavailable(str(exc))
                for fut, _ in outcomes:
                    if not fut.done():
                        fut.set_exception(failure)
                self._broken = True
                await self._try_reload()
                return
            self.durable_version = new_events[-1].seq
            self._publish(self.stream_id, new_events)
        self._batches += 1
        self._commands += len(batch)
        for fut, outcome in outcomes:
            if fut.done():
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
