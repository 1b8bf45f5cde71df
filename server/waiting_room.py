"""Flash-sale waiting room: randomised before the start, FIFO after, admission in batches.

Why (Queue-it, Ticketmaster): when a sale opens, thousands arrive at once; letting them
all hit ``hold`` together rewards the fastest connection, not the first customer, and
floods the sale's actor. So every buyer of a flash sale passes through this room:

- buyers who arrive (subscribe with a bidder token) **before** the sale's ``start`` are
  shuffled once at the start (a fresh ``secrets`` shuffle: arriving early gives no edge
  over arriving on time, and nobody can predict the order);
- buyers who arrive **after** the start queue in arrival order (FIFO);
- every ``interval_ms`` the next ``batch`` buyers are admitted; a buyer arriving to an
  empty queue is admitted at once if this round still has room;
- each waiting buyer is pushed its position and an ETA after every round, as an
  out-of-log ``event`` (``seq`` 0, ``kind`` ``"waiting_room"``, data
  ``{position, eta_ms, admitted}``);
- ``hold``/``buy`` from a buyer not yet admitted is refused with ``not_admitted`` and
  ``retry_after_ms`` = the ETA.

State lives in this process (one server per sale, like its actor); a restart re-queues
whoever reconnects. ``tick(now)`` is plain logic over an injected clock, so tests drive
it without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol import Event
from server.framing import ws_frame

if TYPE_CHECKING:
    from bidding import Envelope
    from engine.clock import Clock
    from engine.registry import Registry

__all__ = ["SaleQueue", "WaitingRooms"]

SALE_FORMAT = "flash"
NOTICE_KIND = "waiting_room"


@dataclass(slots=True)
class SaleQueue:
    """One sale's waiting room."""

    sale_id: str
    start_ms: int
    early: list[str] = field(default_factory=list)
    queue: deque[str] = field(default_factory=deque)
    queued: set[str] = field(default_factory=set)
    admitted: set[str] = field(default_factory=set)
    started: bool = False
    round_admitted: int = 0
    #: user -> the connections to notify (a user may have several tabs open).
    watchers: dict[str, list[Any]] = field(default_factory=dict)

    def position(self, user: str) -> int | None:
        """1-based position (early arrivals: their count, before the shuffle)."""
        if user in self.admitted:
            return 0
        if not self.started:
            return self.early.index(user) + 1 if user in self.queued else None
        for i, u in enumerate(self.queue):
            if u == user:
                return i + 1
        return None


class WaitingRooms:
    """Waiting rooms of every flash sale served by this process."""

    def __init__(
        self, registry: Registry, clock: Clock, *, batch: int = 100, interval_ms: int = 1000
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.batch = max(1, batch)
        self.interval_ms = max(1, interval_ms)
        self._sales: dict[str, SaleQueue] = {}
        self._task: asyncio.Task[None] | None = None
        self._rng = secrets.SystemRandom()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="waiting-rooms")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await self.clock.sleep_until(self.clock.now() + self.interval_ms)
            self.tick(self.clock.now())

    # ------------------------------------------------------------------ arrivals

    def _sale(self, room: str) -> SaleQueue | None:
        sale = self._sales.get(room)
        if sale is not None:
            return sale
        actor = self.registry.peek(room)
        if actor is None or actor.stream.fmt.kind != SALE_FORMAT:
            return None
        params = actor.stream.state.params
        if getattr(actor.stream.state, "closed", False):
            return None
        start = params.get("start") if isinstance(params, dict) else None
        sale = self._sales[room] = SaleQueue(room, start if isinstance(start, int) else 0)
        return sale

    def arrive(self, room: str, user: str, conn: Any | None = None) -> None:
        """A buyer entered the sale's room (subscribed with a token)."""
        sale = self._sale(room)
        if sale is None:
            return
        if conn is not None:
            conns = sale.watchers.setdefault(user, [])
            if conn not in conns:
                conns.append(conn)
        if user in sale.admitted or user in sale.queued:
            self._notify(sale, user)
            return
        now = self.clock.now()
        if not sale.started and now >= sale.start_ms:
            self._open(sale)
        if not sale.started:
            sale.early.append(user)
            sale.queued.add(user)
        elif not sale.queue and sale.round_admitted < self.batch:
            sale.admitted.add(user)
            sale.round_admitted += 1
        else:
            sale.queue.append(user)
            sale.queued.add(user)
        self._notify(sale, user)

    def check(self, room: str, user: str) -> tuple[str, str, int] | None:
        """None if ``user`` may act in ``room`` now, else (code, message, retry_after_ms)."""
        sale = self._sales.get(room)
        if sale is None:
            sale = self._sale(room)
            if sale is None:
                return None
        if user in sale.admitted:
            return None
        if user not in sale.queued:
            self.arrive(room, user)
            if user in sale.admitted:
                return None
        position = sale.position(user) or 1
        eta = self.eta_ms(sale, position)
        return ("not_admitted", f"waiting room: position {position}, about {eta} ms", eta)

    def eta_ms(self, sale: SaleQueue, position: int) -> int:
        rounds = (position + self.batch - 1) // self.batch
        if not sale.started:
            return max(0, sale.start_ms - self.clock.now()) + (rounds - 1) * self.interval_ms
        return rounds * self.interval_ms

    # ------------------------------------------------------------------ rounds

    def _open(self, sale: SaleQueue) -> None:
        """The sale starts: shuffle the early arrivals; they go before later ones."""
        early = sale.early
        self._rng.shuffle(early)
        sale.queue.extendleft(reversed(early))
        sale.early = []
        sale.started = True

    def tick(self, now: int) -> None:
        """One admission round for every sale."""
        for sale in list(self._sales.values()):
            if not sale.started:
                if now < sale.start_ms:
                    self._notify_all(sale)
                    continue
                self._open(sale)
            sale.round_admitted = 0
            admitted = []
            while sale.queue and sale.round_admitted < self.batch:
                user = sale.queue.popleft()
                sale.queued.discard(user)
                sale.admitted.add(user)
                sale.round_admitted += 1
                admitted.append(user)
            for user in admitted:
                self._notify(sale, user)
            self._notify_all(sale, skip=set(admitted))

    def _notify_all(self, sale: SaleQueue, skip: set[str] | None = None) -> None:
        if not sale.started:
            for i, user in enumerate(sale.early):
                self._notify(sale, user, i + 1)
            return
        for i, user in enumerate(sale.queue):
            if skip is None or user not in skip:
                self._notify(sale, user, i + 1)

    def _notify(self, sale: SaleQueue, user: str, position: int | None = None) -> None:
        conns = sale.watchers.get(user)
        if not conns:
            return
        if position is None:
            position = sale.position(user)
        if position is None:
            return
        admitted = position == 0
        data = {
            "position": position,
            "eta_ms": 0 if admitted else self.eta_ms(sale, position),
            "admitted": admitted,
        }
        notice = Event(room=sale.sale_id, seq=0, kind=NOTICE_KIND, time=self.clock.now(), data=data)
        alive = []
        for conn in conns:
            if getattr(conn, "killed", False) or not conn.session.is_subscribed(sale.sale_id):
                continue
            frame = conn.codec.encode(notice)
            conn.push([(frame, ws_frame(frame))])
            alive.append(conn)
        if alive:
            sale.watchers[user] = alive
        else:
            del sale.watchers[user]

    # ------------------------------------------------------------------ listener

    def on_events(self, stream_id: str, envelopes: Sequence[Envelope]) -> None:
        """Registry listener: forget a sale once it is closed."""
        if stream_id in self._sales and any(e.type == "sale_closed" for e in envelopes):
            del self._sales[stream_id]

    def describe(self, room: str) -> dict[str, Any]:
        sale = self._sales.get(room)
        if sale is None:
            return {"started": None, "waiting": 0, "admitted": 0}
        waiting = len(sale.early) + len(sale.queue)
        return {"started": sale.started, "waiting": waiting, "admitted": len(sale.admitted)}
