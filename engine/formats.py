"""Import every auction format so each registers itself under its ``kind``.

Why one place: replay finds a stream's format by the ``kind`` in its created event, so
every format the server may meet in its logs must be imported before any replay.
"""

from __future__ import annotations

import importlib

FORMAT_MODULES = (
    "bidding.english",
    "bidding.dutch",
    "bidding.sealed",
    "bidding.reverse",
    "bidding.orderbook",
    "bidding.callauction",
    "bidding.flash",
)


def load_formats() -> list[str]:
    """Import the format modules that exist; return the ones loaded."""
    loaded = []
    for name in FORMAT_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        loaded.append(name)
    return loaded
