"""Closing rules shared by timed formats: hard close, soft close (anti-sniping), cap.

Parameters (in a format's params dict):

``close``            ``"hard"`` (default) or ``"soft"``.
``window``           soft close: a qualifying bid at ``now >= end - window`` extends.
``extension``        soft close: how much time the extension gives (ms).
``extension_mode``   ``"add"``: ``end += extension`` (Catawiki: a bid in the final
                     minute adds a minute); ``"reset"``: ``end = now + extension``
                     (HiBid/AuctionFlex: the window resets to X).
``cap``              optional hard end: the end never moves past it.

Which bids qualify is the format's call (only those that change the price or the
leader); a rejected bid never reaches this code. The end only ever moves forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bidding.errors import InvalidParams
from bidding.money import check_amount

__all__ = ["CloseRule", "parse_close_params"]

_KEYS = ("close", "window", "extension", "extension_mode", "cap")


@dataclass(frozen=True, slots=True)
class CloseRule:
    """A validated closing rule."""

    soft: bool
    window: int
    extension: int
    reset: bool
    cap: int | None

    def extended_end(self, end: int, now: int) -> int:
        """The end after a qualifying bid at ``now`` (``end`` itself if no extension).

        Precondition: ``now < end`` (the bid was accepted, so the auction is open).
        """
        if not self.soft or now < end - self.window:
            return end
        new = now + self.extension if self.reset else end + self.extension
        cap = self.cap
        if cap is not None and new > cap:
            new = cap
        return new if new > end else end


def parse_close_params(params: Mapping[str, Any], out: dict[str, Any], end: int) -> CloseRule:
    """Validate the closing keys of ``params`` against ``end``; write the normal form
    into ``out``; return the rule."""
    close = params.get("close", "hard")
    if close not in ("hard", "soft"):
        raise InvalidParams("close must be 'hard' or 'soft'")
    cap = params.get("cap")
    if cap is not None:
        cap = check_amount(cap, "cap")
        if cap < end:
            raise InvalidParams("cap must not be before end")
    if close == "soft":
        window = check_amount(params.get("window", 60_000), "window", minimum=1)
        extension = check_amount(params.get("extension", 60_000), "extension", minimum=1)
        mode = params.get("extension_mode", "add")
        if mode not in ("add", "reset"):
            raise InvalidParams("extension_mode must be 'add' or 'reset'")
    else:
        if params.get("window") not in (None, 0) or params.get("extension") not in (None, 0):
            raise InvalidParams("window/extension are only meaningful with close='soft'")
        if params.get("extension_mode") not in (None, "add"):
            raise InvalidParams("extension_mode is only meaningful with close='soft'")
        window, extension, mode = 0, 0, "add"
    out.update({"close": close, "window": window, "extension": extension, "extension_mode": mode})
    out["cap"] = cap
    return CloseRule(close == "soft", window, extension, mode == "reset", cap)


def close_keys() -> tuple[str, ...]:
    """The params keys this module owns (for unknown-key checks)."""
    return _KEYS
