"""Protocol limits as named constants.

Every bound the protocol enforces lives here, so that docs/protocol.md, the codecs, the
session and the server read the same numbers. The bounds exist to keep one client's
mistake or malice from costing the server memory or CPU: a frame is checked against
``MAX_FRAME_BYTES`` before it is parsed, strings are checked against their own caps
before a message object is built, and the send queue of a session is bounded so a slow
reader cannot grow server memory without limit.
"""

from __future__ import annotations

from typing import Final

#: Protocol versions this implementation speaks (``Hello.version``).
PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = frozenset({PROTOCOL_VERSION})

#: Largest client -> server frame, in bytes (UTF-8 bytes for JSON text frames).
MAX_FRAME_BYTES: Final = 16 * 1024
#: Largest server -> client frame a client-side decoder accepts (snapshots can be big).
MAX_SERVER_FRAME_BYTES: Final = 4 * 1024 * 1024
#: Most events in one ``batch`` frame.
MAX_BATCH_EVENTS: Final = 256

#: String caps, in characters.
MAX_ID_LEN: Final = 64  # client command ids, hold ids, session ids
MAX_ROOM_LEN: Final = 128
MAX_TOKEN_LEN: Final = 4096
MAX_CODE_LEN: Final = 64  # machine error codes, event kinds
MAX_MESSAGE_LEN: Final = 1024  # human-readable error messages
MAX_NONCE_HEX_LEN: Final = 128  # sealed-bid reveal nonce, hex
COMMITMENT_HEX_LEN: Final = 64  # SHA-256 digest, hex

#: Integer caps. 2**53 - 1 keeps every integer exact in JavaScript clients.
MAX_SAFE_INT: Final = 2**53 - 1
MAX_AMOUNT: Final = MAX_SAFE_INT  # money, integer minor units
MAX_QUANTITY: Final = 1_000_000
MAX_TICKETS: Final = 1_000
MAX_VERSION: Final = 65_535

#: Rooms one session may be subscribed to at once.
MAX_ROOMS_PER_SESSION: Final = 32
#: Frames / bytes a session may hold queued (sent but not yet drained by the server).
SEND_QUEUE_MAX_FRAMES: Final = 1024
SEND_QUEUE_MAX_BYTES: Final = 4 * 1024 * 1024
#: Protocol errors tolerated from a peer before the session closes (policy violation).
MAX_PROTOCOL_ERRORS: Final = 32
