"""The hot journal: one Redis Stream per auction, plus one feed for the projector.

Why the seq as the entry id (``<seq>-0``): Redis itself refuses an append that is not
strictly after the last one, so a duplicate or out-of-order write from a confused writer
fails loudly instead of forking the stream, and ``since=<seq>`` resumes are a plain
XRANGE. Why a feed: the Postgres projector follows one stream with a consumer group
instead of thousands; one group-commit flush is one Lua script call that appends every
event to its auction's stream and the whole flush as one feed entry, atomically, so the
two never disagree. Why one field holding the whole envelope: a single field is the
cheapest entry Redis stores, and the bytes are ``Envelope.to_bytes()``: the canonical
array the hash covers with the hash appended, encoded once on the hot path, checkable
by a reader without re-encoding.

Durability: an append returns only after the script's reply, and with ``appendfsync
always`` Redis fsyncs the AOF before it replies (one fsync per flush). With
``wait_replicas`` set, the append also waits (WAIT) until that many replicas hold it, and
fails as ``Unavailable`` if they do not.

Appends over a plain TCP connection go through a :class:`~engine.redis_pipe.RedisPipe`
of their own (see there: no task hop per flush, several flushes pipelined in order);
reads, and appends over TLS or a Unix socket, use the redis-py client.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import hiredis
import msgpack
import orjson
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection as TcpConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.errors import SequenceError, Unavailable, unavailable_on
from engine.redis_pipe import RedisPipe
from engine.store import Journal, JournalEntry, OnOutcomes

EVENT_FIELD = b"e"
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


# KEYS: feed key, streams set. ARGV[1]: msgpack array of runs, each
# [stream key, stream id, view JSON or "", [entry id, event JSON, entry id, ...]] with
# consecutive seqs of that one stream (entry id "<seq>-0", built by the client: Redis is
# the serial part of every flush). Per run, the first XADD is the check (pcall): if Redis
# refuses its id nothing of the run is written, and later ids of the run cannot fail, so
# they go through plain calls (cheaper than pcall's error capture).
# Then ONE feed entry holds the whole flush (field b = ARGV[1]) plus the indexes of the
# runs that failed (field x), so the projector reads one entry per flush, not per event.
# Returns one entry per run: 1, or the error text. One msgpack argument instead of
# thousands keeps the client's command packing and Redis' argument parsing cheap.
_APPEND_LUA = """
local runs = cmsgpack.unpack(ARGV[1])
local out = {}
local failed = {}
for r = 1, #runs do
  local run = runs[r]
  local key, sid, items = run[1], run[2], run[4]
  local n = #items / 2
  local result = 1
  local added = redis.pcall('XADD', key, items[1], 'e', items[2])
  if type(added) == 'table' and added.err then
    result = added.err
    failed[#failed + 1] = r - 1
  else
    if items[1] == '1-0' then
      redis.call('SADD', KEYS[2], sid)
    end
    for k = 2, n do
      redis.call('XADD', key, items[2 * k - 1], 'e', items[2 * k])
    end
  end
  out[r] = result
end
if #failed < #runs then
  redis.call('XADD', KEYS[1], '*', 'b', ARGV[1], 'x', cmsgpack.pack(failed))
end
return out
"""
_APPEND_SHA = hashlib.sha1(_APPEND_LUA.encode()).hexdigest()


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
        self._script = client.register_script(_APPEND_LUA)  # loads itself on NOSCRIPT
        self._pipe = _pipe_for(client)
        if self._pipe is not None:
            self._pipe.on_connect.append(["SCRIPT", "LOAD", _APPEND_LUA])

    def key(self, stream: str) -> str:
        return f"{self.prefix}:s:{stream}"

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        """Append one batch (events of one or more streams); raise on any failure."""
        for failure in await self.append_batches([entries]):
            if failure is not None:
                raise failure

    async def append_batches(self, batches: Sequence[Sequence[JournalEntry]]) -> list[BaseException | None]:
        """Append several writers' batches in ONE script call; one outcome per batch.

        Why one call: Redis fsyncs the AOF once per event-loop turn, and it reads a
        pipeline 16 KB per turn, so a large pipeline costs one fsync per 16 KB. A single
        command executes once, after it has been read whole: one fsync per flush. Inside
        the script each run of one stream's consecutive events is atomic: it appends to
        the auction's stream and the feed together, or (on a seq that is not next)
        writes nothing; one batch's failure does not fail the others.
        """
        if self._pipe is not None:
            fut: asyncio.Future[list[BaseException | None]] = asyncio.get_running_loop().create_future()

            def done(outcomes: list[BaseException | None]) -> None:
                if not fut.done():  # the caller may have been cancelled meanwhile
                    fut.set_result(outcomes)

            self.submit_batches(batches, done)
            return await fut
        runs, owners = self._runs(batches)
        if not owners:
            return [None] * len(batches)
        try:
            packed = msgpack.packb(runs, use_bin_type=False)
            results = await self._script(keys=[self.feed_key, self.streams_key], args=[packed])
            if self.wait_replicas:
                acked = await self.client.wait(self.wait_replicas, self.wait_timeout_ms)
                if acked < self.wait_replicas:
                    failure = Unavailable(f"only {acked} of {self.wait_replicas} replicas acknowledged")
                    return [failure] * len(batches)
        except UNREACHABLE as exc:
            return [Unavailable(f"Redis unreachable: {exc}")] * len(batches)
        return _outcomes(len(batches), owners, results)

    def submit_batches(self, batches: Sequence[Sequence[JournalEntry]], on_done: OnOutcomes) -> None:
        """:meth:`append_batches` by callback: written at once on the journal's own
        connection, ``on_done`` called from the reply (the group committer's hot path)."""
        pipe = self._pipe
        if pipe is None:
            super().submit_batches(batches, on_done)
            return
        count = len(batches)
        runs, owners = self._runs(batches)
        if not owners:
            on_done([None] * count)
            return
        packed = msgpack.packb(runs, use_bin_type=False)
        commands: list[list[bytes | str | int]] = [
            ["EVALSHA", _APPEND_SHA, 2, self.feed_key, self.streams_key, packed]
        ]
        if self.wait_replicas:
            commands.append(["WAIT", self.wait_replicas, self.wait_timeout_ms])
        wanted = self.wait_replicas

        def replied(replies: list[Any] | BaseException) -> None:
            if isinstance(replies, BaseException):
                on_done([replies] * count)
                return
            results = replies[0]
            if isinstance(results, hiredis.ReplyError):  # the script did not run (NOSCRIPT, OOM, ...)
                on_done([Unavailable(f"Redis refused the append: {results}")] * count)
                return
            if wanted and (not isinstance(replies[1], int) or replies[1] < wanted):
                on_done([Unavailable(f"only {replies[1]} of {wanted} replicas acknowledged")] * count)
                return
            on_done(_outcomes(count, owners, results))

        pipe.request(commands, replied)

    def _runs(self, batches: Sequence[Sequence[JournalEntry]]) -> tuple[list[list[Any]], list[int]]:
        """Each batch cut into runs of one stream's consecutive events, and each run's batch."""
        runs: list[list[Any]] = []
        owners: list[int] = []
        for index, batch in enumerate(batches):
            run: list[JournalEntry] = []
            for entry in batch:
                if run and run[-1].stream_id != entry.stream_id:
                    runs.append(self._pack_run(run))
                    owners.append(index)
                    run = []
                run.append(entry)
            if run:
                runs.append(self._pack_run(run))
                owners.append(index)
        return runs, owners

    async def close(self) -> None:
        """Close the append connection (the redis-py client is the caller's to close)."""
        if self._pipe is not None:
            await self._pipe.close()

    def _pack_run(self, run: Sequence[JournalEntry]) -> list[Any]:
        stream_id = run[0].stream_id
        view = run[-1].view
        items: list[Any] = []
        for entry in run:
            items.append(f"{entry.seq}-0")
            items.append(entry.raw if entry.raw is not None else _dumps(entry.event))
        view_bytes = b"" if view is None else _dumps(view)
        return [self.key(stream_id), stream_id, view_bytes, items]

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        """Events with seq > ``after_seq``, in order."""
        with unavailable_on(UNREACHABLE, "Redis"):
            rows = await self.client.xrange(self.key(stream), min=f"({after_seq}-0", max="+", count=count)
        return [decode_event(fields[EVENT_FIELD]) for _id, fields in rows]

    async def first_seq(self, stream: str) -> int:
        """The lowest seq still held (0 when the stream is empty): trimming raises it."""
        with unavailable_on(UNREACHABLE, "Redis"):
            rows = await self.client.xrange(self.key(stream), count=1)
        return _seq_of(rows[0][0]) if rows else 0

    async def last_seq(self, stream: str) -> int:
        with unavailable_on(UNREACHABLE, "Redis"):
            rows = await self.client.xrevrange(self.key(stream), count=1)
        return _seq_of(rows[0][0]) if rows else 0

    async def streams(self) -> list[str]:
        """Every stream ever created in this journal."""
        with unavailable_on(UNREACHABLE, "Redis"):
            members = await self.client.smembers(self.streams_key)
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def trim(self, stream: str, below_seq: int) -> None:
        """Drop events with seq < ``below_seq`` (the caller knows Postgres holds them)."""
        with unavailable_on(UNREACHABLE, "Redis"):
            await self.client.xtrim(self.key(stream), minid=f"{below_seq}-0", approximate=False)

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except UNREACHABLE:
            return False


def _outcomes(count: int, owners: list[int], results: Sequence[Any]) -> list[BaseException | None]:
    """One outcome per batch from the script's per-run results (1, or an error text)."""
    outcomes: list[BaseException | None] = [None] * count
    for index, result in zip(owners, results, strict=True):
        if result == 1 or outcomes[index] is not None:
            continue
        text = result.decode(errors="replace") if isinstance(result, bytes) else str(result)
        if "equal or smaller" in text:
            outcomes[index] = SequenceError(f"journal refused an out-of-order append: {text}")
        else:
            outcomes[index] = ResponseError(text)
    return outcomes


def _pipe_for(client: aioredis.Redis) -> RedisPipe | None:
    """A pipe to the client's server when it is plain TCP (TLS, Unix sockets: None)."""
    pool = client.connection_pool
    if pool.connection_class is not TcpConnection:
        return None
    kw = pool.connection_kwargs
    return RedisPipe(
        kw.get("host", "localhost"),
        int(kw.get("port", 6379)),
        username=kw.get("username"),
        password=kw.get("password"),
        db=int(kw.get("db", 0) or 0),
        connect_timeout=float(kw.get("socket_connect_timeout") or 5.0),
        reply_timeout=float(kw.get("socket_timeout") or 5.0),
    )


def _seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


_FIELDS = ("stream_id", "seq", "prev_hash", "time", "type", "actor", "command_id", "payload", "hash")


def decode_event(data: bytes) -> dict[str, Any]:
    """An event as a dict, from either stored form: the compact canonical array
    (``Envelope.to_bytes()``) or a JSON object."""
    value = orjson.loads(data)
    if isinstance(value, list):
        return dict(zip(_FIELDS, value, strict=True))
    return dict(value)


def decode_feed_entry(fields: Mapping[bytes, bytes]) -> list[JournalEntry]:
    """The events of one flush's feed entry (runs that failed left out), in order."""
    runs = msgpack.unpackb(fields[b"b"], raw=True)
    failed = set(msgpack.unpackb(fields[b"x"]))
    out: list[JournalEntry] = []
    for index, (_key, _sid, view, items) in enumerate(runs):
        if index in failed:
            continue
        last = len(items) - 1
        for k in range(1, len(items), 2):
            decoded_view = orjson.loads(view) if k == last and view else None
            out.append(JournalEntry(decode_event(items[k]), decoded_view))
    return out
