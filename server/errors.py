"""One table from every deliberate error to its HTTP status and WebSocket close code.

Why one table: a client's mistake must get a typed answer (stable code, message, status),
never a 500; adding an error class means adding one row here, and a test checks that
every error class of every package has a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from engine import draw_service as draw_errors
from engine import errors as engine_errors


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    http_status: int
    close_code: int | None  # None: the connection stays open, a typed reply is sent


# Engine errors by class; the first matching class in MRO order wins.
ENGINE_TABLE: dict[type[BaseException], ErrorMapping] = {
    engine_errors.Unavailable: ErrorMapping(503, None),
    engine_errors.ActorStopped: ErrorMapping(503, None),
    engine_errors.MailboxFull: ErrorMapping(429, None),
    engine_errors.NotFound: ErrorMapping(404, None),
    engine_errors.SequenceError: ErrorMapping(409, None),
    engine_errors.StoreStartError: ErrorMapping(503, None),
    engine_errors.MigrationError: ErrorMapping(503, None),
    draw_errors.DrawRefused: ErrorMapping(409, None),  # server.draws_rest uses its own status
    draw_errors.DrawFailed: ErrorMapping(503, None),  # the stored upload no longer matches
    engine_errors.EngineError: ErrorMapping(500, None),
}

# Rejections of commands (by the pure cores or by the server), by stable code.
REJECTION_STATUS: dict[str, int] = {
    "not_found": 404,
    "rate_limited": 429,
    "overloaded": 429,
    "unauthorized": 401,
    "invalid_token": 401,
    "token_expired": 401,
    "forbidden": 403,
    "invalid_command": 422,
    "invalid_params": 422,
    "bad_request": 400,
    "unavailable": 503,
    "not_admitted": 429,
    "draw_state": 409,
    "draw_committed": 409,
    "too_few_entries": 422,
}

# WebSocket close codes the server itself uses (the protocol's own are in
# ``protocol.errors``; docs/protocol.md lists both).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down
CLOSE_INTERNAL = 1011
CLOSE_UNAUTHORIZED = 4003  # hello carried a tampered, malformed or expired token
CLOSE_SLOW_CONSUMER = 4008  # the client did not read; its queue overflowed again
WS_CLOSE_CODES: dict[int, str] = {
    CLOSE_NORMAL: "normal closure",
    CLOSE_GOING_AWAY: "server shutting down",
    CLOSE_INTERNAL: "internal error",
    CLOSE_UNAUTHORIZED: "invalid_token / token_expired in hello",
    CLOSE_SLOW_CONSUMER: "slow_consumer",
}
DEFAULT_REJECTION_STATUS = 409  # the command was well-formed but the rules refuse it


class ApiError(Exception):
    """An error raised by server/ itself (validation, auth, routing)."""

    def __init__(self, code: str, message: str, status: int = 400, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_ms = retry_after_ms


def mapping_for(exc: BaseException) -> ErrorMapping:
    for klass in type(exc).__mro__:
        if klass in ENGINE_TABLE:
            return ENGINE_TABLE[klass]
    return ErrorMapping(500, 1011)


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    extra: dict[str, object] = {}
    headers: dict[str, str] = {}
    if exc.retry_after_ms is not None:
        extra["retry_after_ms"] = exc.retry_after_ms
        headers["retry-after"] = str(max(1, (exc.retry_after_ms + 999) // 1000))
    return JSONResponse(error_body(exc.code, exc.message, **extra), status_code=exc.status, headers=headers)


async def engine_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, engine_errors.EngineError)
    return JSONResponse(error_body(exc.code, exc.message), status_code=mapping_for(exc).http_status)


def rejection_status(code: str) -> int:
    return REJECTION_STATUS.get(code, DEFAULT_REJECTION_STATUS)
