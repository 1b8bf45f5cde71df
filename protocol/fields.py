"""Field rules: the wire constraints of message fields, declared next to their types.

Message fields are annotated with ``typing.Annotated`` aliases defined here (for
example ``CommandId``: a ``str`` with a ``Text(1, MAX_ID_LEN)`` rule), in the spirit of
msgspec's ``Meta``: mypy sees a plain ``str`` or ``int``, and ``protocol.wire`` reads the
rule once, at import time, to generate a strict decoder for the message.

Integers are checked with ``type(v) is int``: ``true`` is not a bid amount, and a float
``1.0`` is not a sequence number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from protocol import limits

__all__ = [
    "Amount",
    "Code",
    "CommandId",
    "Commitment",
    "Currency",
    "CurrencyCode",
    "HexText",
    "HumanText",
    "Int",
    "JsonObject",
    "JsonObjectRule",
    "Nonce",
    "PingNonce",
    "Quantity",
    "RoomId",
    "Rule",
    "Seq",
    "Text",
    "Tickets",
    "TimeMs",
    "Token",
    "Version",
]


class Rule(Protocol):
    """What every field rule provides.

    ``condition(var, namespace)`` returns a Python boolean expression that is true when
    the variable named ``var`` holds a valid value; helpers it needs (compiled regular
    expressions, functions) are added to ``namespace``. ``protocol.wire`` inlines these
    expressions into one generated decoder per message class, so checking a field costs
    a few bytecodes instead of a function call.
    """

    def describe(self) -> str:
        """What a valid value looks like, for error messages."""
        ...

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        """A boolean Python expression over ``var``."""
        ...


def _helper(namespace: dict[str, Any], prefix: str, value: object) -> str:
    """Add ``value`` to ``namespace`` under a fresh name and return the name."""
    name = f"_{prefix}{len(namespace)}"
    namespace[name] = value
    return name


@dataclass(frozen=True, slots=True)
class Text:
    """A string of ``min_len`` to ``max_len`` characters."""

    min_len: int
    max_len: int

    def describe(self) -> str:
        return f"a string of {self.min_len} to {self.max_len} characters"

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        return f"type({var}) is str and {self.min_len} <= len({var}) <= {self.max_len}"


@dataclass(frozen=True, slots=True)
class HexText:
    """Lowercase hexadecimal of even length between ``min_len`` and ``max_len``."""

    min_len: int
    max_len: int

    def describe(self) -> str:
        return f"lowercase hex of {self.min_len} to {self.max_len} digits (even count)"

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        match = _helper(namespace, "hex", re.compile(r"(?:[0-9a-f]{2})+").fullmatch)
        return (
            f"type({var}) is str and {self.min_len} <= len({var}) <= {self.max_len}"
            f" and {match}({var}) is not None"
        )


@dataclass(frozen=True, slots=True)
class CurrencyCode:
    """An ISO 4217 alphabetic code: three uppercase ASCII letters."""

    def describe(self) -> str:
        return "a three-letter ISO 4217 code"

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        match = _helper(namespace, "currency", re.compile(r"[A-Z]{3}").fullmatch)
        return f"type({var}) is str and len({var}) == 3 and {match}({var}) is not None"


@dataclass(frozen=True, slots=True)
class Int:
    """An integer (never a bool, never a float) in ``[min_value, max_value]``."""

    min_value: int
    max_value: int

    def describe(self) -> str:
        return f"an integer in [{self.min_value}, {self.max_value}]"

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        return f"type({var}) is int and {self.min_value} <= {var} <= {self.max_value}"


def _has_str_keys(value: dict[Any, Any]) -> bool:
    return all(type(k) is str for k in value)


@dataclass(frozen=True, slots=True)
class JsonObjectRule:
    """A map with string keys; values pass through (they are server-built payloads)."""

    def describe(self) -> str:
        return "an object with string keys"

    def condition(self, var: str, namespace: dict[str, Any]) -> str:
        keys_ok = _helper(namespace, "object", _has_str_keys)
        return f"type({var}) is dict and {keys_ok}({var})"


CommandId = Annotated[str, Text(1, limits.MAX_ID_LEN)]
RoomId = Annotated[str, Text(1, limits.MAX_ROOM_LEN)]
Token = Annotated[str, Text(1, limits.MAX_TOKEN_LEN)]
Code = Annotated[str, Text(1, limits.MAX_CODE_LEN)]
HumanText = Annotated[str, Text(0, limits.MAX_MESSAGE_LEN)]
Currency = Annotated[str, CurrencyCode()]
Commitment = Annotated[str, HexText(limits.COMMITMENT_HEX_LEN, limits.COMMITMENT_HEX_LEN)]
Nonce = Annotated[str, HexText(2, limits.MAX_NONCE_HEX_LEN)]
Amount = Annotated[int, Int(1, limits.MAX_AMOUNT)]
Quantity = Annotated[int, Int(1, limits.MAX_QUANTITY)]
Tickets = Annotated[int, Int(1, limits.MAX_TICKETS)]
Seq = Annotated[int, Int(0, limits.MAX_SAFE_INT)]
PingNonce = Annotated[int, Int(0, limits.MAX_SAFE_INT)]
TimeMs = Annotated[int, Int(0, limits.MAX_SAFE_INT)]
Version = Annotated[int, Int(1, limits.MAX_VERSION)]
JsonObject = Annotated[dict[str, Any], JsonObjectRule()]
