"""fairlot bidding core: pure, deterministic, event-sourced auction formats.

No I/O, no clock reads, no floats: time arrives as ``now`` (int ms UTC), money is
int minor units. See :mod:`bidding.base` for how a format plugs in.
"""

from bidding.base import (
    CREATED,
    AuctionFormat,
    Award,
    Close,
    Command,
    NewEvent,
    PlaceBid,
    Retract,
    Stream,
    Tick,
    get_format,
    register_format,
    replay,
    state_hash,
)
from bidding.canonical import digest, encode
from bidding.errors import (
    BiddingError,
    ChainError,
    Code,
    InvalidParams,
    InvalidTransition,
    Rejected,
    SequenceError,
    TranscriptError,
)
from bidding.events import GENESIS, Envelope, seal
from bidding.limits import ExposureLedger, VelocityRule, VelocityTracker
from bidding.money import EBAY_US, IncrementTable, bps_ceil

__all__ = [
    "CREATED",
    "EBAY_US",
    "GENESIS",
    "AuctionFormat",
    "Award",
    "BiddingError",
    "ChainError",
    "Close",
    "Code",
    "Command",
    "Envelope",
    "ExposureLedger",
    "IncrementTable",
    "InvalidParams",
    "InvalidTransition",
    "NewEvent",
    "PlaceBid",
    "Rejected",
    "Retract",
    "SequenceError",
    "Stream",
    "Tick",
    "TranscriptError",
    "VelocityRule",
    "VelocityTracker",
    "bps_ceil",
    "digest",
    "encode",
    "get_format",
    "register_format",
    "replay",
    "seal",
    "state_hash",
]
