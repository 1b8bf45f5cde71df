"""Every command gets exactly one typed reply, whatever its future ends with."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bidding import Rejected
from bidding.errors import Code
from engine.errors import MailboxFull
from server.ws import answered, refuse


class Replies:
    """What ``reject``/``send`` need of a connection: records what was sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.rejected: list[str] = []
        self.metrics = self

    def count_reject(self, code: str) -> None:
        self.rejected.append(code)

    def send(self, msg: Any) -> None:
        self.sent.append(msg)

    def uncork(self, room: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (Rejected(Code.BID_TOO_LOW, "minimum bid is 200"), "bid_too_low"),
        (MailboxFull(), "overloaded"),
        (RuntimeError("a bug"), "unavailable"),  # outside the contract: answered anyway
    ],
)
def test_a_failure_becomes_one_reject_with_its_stable_code(failure: BaseException, code: str) -> None:
    conn = Replies()
    refuse(conn, "c1", failure)  # type: ignore[arg-type]
    assert [(m.type, m.id, m.code) for m in conn.sent] == [("reject", "c1", code)]
    assert conn.rejected == [code]


async def test_a_cancelled_command_is_answered_unavailable() -> None:
    conn = Replies()
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.cancel()
    answered(conn, "c2", "room", None, 0.0, None, fut)  # type: ignore[arg-type]
    assert [(m.type, m.id, m.code) for m in conn.sent] == [("reject", "c2", "unavailable")]
