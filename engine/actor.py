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
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bidding import Envelope, Rejected, Stream
from bidding.base import Close, Command
from engine.clock import Clock
from engine.errors import ActorStopped, EngineError, MailboxFull, Unavailable
from engine.projection import auction_row, row_builder
from engine.store import JournalEntry, Snapshot

log = logging.getLogger("fairlot.actor")

Commit = Callable[[Sequence[JournalEntry]], Awaitable[None]]
#: ``GroupCommitter.enqueue``: queue entries, be told the write's outcome.
Enqueue = Callable[[Sequence[JournalEntry], Callable[[BaseException | None], None]], None]
Publish = Callable[[str, Sequence[Envelope]], None]
Reload = Callable[[], Awaitable[Stream[Any]]]
SaveSnapshot = Callable[[Snapshot], Awaitable[None]]
SaveView = Callable[[Mapping[str, Any]], Awaitable[None]]
Backlog = Callable[[int], Awaitable[list[Envelope]]]

MAILBOX_SIZE = 10_000
MAX_BATCH = 512
#: Events between snapshots of one stream. Why 5,000: a snapshot costs in proportion to
#: the state (a busy English auction with 1,000 bidders: ~0.45 ms to pickle and hash on
#: the loop, plus a ~40 KB row in Postgres), while what it saves is replay at recovery,
#: and recovery re-reads up to IDEMPOTENCY_WINDOW (10,000) commands' events per stream
#: anyway to rebuild the idempotency memory: snapshotting every 1,000 cost ~5x more for
#: at most 4,000 fewer events replayed (hash-checked, ~20 ms) per stream at start.
SNAPSHOT_EVERY = 5000
VIEW_EVERY = 64
#: A burst's trailing projection row: written straight to the record store this long
#: (seconds, loop time) after the actor went idle with a row it had not yet sent.
VIEW_INTERVAL_S = 0.1

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
        enqueue: Enqueue | None = None,
        save_view: SaveView | None = None,
    ) -> None:
        self.stream = stream
        self.stream_id = stream.stream_id
        #: The last seq known durable (and published); the stream may be ahead of it
        #: while a write is in flight.
        self.durable_version = stream.version
        self.created = created
        self._row = row_builder(stream, created)
        self._save_view = save_view
        self._viewed_at = -1e9  # loop time of the last row sent
        self._written_at = -1e9  # loop time of the last durable write
        self._last_durable: Envelope | None = None
        self._trailing: asyncio.TimerHandle | None = None
        self._clock = clock
        self._commit = commit
        self._enqueue = enqueue
        self._publish = publish
        self._reload = reload
        self._save_snapshot = save_snapshot
        self._backlog = backlog
        self._snapshot_every = snapshot_every
        self._last_snapshot = stream.version
        # Each stream snapshots at its own phase of the period (seq + phase crossing a
        # multiple of it): auctions created together and bid on at the same rate would
        # otherwise all snapshot in the same event-loop turn, a stall every acked bid
        # behind it waits out (64 auctions at 20k bids/s: ~100 ms).
        self._snapshot_phase = zlib.crc32(stream.stream_id.encode()) % max(1, snapshot_every)
        self._viewed = stream.version
        self._mailbox: deque[Pending] = deque()
        self._mailbox_size = mailbox_size
        self._loop: asyncio.AbstractEventLoop | None = None
        #: a drain is scheduled (call_soon) / a batch's write or a reload is under way
        self._scheduled = False
        self._busy = False
        self._timer: asyncio.Task[None] | None = None
        self._timer_deadline: int | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._broken = False
        self._batches = 0
        self._commands = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._arm_timer()
        if self._mailbox:
            self._schedule()

    async def stop(self) -> None:
        self._stopped = True
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None
        for task in (self._timer, *self._background):
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
        loop = self._loop or asyncio.get_running_loop()
        fut: asyncio.Future[tuple[Envelope, ...]] = loop.create_future()
        self._mailbox.append((command, fut))
        if not self._scheduled and not self._busy and self._loop is not None:
            self._scheduled = True
            loop.call_soon(self._drain)
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
    #
    # No task per actor: a command schedules one synchronous drain (call_soon); the
    # drain decides the whole mailbox, hands the events to the group committer and
    # marks the actor busy until the committer calls back with the write's outcome.
    # Why: a task woken per batch and a future awaited per write cost two task
    # switches per batch, which at small batches was a third of the engine's CPU.

    def _schedule(self) -> None:
        if not self._scheduled and not self._busy and not self._stopped and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        self._scheduled = False
        mailbox = self._mailbox
        if self._busy or self._stopped or not mailbox:
            return
        count = min(len(mailbox), MAX_BATCH)
        batch = [mailbox.popleft() for _ in range(count)]
        if self._broken:
            self._busy = True
            self._spawn(self._reload_then(batch))
            return
        self._process(batch)

    async def _reload_then(self, batch: list[Pending]) -> None:
        """A broken actor's next batch: rebuild from the store first, or refuse it."""
        try:
            if await self._try_reload():
                self._process(batch)
                return
            failure = Unavailable("the auction's store is unreachable; nothing was applied")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(failure)
            self._busy = False
        finally:
            if not self._busy:
                self._schedule()

    def _process(self, batch: list[Pending]) -> None:
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
        if not new_events:
            self._settle(outcomes, len(batch))
            self._busy = False
            self._schedule()
            return
        # The projection row rides on a batch at least every VIEW_EVERY events, and on
        # one that leaves the mailbox empty once VIEW_INTERVAL_S has passed since the
        # last row. Why not on every batch that empties the mailbox: at 1-3 events per
        # batch that was ~8% of the engine's CPU per bid, for rows the projector then
        # overwrote within the same statement. The last state of a burst that went
        # without one is written after VIEW_INTERVAL_S (``_trailing_view``).
        view = None
        last = new_events[-1]
        loop_now = self._loop.time() if self._loop is not None else 0.0
        if last.seq - self._viewed >= VIEW_EVERY or (
            not self._mailbox and (self._save_view is None or loop_now - self._viewed_at >= VIEW_INTERVAL_S)
        ):
            view = self._row(stream, last)
            self._viewed = last.seq
            self._viewed_at = loop_now
        entries = [JournalEntry(envelope=e) for e in new_events[:-1]]
        entries.append(JournalEntry(view=view, envelope=last))
        self._busy = True

        def written(failure: BaseException | None) -> None:
            self._written(failure, outcomes, new_events, len(batch))

        if self._enqueue is not None:
            self._enqueue(entries, written)
        else:
            self._spawn(self._commit_then(entries, written))

    async def _commit_then(
        self, entries: list[JournalEntry], written: Callable[[BaseException | None], None]
    ) -> None:
        """Without a group committer's callback form: await the commit callable."""
        try:
            await self._commit(entries)
        except BaseException as exc:
            written(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            written(None)

    def _written(
        self,
        failure: BaseException | None,
        outcomes: list[tuple[asyncio.Future[tuple[Envelope, ...]], tuple[Envelope, ...] | BaseException]],
        new_events: list[Envelope],
        commands: int,
    ) -> None:
        """The outcome of a batch's write: acknowledge everyone, or no one and rebuild."""
        if failure is not None:
            refusal = (
                failure if isinstance(failure, EngineError) else Unavailable(str(failure) or "write failed")
            )
            for fut, _ in outcomes:
                if not fut.done():
                    fut.set_exception(refusal)
            self._broken = True
            if self._stopped:
                return
            self._spawn(self._recover())  # stays busy until the reload ends
            return
        self.durable_version = new_events[-1].seq
        self._last_durable = new_events[-1]
        if self._loop is not None:
            self._written_at = self._loop.time()
        # Acks first: resolving the futures queues their submitters before anything the
        # listeners queue, so a room that defers a long fan-out (server.rooms) does not
        # hold the bidders' acks behind 10,000 viewers' writes.
        self._settle(outcomes, commands)
        self._publish(self.stream_id, new_events)
        self._busy = False
        self._arm_timer()
        self._maybe_snapshot()
        if self._viewed < self.durable_version and not self._mailbox:
            self._arm_trailing_view(VIEW_INTERVAL_S)
        self._schedule()

    async def _recover(self) -> None:
        try:
            await self._try_reload()
        finally:
            self._busy = False
            self._schedule()

    def _settle(
        self,
        outcomes: list[tuple[asyncio.Future[tuple[Envelope, ...]], tuple[Envelope, ...] | BaseException]],
        commands: int,
    ) -> None:
        self._batches += 1
        self._commands += commands
        for fut, outcome in outcomes:
            if fut.done():
                continue
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        self._last_durable = None  # its time is unknown here: the next write sends a row
        if missed:
            self._publish(self.stream_id, missed)
        self._arm_timer()
        return True

    # -- the trailing projection row ------------------------------------------------

    def _arm_trailing_view(self, delay: float) -> None:
        if self._save_view is None or self._trailing is not None or self._loop is None or self._stopped:
            return
        self._trailing = self._loop.call_later(delay, self._trailing_view)

    def _trailing_view(self) -> None:
        """Send the row of an idle actor's durable state straight to the record store
        (the projector's rows only ever move it forward: an older one is ignored)."""
        self._trailing = None
        last = self._last_durable
        if self._stopped or self._busy or self._broken or self._mailbox or last is None:
            return  # the batch under way (or the rebuild) sends or re-arms it
        if self._viewed >= self.durable_version or self._save_view is None:
            return
        # Only once the actor has been quiet for the interval: while writes keep coming,
        # rows ride on its batches (one every VIEW_INTERVAL_S). Sending here on every
        # expiry put ~10 rows a second per busy auction on Postgres from the engine's
        # loop (6% of its CPU at 20k bids/s) for rows the batches were carrying anyway.
        quiet = (self._loop.time() if self._loop is not None else 0.0) - self._written_at
        if quiet < VIEW_INTERVAL_S:
            self._arm_trailing_view(VIEW_INTERVAL_S - quiet)
            return
        # auction_row, not self._row: this row goes to the record store as a plain
        # mapping (self._row's params are a JSON fragment, for the journal's encoder)
        row = auction_row(self.stream, last, self.created)
        self._viewed = last.seq
        self._viewed_at = self._loop.time() if self._loop is not None else 0.0
        self._spawn(self._send_view(row, last.seq))

    async def _send_view(self, row: Mapping[str, Any], seq: int) -> None:
        assert self._save_view is not None
        try:
            await self._save_view(row)
        except Exception as exc:  # Postgres down: try again later, unless a newer row left
            log.info("actor %s: projection row at %d not saved: %s", self.stream_id, seq, exc)
            if self._viewed == seq:
                self._viewed = seq - 1
                self._arm_trailing_view(1.0)

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
        if self._save_snapshot is None:
            return
        every, phase = self._snapshot_every, self._snapshot_phase
        if (self.durable_version + phase) // every == (self._last_snapshot + phase) // every:
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
