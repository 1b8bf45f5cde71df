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
from bidding.dutch import DUTCH, Accept, DutchFormat, DutchState
from bidding.english import ENGLISH, BuyNow, EnglishFormat, EnglishState
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
from bidding.reverse import REVERSE, ReverseFormat, ReverseState, view_for
from bidding.sealed import SEALED, Commit, Reveal, SealedFormat, SealedState, sealed_commitment
from bidding.softclose import CloseRule
from bidding.transcript import (
    TRANSCRIPT_VERSION,
    VerificationReport,
    make_transcript,
    verify_transcript,
)

__all__ = [
    "CREATED",
    "DUTCH",
    "EBAY_US",
    "ENGLISH",
    "GENESIS",
    "REVERSE",
    "SEALED",
    "TRANSCRIPT_VERSION",
    "Accept",
    "AuctionFormat",
    "Award",
    "BiddingError",
    "BuyNow",
    "ChainError",
    "Close",
    "CloseRule",
    "Code",
    "Command",
    "Commit",
    "DutchFormat",
    "DutchState",
    "EnglishFormat",
    "EnglishState",
    "Envelope",
    "ExposureLedger",
    "IncrementTable",
    "InvalidParams",
    "InvalidTransition",
    "NewEvent",
    "PlaceBid",
    "Rejected",
    "Retract",
    "Reveal",
    "ReverseFormat",
    "ReverseState",
    "SealedFormat",
    "SealedState",
    "SequenceError",
    "Stream",
    "Tick",
    "TranscriptError",
    "VelocityRule",
    "VelocityTracker",
    "VerificationReport",
    "bps_ceil",
    "digest",
    "encode",
    "get_format",
    "make_transcript",
    "register_format",
    "replay",
    "seal",
    "sealed_commitment",
    "state_hash",
    "verify_transcript",
    "view_for",
]
