"""One actor per auction: the only writer of its stream.

Why an actor: every command of an auction goes through one mailbox, so the pure core sees
them one at a time in arrival order, and seq/prev_hash never fork. Why batches: the actor
drains whatever queued up while its previous write was in flight, applies it all, and
hands the events to the group committer; every command in the batch is acknowledged
only after that write is durable. If the write fails, nobody is acknowledged, and the
in-memory stream is thrown away and rebuilt from the durable log, so nothing
unacknowledged is half-applied. While the store stays down, commands are refused at
once with ``unavailable`` (never a hang), and the actor rebuilds itself on the first
command after the store is back.

Timers: after every batch the actor asks the format for its next deadline and arms one
timer task on the injected clock; at the deadline it submits the format's timer command
(``Close``, or ``Tick`` for clock formats) through its own mailbox like any command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bidding import Envelope, Rejected, Stream
from bidding.base import Close, Command
from engine.clock import Clock
from engine.errors import ActorStopped, EngineError, MailboxFull, Unavailable
from engine.projection import auction_row
from engine.store import JournalEntry, Snapshot

log = logging.getLogger("fairlot.actor")

Commit = Callable[[Sequence[JournalEntry]], Awaitable[None]]
Publish = Callable[[str, Sequence[Envelope]], None]
Reload = Callable[[], Awaitable[Stream[Any]]]
SaveSnapshot = Callable[[Snapshot], Awaitable[None]]
Backlog = Callable[[int], Awaitable[list[Envelope]]]

MAILBOX_SIZE = 10_000
MAX_BATCH = 512
SNAPSHOT_EVERY = 1000
VIEW_EVERY = 64

Pending = tuple[Command, "asyncio.Future[tuple[Envelope, ...]]"]


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    stream_id: str
    version: int
    durable_version: int
    mailbox_depth: int
    batches: int
    commands: int
    next_deadline: int | None


#: Tag of the snapshot blob layout: ``pickle((SNAPSHOT_LAYOUT, memory_start, stream))``.
SNAPSHOT_LAYOUT = 2


def snapshot_of(stream: Stream[Any]) -> Snapshot:
    """A restorable copy of the stream's state, without its idempotency memory.

    Why pickle: snapshots are private to the engine (written and read only by us, in our
    own database) and must restore every format's state exactly; the state hash, checked
    on restore, guards the round trip. Why without the memory: it is a function of the
    log, so the blob records where it starts (``memory_start``) and a restore re-reads
    those events (:meth:`bidding.Stream.relearn`); pickling 10,000 remembered envelopes
    per snapshot cost ~80 ms and ~4.5 MB for one busy auction.
    """
    blob = pickle.dumps(
        (SNAPSHOT_LAYOUT, stream.memory_start(), stream.forgetful_copy()), protocol=pickle.HIGHEST_PROTOCOL
    )
    return Snapshot(stream.stream_id, stream.version, stream.state_hash(), blob)


class AuctionActor:
    """Serialises commands for one stream through decide/evolve and the journal."""

    def __init__(
        self,
        stream: Stream[Any],
        *,
        clock: Clock,
        commit: Commit,
        publish: Publish,
        reload: Reload,
        save_snapshot: SaveSnapshot | None = None,
        backlog: Backlog | None = None,
        created: Envelope | None = None,
        mailbox_size: int = MAILBOX_SIZE,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.stream = stream
        self.stream_id = stream.stream_id
        #: The last seq known durable (and published); the stream may be ahead of it
        #: while a write is in flight.
        self.durable_version = stream.version
        self.created = created
        self._clock = clock
        self._commit = commit
        self._publish = publish
        self._reload = reload
        self._save_snapshot = save_snapshot
        self._backlog = backlog
        self._snapshot_every = snapshot_every
        self._last_snapshot = stream.version
        self._viewed = stream.version
        self._mailbox: deque[Pending] = deque()
        self._mailbox_size = mailbox_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._timer_deadline: int | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._broken = False
        self._batches = 0
        self._commands = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"actor:{self.stream_id}")
        self._arm_timer()

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._task, self._timer, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        while self._mailbox:
            _, fut = self._mailbox.popleft()
            if not fut.done():
                fut.set_exception(ActorStopped())

    # -- submitting -----------------------------------------------------------------

    def submit_nowait(self, command: Command) -> asyncio.Future[tuple[Envelope, ...]]:
        """Queue a command; the future resolves to its durable events or raises."""
        if self._stopped:
            raise ActorStopped()
        if len(self._mailbox) >= self._mailbox_size:
            raise MailboxFull()
        fut: asyncio.Future[tuple[Envelope, ...]] = asyncio.get_running_loop().create_future()
        self._mailbox.append((command, fut))
        self._wake.set()
        return fut

    async def submit(self, command: Command) -> tuple[Envelope, ...]:
        return await self.submit_nowait(command)

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            self.stream_id,
            self.stream.version,
            self.durable_version,
            len(self._mailbox),
            self._batches,
            self._commands,
            self._timer_deadline,
        )

    # -- the loop -------------------------------------------------------------------

    async def _run(self) -> None:
        mailbox = self._mailbox
        while True:
            if not mailbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(len(mailbox), MAX_BATCH)
            batch = [mailbox.popleft() for _ in range(count)]
            if self._broken and not await self._try_reload():
                failure = Unavailable("the auction's store is unreachable; nothing was applied")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(failure)
                continue
            await self._process(batch)

    async def _process(self, batch: list[Pending]) -> None:
        now = self._clock.now()
        stream = self.stream
        start_version = stream.version
        outcomes: list[tuple[asyncio.Future[tuple[Envelope, ...]], tuple[Envelope, ...] | BaseException]] = []
        new_events: list[Envelope] = []
        for command, fut in batch:
            try:
                events = stream.handle(command, max(now, stream.time))
            except (Rejected, EngineError) as refusal:
                outcomes.append((fut, refusal))
                continue
            for e in events:  # a repeat returns its first events: write each only once
                if e.seq > start_version and (not new_events or e.seq > new_events[-1].seq):
                    new_events.append(e)
            outcomes.append((fut, events))
        if new_events:
            # The projection row rides on the batch that leaves the mailbox empty (so the
            # last state of every burst is projected) and at least every VIEW_EVERY
            # events under continuous load; computing it per batch is wasted work.
            view = None
            last = new_events[-1]
            if not self._mailbox or last.seq - self._viewed >= VIEW_EVERY:
                view = auction_row(stream, last, self.created)
                self._viewed = last.seq
            entries = [JournalEntry(e.to_dict(), None, e.to_bytes()) for e in new_events[:-1]]
            entries.append(JournalEntry(last.to_dict(), view, last.to_bytes()))
            try:
                await self._commit(entries)
            except Exception as exc:
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
        if new_events:
            self._arm_timer()
            self._maybe_snapshot()

    async def _try_reload(self) -> bool:
        """Replace the in-memory stream with the durable one; False if the store is down."""
        previous = self.durable_version
        try:
            self.stream = await self._reload()
            missed: list[Envelope] = []
            if self.stream.version > previous and self._backlog is not None:
                # A write that landed although its answer was lost: nobody was acked,
                # but viewers must still see those events, in order.
                missed = [e for e in await self._backlog(previous) if previous < e.seq <= self.stream.version]
        except Exception as exc:
            log.info("actor %s: reload failed: %s", self.stream_id, exc)
            self._broken = True
            return False
        self.durable_version = self.stream.version
        self._broken = False
        if missed:
            self._publish(self.stream_id, missed)
        self._arm_timer()
        return True

    # -- timers ---------------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.stream.next_deadline()
        if deadline == self._timer_deadline and self._timer is not None and not self._timer.done():
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None and not self._stopped:
            self._timer = asyncio.get_running_loop().create_task(
                self._fire_at(deadline), name=f"timer:{self.stream_id}"
            )

    async def _fire_at(self, deadline: int) -> None:
        await self._clock.sleep_until(deadline)
        command_id = f"timer:{deadline}"
        make = getattr(self.stream.fmt, "timer_command", None)  # the format knows its deadlines
        command: Command = (
            make(self.stream.state, deadline, command_id) if make is not None else Close(command_id)
        )
        try:
            await self.submit(command)
        except Rejected as exc:  # the rules say no: the next batch re-arms from the new state
            log.warning("actor %s: timer at %d refused: %s", self.stream_id, deadline, exc)
        except EngineError as exc:
            log.info("actor %s: timer at %d not applied: %s", self.stream_id, deadline, exc)
            await asyncio.sleep(0.05)  # a store outage: try again shortly
            if self._timer is asyncio.current_task():
                self._timer = None
                self._timer_deadline = None
                self._arm_timer()

    # -- snapshots ------------------------------------------------------------------

    def _maybe_snapshot(self) -> None:
        if self._save_snapshot is None or self.durable_version - self._last_snapshot < self._snapshot_every:
            return
        self._last_snapshot = self.durable_version
        snapshot = snapshot_of(self.stream)
        task = asyncio.get_running_loop().create_task(self._write_snapshot(snapshot))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write_snapshot(self, snapshot: Snapshot) -> None:
        assert self._save_snapshot is not None
        try:
            await self._save_snapshot(snapshot)
        except Exception as exc:  # a snapshot is an optimisation; the log is the truth
            log.info("actor %s: snapshot at %d not saved: %s", self.stream_id, snapshot.seq, exc)
