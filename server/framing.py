"""WebSocket framing of server frames (RFC 6455 section 5.2), done once per fan-out frame.

Why: a server-to-client frame is never masked, so with no extension negotiated its bytes
are the same for every connection. Building them once per frame and writing them to
each transport is what keeps fan-out near the cost of a raw socket send.
"""

from __future__ import annotations

import struct

__all__ = ["close_frame", "ws_frame"]

_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")


def _header(opcode: int, length: int) -> bytes:
    first = 0x80 | opcode  # FIN + opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _LEN16.pack(first, 126, length)
    return _LEN64.pack(first, 127, length)


def ws_frame(frame: bytes | str) -> bytes:
    """One unfragmented, unmasked data frame: binary for ``bytes``, text for ``str``."""
    if isinstance(frame, bytes):
        return _header(0x2, len(frame)) + frame
    data = frame.encode()
    return _header(0x1, len(data)) + data


def close_frame(code: int, reason: str = "") -> bytes:
    """A close frame with ``code`` and a reason cut to fit a control frame (125 bytes)."""
    payload = struct.pack("!H", code) + reason.encode()[:123]
    return _header(0x8, len(payload)) + payload
