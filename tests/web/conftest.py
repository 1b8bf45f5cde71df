"""Fixtures for the browser tests: one real ``fairlot serve --demo`` and one Chromium for
the whole package (starting either per test would cost seconds each)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.sync_api import Browser, sync_playwright

from server.config import Settings
from tests.liveserver import LiveServer, live_server
from tests.stores import StoreServers, unique_name
from tests.web.browser import launch


async def _drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="package")
def server(store_servers: StoreServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``fairlot serve`` on loopback, so the demo (seeded rooms, demo sign-in) is on."""
    settings = Settings(
        redis_url=store_servers.redis_url,
        database_url=store_servers.database_url,
        redis_prefix=unique_name("w"),
        pg_schema=unique_name("w"),
    )
    data_dir: Path = tmp_path_factory.mktemp("web-server")
    try:
        with live_server(settings, data_dir) as live:
            yield live
    finally:
        asyncio.run(_drop_schema(store_servers.database_url, settings.pg_schema))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = launch(pw)
        try:
            yield chromium
        finally:
            chromium.close()
