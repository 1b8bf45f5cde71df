"""The journal's own Redis connection (engine.redis_pipe), against real Redis servers.

Tests that stop or kill a Redis start their own on a free port (never the shared one).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hiredis
import pytest
import redis.asyncio as aioredis

from engine.embedded import EmbeddedRedis
from engine.errors import Unavailable
from engine.redis_pipe import RedisPipe, encode_command
from server.config import Settings


def pipe_to(url: str, **kw: Any) -> RedisPipe:
    client = aioredis.Redis.from_url(url)
    opts = client.connection_pool.connection_kwargs
    return RedisPipe(opts["host"], int(opts["port"]), db=int(opts.get("db", 0) or 0), **kw)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_encode_command_is_resp() -> None:
    assert encode_command(["SET", b"k", 12]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"
    assert encode_command([b""]) == b"*1\r\n$0\r\n\r\n"


async def test_pipelined_requests_get_their_own_replies_in_order(settings: Settings) -> None:
    pipe = pipe_to(settings.redis_url or "")
    key = f"{settings.redis_prefix}:n"
    got: list[tuple[int, Any]] = []
    done = asyncio.Event()

    def collect(i: int) -> Any:
        def on_reply(replies: list[Any] | BaseException) -> None:
            got.append((i, replies))
            if len(got) == 200:
                done.set()

        return on_reply

    for i in range(200):  # all written before any reply is read
        pipe.request([["INCR", key], ["GET", key]], collect(i))
    await asyncio.wait_for(done.wait(), 10)
    assert [i for i, _ in got] == list(range(200))
    assert [r for _, r in got] == [[i + 1, str(i + 1).encode()] for i in range(200)]
    error = await pipe.call("INCRBY", key, "not-a-number")
    assert isinstance(error, hiredis.ReplyError)  # a command's error is its reply, not a failure
    assert await pipe.call("DEL", key) == 1
    await pipe.close()
    with pytest.raises(Unavailable):
        await pipe.call("PING")


async def test_selects_its_database(settings: Settings) -> None:
    pipe = pipe_to(settings.redis_url or "")
    pipe.db = 5
    key = f"{settings.redis_prefix}:db"
    assert await pipe.call("SET", key, "five") == b"OK"
    client = aioredis.Redis(host=pipe.host, port=pipe.port, db=5)  # a URL's "/0" would win
    try:
        assert await client.get(key) == b"five"
        await client.delete(key)
    finally:
        await client.aclose()
        await pipe.close()


async def test_authenticates_and_a_refused_set_up_fails_requests(own_redis: EmbeddedRedis) -> None:
    admin = aioredis.Redis.from_url(own_redis.url)
    await admin.config_set("requirepass", "s3cret")
    await admin.aclose()
    good = pipe_to(own_redis.url, reply_timeout=2)
    good.password = "s3cret"
    assert await good.call("PING") == b"PONG"
    bad = pipe_to(own_redis.url, reply_timeout=2)
    bad.password = "wrong"
    try:  # written behind the refused AUTH: refused by Redis, or cut with the connection
        reply = await bad.call("PING")
    except Unavailable:
        reply = None
    assert reply is None or isinstance(reply, hiredis.ReplyError)
    await good.close()
    await bad.close()


async def test_nothing_listening_fails_fast_as_unavailable() -> None:
    from engine.embedded import free_port

    pipe = RedisPipe("127.0.0.1", free_port(), connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await pipe.call("PING")
    assert time.monotonic() - started < 1.5
    await pipe.close()


async def test_a_hung_redis_fails_requests_after_the_reply_timeout(own_redis: EmbeddedRedis) -> None:
    pipe = pipe_to(own_redis.url, reply_timeout=0.3)
    assert await pipe.call("PING") == b"PONG"
    assert own_redis.pid is not None
    os.kill(own_redis.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        outcomes = await asyncio.wait_for(
            asyncio.gather(pipe.call("PING"), pipe.call("PING"), return_exceptions=True), 5
        )
        waited = time.monotonic() - started
    finally:
        os.kill(own_redis.pid, signal.SIGCONT)
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert 0.25 <= waited < 2.0
    assert await pipe.call("PING") == b"PONG"  # connects again by itself
    await pipe.close()


async def test_a_killed_redis_fails_what_is_in_flight_and_the_pipe_reconnects(
    own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    pipe = pipe_to(own_redis.url, reply_timeout=5)
    assert await pipe.call("SET", "k", "v") == b"OK"
    sleeping = asyncio.ensure_future(pipe.call("DEBUG", "SLEEP", "2"))
    behind = asyncio.ensure_future(pipe.call("GET", "k"))
    await asyncio.sleep(0.2)
    own_redis.kill()
    outcomes = await asyncio.wait_for(asyncio.gather(sleeping, behind, return_exceptions=True), 3)
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    with pytest.raises(Unavailable):
        await pipe.call("PING")  # down: refused at once, not hung
    again = EmbeddedRedis(tmp_path, port=own_redis.port)
    again.start()
    try:
        for _ in range(50):  # AOF loading: the server answers LOADING errors first
            reply = await pipe.call("GET", "k")
            if not isinstance(reply, hiredis.ReplyError):
                break
            await asyncio.sleep(0.1)
        assert reply == b"v"  # the AOF kept it; the pipe reconnected by itself
    finally:
        await pipe.close()
        again.kill()
