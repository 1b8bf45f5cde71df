"""One Redis connection for the journal's appends: pipelined, in order, no task per write.

Why not redis-py on the hot path: through ``redis.asyncio`` a command is a pool
checkout, a task step to write it and another when its reply arrives, and each step
waits out a whole event-loop turn of everything else the server is doing (ms under
load). Here a flush is written from the committer's own callback, and its reply is
handled in ``data_received``, in the turn the socket became readable, which resolves
the acks at once. What that bought in bench_durable (2 shared cores, 2026-12) stayed
within the run-to-run noise of 30-50%; the loop hops and the per-command Python are
gone either way.

Why one connection: Redis answers a connection's commands in the order it read them,
so replies are matched to requests first in, first out, and several flushes can be in
flight at once without opening a connection each. A request whose reply does not come
within ``reply_timeout`` (a hung Redis) aborts the connection: everything in flight
fails as :class:`~engine.errors.Unavailable` (its outcome is unknown, so nobody is
acknowledged; the actors rebuild from what is durable), and the next request connects
again.

Replies are parsed by hiredis (C), which redis-py already depends on for speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import hiredis

from engine.errors import Unavailable

log = logging.getLogger("fairlot.redis_pipe")

Arg = bytes | str | int
#: Called once per request: the replies of its commands (a reply may be a
#: ``hiredis.ReplyError``), or the failure that makes the outcome unknown.
OnReply = Callable[[list[Any] | BaseException], None]


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return b"".join(parts)


class _Request:
    __slots__ = ("count", "data", "on_reply", "replies", "timer")

    def __init__(self, count: int, data: bytes, on_reply: OnReply) -> None:
        self.count = count
        self.data = data
        self.on_reply = on_reply
        self.replies: list[Any] = []
        self.timer: asyncio.TimerHandle | None = None


class RedisPipe(asyncio.Protocol):
    """Send requests (one or more commands each) and get each one's replies back by callback."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        connect_timeout: float = 5.0,
        reply_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.db = db
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        #: Commands sent first on every new connection (``SCRIPT LOAD`` of the journal's
        #: script): their replies are checked, and an error drops the connection.
        self.on_connect: list[Sequence[Arg]] = []
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        self._waiting: deque[_Request] = deque()  # written, replies due in this order
        self._queued: list[_Request] = []  # waiting for a connection
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False

    # -- requests -------------------------------------------------------------------

    def request(self, commands: Sequence[Sequence[Arg]], on_reply: OnReply) -> None:
        """Write ``commands`` now (or once connected); ``on_reply`` gets their replies."""
        req = _Request(len(commands), b"".join(encode_command(c) for c in commands), on_reply)
        if self._closed:
            on_reply(Unavailable("the Redis journal connection is closed"))
        elif self._transport is not None:
            self._write(req)
        else:
            self._queued.append(req)
            if self._connecting is None:
                self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def call(self, *args: Arg) -> Any:
        """One command, awaited (set-up and tests; the hot path uses :meth:`request`)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(replies: list[Any] | BaseException) -> None:
            if fut.done():
                return
            if isinstance(replies, BaseException):
                fut.set_exception(replies)
            else:
                fut.set_result(replies[0])

        self.request([args], done)
        return await fut

    @property
    def connected(self) -> bool:
        return self._transport is not None

    def _write(self, req: _Request) -> None:
        assert self._transport is not None
        self._waiting.append(req)
        req.timer = asyncio.get_running_loop().call_later(self.reply_timeout, self._timed_out, req)
        self._transport.write(req.data)

    def _timed_out(self, req: _Request) -> None:
        if self._transport is not None and req in self._waiting:
            log.warning("Redis did not answer in %.1fs: dropping the journal connection", self.reply_timeout)
            self._transport.abort()  # connection_lost fails everything in flight

    # -- connection -----------------------------------------------------------------

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            queued, self._queued = self._queued, []
            failure = Unavailable(f"Redis unreachable: {exc}")
            for req in queued:
                _deliver(req, failure)
        finally:
            self._connecting = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._reader = hiredis.Reader()
        handshake: list[Sequence[Arg]] = []
        if self.password is not None:
            auth: list[Arg] = ["AUTH"] if self.username is None else ["AUTH", self.username]
            handshake.append([*auth, self.password])
        if self.db:
            handshake.append(["SELECT", self.db])
        handshake.extend(self.on_connect)
        if handshake:
            self._write(
                _Request(len(handshake), b"".join(encode_command(c) for c in handshake), self._checked)
            )
        queued, self._queued = self._queued, []
        for req in queued:  # pipelined behind the handshake: Redis runs them in order
            self._write(req)

    def _checked(self, replies: list[Any] | BaseException) -> None:
        if isinstance(replies, BaseException):
            return
        errors = [r for r in replies if isinstance(r, hiredis.ReplyError)]
        if errors and self._transport is not None:
            log.warning("Redis refused the journal connection's set-up: %s", errors[0])
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while True:
            reply = reader.gets()
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is out of step
                log.error("Redis sent a reply with no request waiting: dropping the connection")
                if self._transport is not None:
                    self._transport.abort()
                return
            req = waiting[0]
            req.replies.append(reply)
            if len(req.replies) == req.count:
                waiting.popleft()
                _deliver(req, req.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        waiting, self._waiting = self._waiting, deque()
        failure = Unavailable(f"Redis connection lost: {exc or 'closed'}")
        for req in waiting:  # written, outcome unknown: nobody may be acknowledged
            _deliver(req, failure)
        if self._queued and not self._closed and self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    # -- closing --------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._transport is not None:
            self._transport.abort()
        queued, self._queued = self._queued, []
        for req in queued:
            _deliver(req, Unavailable("the Redis journal connection is closed"))


def _deliver(req: _Request, outcome: list[Any] | BaseException) -> None:
    if req.timer is not None:
        req.timer.cancel()
    try:
        req.on_reply(outcome)
    except Exception:  # one caller's bug must not break the connection for the others
        log.exception("redis pipe: reply callback failed")
