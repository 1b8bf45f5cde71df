"""The engine's error tree.

Why a tree: server/errors.py maps each class to an HTTP status and a WebSocket close code
in one table, so a new failure mode is a new subclass, never a new ``except`` somewhere.

- ``EngineError``: base of everything the engine raises on purpose.
  - ``StoreStartError``: an embedded store could not be started.
  - ``Unavailable``: Redis or Postgres is unreachable; the command was *not* applied and
    must not be acknowledged (code ``unavailable``).
  - ``SequenceError``: an event's seq is not version + 1 (a gap or a duplicate).
  - ``NotFound``: no such auction/sale/draw (code ``not_found``).
  - ``MailboxFull``: an actor's bounded mailbox is full (code ``overloaded``).
  - ``ActorStopped``: the actor has stopped and takes no more commands.
  - ``MigrationError``: the schema could not be brought up to date.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class EngineError(Exception):
    """Base of the engine's deliberate errors; ``code`` is stable and machine-readable."""

    code = "engine_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()


class StoreStartError(EngineError):
    """An embedded store could not be started."""

    code = "store_start_failed"


class Unavailable(EngineError):
    """A store is unreachable; nothing was applied or acknowledged."""

    code = "unavailable"


class SequenceError(EngineError):
    """An event's sequence number is not the next one."""

    code = "sequence_error"


class NotFound(EngineError):
    """No such auction."""

    code = "not_found"


class MailboxFull(EngineError):
    """The auction is overloaded; retry shortly."""

    code = "overloaded"


class ActorStopped(EngineError):
    """The auction's actor has stopped."""

    code = "unavailable"


class MigrationError(EngineError):
    """The database schema could not be migrated."""

    code = "migration_failed"


@contextlib.contextmanager
def unavailable_on(errors: tuple[type[BaseException], ...], store: str) -> Iterator[None]:
    """Turn a store's connection failures into ``Unavailable`` (one place, every call)."""
    try:
        yield
    except errors as exc:
        raise Unavailable(f"{store} unreachable: {exc}") from exc
