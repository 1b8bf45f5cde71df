from __future__ import annotations

from engine.store import Journal, RecordStore
from engine.store_memory import MemoryJournal, MemoryRecordStore
from tests.engine.store_contract import JournalContract, RecordStoreContract


class TestMemoryJournal(JournalContract):
    async def make_journal(self) -> Journal:
        return MemoryJournal()


class TestMemoryRecordStore(RecordStoreContract):
    async def make_records(self) -> RecordStore:
        return MemoryRecordStore()
