"""Wire messages -> the pure cores' commands, with the caller's identity as the actor.

Why here: the identity comes from the verified token, never from the message, so a
bidder can never act as someone else; and the currency is checked against the auction's
own, so an amount is never read in the wrong unit.

The mapping, per format (``docs/api.md`` has the table):

| message | english | dutch | sealed | reverse | flash | callauction | orderbook |
|---|---|---|---|---|---|---|---|
| ``place_bid`` | bid (a max) | - | - | offer | - | 1 unit at ``amount`` | - |
| ``set_proxy`` | bid (a max) | - | - | - | - | - | - |
| ``buy`` | buy-it-now | accept | - | - | hold + confirm | - | - |
| ``hold`` / ``confirm`` | - | - | - | - | reserve / confirm | - | - |
| ``sealed_commit`` / ``sealed_reveal`` | - | - | commit / reveal | - | - | - | - |

Anything else is refused with ``invalid_command`` naming the format. Draws are engine
streams too (format ``draw``, ``engine.draw_format``), but their rooms (``draw:<id>``)
take no commands: a draw's steps come from its host over REST (``server.draws_rest``)
and entries by upload, so ``draw_enter`` and every other message sent to a draw room is
refused the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bidding import Accept, BuyNow, CallBid, Commit, Confirm, Rejected, Reserve, Reveal, Stream
from bidding.base import PlaceBid as CorePlaceBid
from bidding.errors import Code
from protocol import Buy, Hold, PlaceBid, SealedCommit, SealedReveal, SetProxy
from protocol import Confirm as WireConfirm

if TYPE_CHECKING:
    from bidding import Envelope
    from engine.actor import AuctionActor
    from server.auth import Identity

__all__ = ["confirm_hold", "currency_of", "is_two_step", "to_command"]


def currency_of(stream: Stream[Any]) -> str | None:
    """The auction's currency, whatever shape its params take."""
    params = getattr(stream.state, "params", None)
    value = getattr(params, "currency", None)
    if value is None and isinstance(params, dict):
        value = params.get("currency")
    return value if isinstance(value, str) else None


def _check_currency(stream: Stream[Any], currency: str) -> None:
    expected = currency_of(stream)
    if expected is not None and currency != expected:
        raise Rejected(Code.INVALID_COMMAND, f"this auction is in {expected}, not {currency}")


def _unsupported(stream: Stream[Any], msg: Any) -> Rejected:
    return Rejected(Code.INVALID_COMMAND, f"{msg.type} is not supported by a {stream.fmt.kind} auction")


def to_command(stream: Stream[Any], msg: Any, identity: Identity) -> Any:
    """The core command for ``msg`` in ``stream``'s format, or a typed rejection.

    A flash-sale ``buy`` is two commands (``submit`` runs them); here it maps to its
    first, the reserve.
    """
    kind = stream.fmt.kind
    actor = identity.user_id
    match msg:
        case PlaceBid(id=cid, amount=amount, currency=currency) if kind in ("english", "reverse"):
            _check_currency(stream, currency)
            return CorePlaceBid(command_id=cid, actor=actor, amount=amount)
        case PlaceBid(id=cid, amount=amount, currency=currency) if kind == "callauction":
            _check_currency(stream, currency)
            return CallBid(command_id=cid, actor=actor, bid_id=cid, qty=1, price=amount)
        case SetProxy(id=cid, max_amount=amount, currency=currency) if kind == "english":
            _check_currency(stream, currency)
            return CorePlaceBid(command_id=cid, actor=actor, amount=amount)
        case Buy(id=cid, quantity=quantity) if kind == "english":
            if quantity != 1:
                raise Rejected(Code.INVALID_COMMAND, "an English lot is bought whole: quantity must be 1")
            return BuyNow(command_id=cid, actor=actor)
        case Buy(id=cid, quantity=quantity) if kind == "dutch":
            return Accept(command_id=cid, actor=actor, quantity=quantity)
        case Buy(id=cid, quantity=quantity) | Hold(id=cid, quantity=quantity) if kind == "flash":
            return Reserve(command_id=cid, actor=actor, qty=quantity)
        case WireConfirm(id=cid, hold_id=hold_id) if kind == "flash":
            return Confirm(command_id=cid, actor=actor, hold_id=hold_id)
        case SealedCommit(id=cid, commitment=commitment) if kind == "sealed":
            return Commit(command_id=cid, actor=actor, commitment=commitment)
        case SealedReveal(id=cid, amount=amount, nonce=nonce) if kind == "sealed":
            return Reveal(command_id=cid, actor=actor, amount=amount, nonce=nonce)
    raise _unsupported(stream, msg)


def is_two_step(msg: Any, command: Any) -> bool:
    """A flash-sale ``buy``: it reserves, then confirms the hold it got."""
    return isinstance(msg, Buy) and isinstance(command, Reserve)


async def confirm_hold(
    actor: AuctionActor, msg: Any, identity: Identity, events: tuple[Envelope, ...]
) -> tuple[Envelope, ...]:
    """A ``buy``'s second step, after its reserve gave ``events``: confirm the buyer's
    hold (command id ``<id>:confirm``, so a retry of the ``buy`` repeats neither step).
    If the buyer was waitlisted instead, the waitlist event is the outcome."""
    hold = next(
        (e for e in events if e.type == "hold_placed" and e.payload.get("buyer") == identity.user_id),
        None,
    )
    if hold is None:
        return events
    confirm = Confirm(command_id=f"{msg.id}:confirm", actor=identity.user_id, hold_id=hold.payload["hold_id"])
    return (*events, *await actor.submit(confirm))
