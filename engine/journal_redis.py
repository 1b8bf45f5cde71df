"""The hot journal: one Redis Stream per auction, plus one feed for the projector.

Why the seq as the entry id (``<seq>-0``): Redis itself refuses an append that is not
strictly after the last one, so a duplicate or out-of-order write from a confused writer
fails loudly instead of forking the stream, and ``since=<seq>`` resumes are a plain
XRANGE. Why a feed: the Postgres projector follows one stream with a consumer group
instead of thousands; each event is written to its auction's stream and to the feed in
the same MULTI/EXEC, so the two never disagree. Why one field holding the whole
envelope: a single field is the cheapest entry Redis stores, and the bytes are the
canonical form the hash covers.

Durability: an append returns only after EXEC, and with ``appendfsync always`` Redis
fsyncs the AOF before it replies. With ``wait_replicas`` set, the append also waits
(WAIT) until that many replicas hold it, and fails as ``Unavailable`` if they do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.errors import SequenceError, Unavailable
from engine.store import Journal, JournalEntry

EVENT_FIELD = b"e"
VIEW_FIELD = b"v"
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


# KEYS: stream key, feed key, streams set. ARGV: stream id, view (or ""), then
# (seq, event JSON) pairs, consecutive seqs of that one stream. The first XADD is the
# check: if Redis refuses its id nothing was written; later ids then cannot fail.
_APPEND_LUA = """
local n = (#ARGV - 2) / 2
for i = 1, n do
  local seq = ARGV[1 + 2 * i]
  local data = ARGV[2 + 2 * i]
  local r = redis.pcall('XADD', KEYS[1], seq .. '-0', 'e', data)
  if type(r) == 'table' and r.err then
    return r
  end
  if i == n and ARGV[2] ~= '' then
    redis.call('XADD', KEYS[2], '*', 'e', data, 'v', ARGV[2])
  else
    redis.call('XADD', KEYS[2], '*', 'e', data)
  end
  if seq == '1' then
    redis.call('SADD', KEYS[3], ARGV[1])
  end
end
return n
"""


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class RedisJournal(Journal):
    """Append and read envelopes (plain dicts) per stream, under a key prefix."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "fl",
        *,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 100,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.feed_key = f"{prefix}:feed"
        self.streams_key = f"{prefix}:streams"
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self._script = client.register_script(_APPEND_LUA)  # pipelines load it on NOSCRIPT

    def key(self, stream: str) -> str:
        return f"{self.prefix}:s:{stream}"

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Append one batch (events of one or more streams); raise on any failure."""
        for failure in await self.append_batches([entries]):
            if failure is not None:
                raise failure

    async def append_batches(self, batches: Sequence[Sequence[JournalEntry]]) -> list[BaseException | None]:
        """Append several writers' batches in one round trip; one outcome per batch.

        Each run of consecutive events of one stream is one script call, atomic in Redis:
        it appends to the auction's stream and the feed together, or (on a seq that is
        not next) writes nothing. One batch's failure does not fail the others.
        """
        calls: list[tuple[int, list[bytes | str]]] = []
        for index, batch in enumerate(batches):
            run: list[JournalEntry] = []
            for entry in batch:
                if run and run[-1].event["stream_id"] != entry.event["stream_id"]:
                    calls.append((index, self._script_args(run)))
                    run = []
                run.append(entry)
            if run:
                calls.append((index, self._script_args(run)))
        outcomes: list[BaseException | None] = [None] * len(batches)
        if not calls:
            return outcomes
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for _index, args in calls:
                    await self._script(keys=args[:3], args=args[3:], client=pipe)
                results = await pipe.execute(raise_on_error=False)
            if self.wait_replicas:
                acked = await self.client.wait(self.wait_replicas, self.wait_timeout_ms)
                if acked < self.wait_replicas:
                    failure = Unavailable(f"only {acked} of {self.wait_replicas} replicas acknowledged")
                    return [failure] * len(batches)
        except UNREACHABLE as exc:
            failure = Unavailable(f"Redis unreachable: {exc}")
            return [failure] * len(batches)
        for (index, _args), result in zip(calls, results, strict=True):
            if isinstance(result, BaseException) and outcomes[index] is None:
                text = str(result)
                if "equal or smaller" in text:
                    outcomes[index] = SequenceError(f"journal refused an out-of-order append: {text}")
                elif isinstance(result, UNREACHABLE):
                    outcomes[index] = Unavailable(f"Redis unreachable: {text}")
                else:
                    outcomes[index] = result
        return outcomes

    def _script_args(self, run: Sequence[JournalEntry]) -> list[bytes | str]:
        first = run[0].event
        view = run[-1].view
        args: list[bytes | str] = [self.key(first["stream_id"]), self.feed_key, self.streams_key]
        args.append(first["stream_id"])
        args.append(b"" if view is None else _dumps(view))
        for entry in run:
            args.append(str(entry.event["seq"]))
            args.append(_dumps(entry.event))
        return args

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        """Events with seq > ``after_seq``, in order."""
        try:
            rows = await self.client.xrange(self.key(stream), min=f"({after_seq}-0", max="+", count=count)
        except UNREACHABLE as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        return [orjson.loads(fields[EVENT_FIELD]) for _id, fields in rows]

    async def first_seq(self, stream: str) -> int:
        """The lowest seq still held (0 when the stream is empty): trimming raises it."""
        try:
            rows = await self.client.xrange(self.key(stream), count=1)
        except UNREACHABLE as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        return _seq_of(rows[0][0]) if rows else 0

    async def last_seq(self, stream: str) -> int:
        try:
            rows = await self.client.xrevrange(self.key(stream), count=1)
        except UNREACHABLE as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        return _seq_of(rows[0][0]) if rows else 0

    async def streams(self) -> list[str]:
        """Every stream ever created in this journal."""
        try:
            members = await self.client.smembers(self.streams_key)
        except UNREACHABLE as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def trim(self, stream: str, below_seq: int) -> None:
        """Drop events with seq < ``below_seq`` (the caller knows Postgres holds them)."""
        try:
            await self.client.xtrim(self.key(stream), minid=f"{below_seq}-0", approximate=False)
        except UNREACHABLE as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except UNREACHABLE:
            return False


def _seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def decode_feed_entry(fields: Mapping[bytes, bytes]) -> JournalEntry:
    view = fields.get(VIEW_FIELD)
    return JournalEntry(orjson.loads(fields[EVENT_FIELD]), None if view is None else orjson.loads(view))
