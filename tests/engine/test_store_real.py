"""The contract suites against real Redis and real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from engine.journal_redis import RedisJournal
from engine.migrate import migrate
from engine.store import Journal, RecordStore
from engine.store_postgres import PostgresStore, create_pool
from server.config import Settings
from tests.engine.store_contract import JournalContract, RecordStoreContract


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.redis_url or "")
    yield client
    await client.aclose()


@pytest.fixture
async def pg_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url or "", settings.pg_schema)
    async with pool.acquire() as conn:
        await migrate(conn, settings.pg_schema)
    yield pool
    await pool.close()


class TestRedisJournal(JournalContract):
    @pytest.fixture(autouse=True)
    async def _bind(self, redis_client: aioredis.Redis, settings: Settings) -> AsyncIterator[None]:
        self.client = redis_client
        self.prefix = settings.redis_prefix
        self.journals: list[RedisJournal] = []
        yield
        for journal in self.journals:  # its append connection is its own to close
            await journal.close()

    def journal(self) -> RedisJournal:
        journal = RedisJournal(self.client, self.prefix)
        self.journals.append(journal)
        return journal

    async def make_journal(self) -> Journal:
        return self.journal()

    async def test_feed_leaves_out_refused_runs(self) -> None:
        from engine.journal_redis import decode_feed_entry
        from engine.store import JournalEntry
        from tests.engine.store_contract import event

        j = self.journal()
        await j.append([JournalEntry(event("a", 1))])
        outcomes = await j.append_batches([[JournalEntry(event("a", 1))], [JournalEntry(event("b", 1))]])
        assert outcomes[0] is not None and outcomes[1] is None
        rows = await self.client.xrange(j.feed_key)
        decoded = [e.event["stream_id"] for _id, fields in rows for e in decode_feed_entry(fields)]
        assert decoded == ["a", "b"]

    async def test_feed_carries_every_event_and_the_view(self) -> None:
        from engine.journal_redis import decode_feed_entry
        from engine.store import JournalEntry
        from tests.engine.store_contract import event

        j = self.journal()
        await j.append([JournalEntry(event("a", 1)), JournalEntry(event("a", 2), {"id": "a", "seq": 2})])
        rows = await self.client.xrange(j.feed_key)
        decoded = [e for _id, fields in rows for e in decode_feed_entry(fields)]
        assert [d.event["seq"] for d in decoded] == [1, 2]
        assert decoded[0].view is None and decoded[1].view == {"id": "a", "seq": 2}


class TestPostgresStore(RecordStoreContract):
    @pytest.fixture(autouse=True)
    def _bind(self, pg_pool: asyncpg.Pool) -> None:
        self.pool = pg_pool

    async def make_records(self) -> RecordStore:
        return PostgresStore(self.pool)
