"""fairlot bidding core: pure, deterministic, event-sourced auction formats.

No I/O, no clock reads, no floats: time arrives as ``now`` (int ms UTC), money is
int minor units. See :mod:`bidding.base` for how a format plugs in.
"""

from bidding.base import (
    CREATED,
    IDEMPOTENCY_WINDOW,
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
from bidding.book_engine import Book
from bidding.callauction import CALL_AUCTION, CallAuctionFormat, CallBid, CallState, WithdrawBid
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
from bidding.events import CHAIN_VERSION, GENESIS, Envelope, SealedEnvelope, seal
from bidding.flash import (
    FLASH_SALE,
    Confirm,
    FlashSaleFormat,
    FlashState,
    LeaveWaitlist,
    Release,
    Reserve,
)
from bidding.limits import ExposureLedger, VelocityRule, VelocityTracker
from bidding.money import EBAY_US, IncrementTable, bps_ceil
from bidding.orderbook import ORDER_BOOK, BookState, CancelOrder, OrderBookFormat, PlaceOrder
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
    "CALL_AUCTION",
    "CHAIN_VERSION",
    "CREATED",
    "DUTCH",
    "EBAY_US",
    "ENGLISH",
    "FLASH_SALE",
    "GENESIS",
    "IDEMPOTENCY_WINDOW",
    "ORDER_BOOK",
    "REVERSE",
    "SEALED",
    "TRANSCRIPT_VERSION",
    "Accept",
    "AuctionFormat",
    "Award",
    "BiddingError",
    "Book",
    "BookState",
    "BuyNow",
    "CallAuctionFormat",
    "CallBid",
    "CallState",
    "CancelOrder",
    "ChainError",
    "Close",
    "CloseRule",
    "Code",
    "Command",
    "Commit",
    "Confirm",
    "DutchFormat",
    "DutchState",
    "EnglishFormat",
    "EnglishState",
    "Envelope",
    "ExposureLedger",
    "FlashSaleFormat",
    "FlashState",
    "IncrementTable",
    "InvalidParams",
    "InvalidTransition",
    "LeaveWaitlist",
    "NewEvent",
    "OrderBookFormat",
    "PlaceBid",
    "PlaceOrder",
    "Rejected",
    "Release",
    "Reserve",
    "Retract",
    "Reveal",
    "ReverseFormat",
    "ReverseState",
    "SealedEnvelope",
    "SealedFormat",
    "SealedState",
    "SequenceError",
    "Stream",
    "Tick",
    "TranscriptError",
    "VelocityRule",
    "VelocityTracker",
    "VerificationReport",
    "WithdrawBid",
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
