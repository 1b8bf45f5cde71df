"""The hot journal: one Redis Stream per auction, entry id ``<seq>-0``.

Why the seq as the entry id: Redis itself then refuses an append that is not strictly
after the last one, so a duplicate or out-of-order write from a confused writer fails
loudly instead of forking the stream; and ``since=<seq>`` resumes are a plain XRANGE.
Why one field holding the whole envelope as JSON: a single field is the cheapest entry
Redis can store, and the bytes are the same canonical form the hash covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.errors import SequenceError, Unavailable

_FIELD = b"e"


class RedisJournal:
    """Append and read envelopes (plain dicts) per stream, under a key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str = "fl") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, stream: str) -> str:
        return f"{self.prefix}:s:{stream}"

    async def append(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Append events of one or more streams in one round trip (MULTI/EXEC)."""
        batch = list(events)
        if not batch:
            return
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for ev in batch:
                    pipe.xadd(
                        self.key(ev["stream_id"]),
                        {_FIELD: orjson.dumps(ev, option=orjson.OPT_SORT_KEYS)},
                        id=f"{ev['seq']}-0",
                    )
                await pipe.execute()
        except ResponseError as exc:
            if "equal or smaller" in str(exc):
                raise SequenceError(f"journal refused an out-of-order append: {exc}") from exc
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc

    async def read(self, stream: str, after_seq: int = 0, count: int | None = None) -> list[dict[str, Any]]:
        """Events with seq > ``after_seq``, in order."""
        try:
            rows = await self.client.xrange(self.key(stream), min=f"({after_seq}-0", max="+", count=count)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        return [orjson.loads(fields[_FIELD]) for _id, fields in rows]

    async def last_seq(self, stream: str) -> int:
        try:
            info = await self.client.xrevrange(self.key(stream), count=1)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise Unavailable(f"Redis unreachable: {exc}") from exc
        if not info:
            return 0
        entry_id = info[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        return int(entry_id.split("-")[0])

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return False
