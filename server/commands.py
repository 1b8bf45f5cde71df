"""Wire messages -> the pure cores' commands, with the caller's identity as the actor.

Why here: the identity comes from the verified token, never from the message, so a
bidder can never act as someone else; and the currency is checked against the auction's
own, so an amount is never read in the wrong unit.
"""

from __future__ import annotations

from typing import Any

from bidding import Rejected, Stream
from bidding.base import PlaceBid as CorePlaceBid
from bidding.errors import Code
from protocol import PlaceBid, SetProxy
from server.auth import Identity


def _currency(stream: Stream[Any]) -> str | None:
    params = getattr(stream.state, "params", None)
    value = getattr(params, "currency", None)
    if value is None and isinstance(params, dict):
        value = params.get("currency")
    return value if isinstance(value, str) else None


def to_command(stream: Stream[Any], msg: Any, identity: Identity) -> Any:
    """The core command for ``msg`` in ``stream``'s format, or a typed rejection."""
    match msg:
        case (
            PlaceBid(id=cid, amount=amount, currency=currency)
            | SetProxy(id=cid, max_amount=amount, currency=currency)
        ):
            expected = _currency(stream)
            if expected is not None and currency != expected:
                raise Rejected(Code.INVALID_COMMAND, f"this auction is in {expected}, not {currency}")
            return CorePlaceBid(command_id=cid, actor=identity.user_id, amount=amount)
    raise Rejected(Code.INVALID_COMMAND, f"{msg.type} is not supported by a {stream.fmt.kind} auction")
