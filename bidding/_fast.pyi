"""Types of the optional C extension ``bidding._fast`` (bidding/_fast.c)."""

from typing import Any

from bidding.base import Command, Stream
from bidding.events import Envelope

def setup(
    stream: type,
    state: type,
    params: type,
    rule: type,
    envelope: type,
    command: type,
    base_globals: dict[str, Any],
    open_status: str,
    fingerprint_tag: str,
    deque: type,
    /,
) -> None: ...
def english_bid(stream: Stream[Any], command: Command, now: int, /) -> tuple[Envelope, ...] | None: ...
