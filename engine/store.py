"""Storage interfaces: the journal (hot log) and the record store (system of record).

Why small ABCs: the actor, registry and projector speak only these; Redis and Postgres
implement them for real, memory for pure unit tests and benchmarks, and one contract
suite (tests/engine/*_contract.py) runs against every implementation.

Events travel as plain dicts in wire form (``Envelope.to_dict()``): stream_id, seq,
prev_hash, time, type, actor, command_id, payload, hash.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bidding import Envelope


class JournalEntry:
    """An event to append, and optionally the auction's public view after it.

    Given as an event dict, or (the actors' hot path) as the sealed ``envelope``: then
    ``raw`` is its compact canonical form (``Envelope.to_bytes()``: the hashed body
    array plus the hash), stored as is, and the dict form (``event``) is built only if
    someone asks for it. Why not a frozen dataclass holding the dict: building that
    dict and the dataclass for every accepted bid cost ~1.5 us of the ~30 us the engine
    spends per bid, for a dict the Redis journal never reads."""

    __slots__ = ("_envelope", "_event", "raw", "seq", "stream_id", "view")

    def __init__(
        self,
        event: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        raw: bytes | None = None,
        *,
        envelope: Envelope | None = None,
    ) -> None:
        if envelope is not None:
            self.stream_id: str = envelope.stream_id
            self.seq: int = envelope.seq
            raw = envelope.to_bytes() if raw is None else raw
        elif event is not None:
            self.stream_id = event["stream_id"]
            self.seq = event["seq"]
        else:
            raise TypeError("a journal entry needs an event or an envelope")
        self._event = event
        self._envelope = envelope
        self.view = view
        self.raw = raw

    @property
    def event(self) -> Mapping[str, Any]:
        """The event as a dict (wire form, ``Envelope.to_dict()``)."""
        if self._event is None:
            assert self._envelope is not None
            self._event = self._envelope.to_dict()
        return self._event

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JournalEntry):
            return NotImplemented
        return (self.event, self.view, self.raw) == (other.event, other.view, other.raw)

    __hash__ = None  # type: ignore[assignment]  # mutable cache inside: not hashable

    def __repr__(self) -> str:
        return f"JournalEntry(event={self.event!r}, view={self.view!r}, raw={self.raw!r})"


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream: str
    seq: int
    state_hash: str
    blob: bytes


#: Told the outcome of :meth:`Journal.submit_batches`: one per batch, ``None`` = durable.
OnOutcomes = Callable[[list[BaseException | None]], None]

#: Appends under way through the default ``submit_batches`` (a strong reference each).
_SUBMITTED: set[asyncio.Task[None]] = set()


class Journal(ABC):
    @abstractmethod
    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Durably append; raise SequenceError on a seq that is not next, Unavailable when down."""

    async def append_batches(self, batches: Sequence[Sequence[JournalEntry]]) -> list[BaseException | None]:
        """Append several writers' batches; one outcome per batch (None = durable)."""
        outcomes: list[BaseException | None] = []
        for batch in batches:
            try:
                await self.append(batch)
            except Exception as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    def submit_batches(self, batches: Sequence[Sequence[JournalEntry]], on_done: OnOutcomes) -> None:
        """:meth:`append_batches` by callback (the group committer's form). This default
        runs it as a task; a journal that can write at once overrides it."""
        count = len(batches)

        async def run() -> None:
            try:
                outcomes = await self.append_batches(batches)
            except asyncio.CancelledError:
                on_done([asyncio.CancelledError()] * count)
                raise
            except Exception as exc:
                on_done([exc] * count)
            else:
                on_done(outcomes)

        task = asyncio.get_running_loop().create_task(run())
        _SUBMITTED.add(task)
        task.add_done_callback(_SUBMITTED.discard)

    @abstractmethod
    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        """Events with seq > after_seq in order (those not trimmed)."""

    @abstractmethod
    async def first_seq(self, stream: str) -> int: ...

    @abstractmethod
    async def last_seq(self, stream: str) -> int: ...

    @abstractmethod
    async def streams(self) -> list[str]: ...

    @abstractmethod
    async def trim(self, stream: str, below_seq: int) -> None: ...

    @abstractmethod
    async def ping(self) -> bool: ...


class RecordStore(ABC):
    @abstractmethod
    async def append(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Store events; already-stored identical ones are skipped; a different event at an
        existing (stream, seq) raises SequenceError. Returns how many were new."""

    @abstractmethod
    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        """Stored events with seq > after_seq in order (at most ``count``)."""

    @abstractmethod
    async def upsert_views(self, views: Sequence[Mapping[str, Any]]) -> None:
        """Write auction projection rows; a row never moves to a lower seq."""

    @abstractmethod
    async def get_auction(self, auction_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def list_auctions(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def save_snapshot(self, snapshot: Snapshot) -> None: ...

    @abstractmethod
    async def latest_snapshot(self, stream: str) -> Snapshot | None: ...

    @abstractmethod
    async def held_seq(self, stream: str) -> int:
        """The highest seq stored for ``stream`` (0 when none)."""

    @abstractmethod
    async def ping(self) -> bool: ...
