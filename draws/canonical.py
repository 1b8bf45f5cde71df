"""Canonical JSON (RFC 8785, JCS) for the subset fairlot signs: no floats, ever.

Why our own encoder: hashes and signatures must be reproducible byte for byte by a
stranger's verifier, so the encoding is part of the specification (docs/fairness.md).
The subset is null, true/false, integers in the IEEE-754 safe range, strings, arrays and
objects with string keys. For that subset RFC 8785 reduces to: no whitespace, object keys
sorted by their UTF-16 code units, integers in plain decimal, strings escaped as
ECMAScript's JSON.stringify does (which is what ``json.dumps(..., ensure_ascii=False)``
produces), UTF-8 output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from draws.errors import CanonicalJSONError

#: Largest integer every JSON implementation reads exactly (2**53 - 1).
MAX_SAFE_INT = 2**53 - 1

JSONValue = Any  # None | bool | int | str | list[JSONValue] | dict[str, JSONValue]


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode(value: JSONValue, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            out.append(str(int(value)))
        else:
            raise CanonicalJSONError(f"integer {value} outside the safe range ±(2**53-1)")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Mapping):
        out.append("{")
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object key {key!r} is not a string")
        for i, key in enumerate(sorted(keys, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise CanonicalJSONError(f"type {type(value).__name__} is not in the canonical subset")


def canonical(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value`` (subset: no floats)."""
    out: list[str] = []
    _encode(value, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string holds a lone surrogate (not valid Unicode)") from exc


def _reject_float(text: str) -> Any:
    raise CanonicalJSONError(f"number {text} is not an integer (floats are not allowed)")


def _reject_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not allowed")


def _parse_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise CanonicalJSONError(f"integer {text} outside the safe range ±(2**53-1)")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalJSONError(f"duplicate object key {key!r}")
        result[key] = value
    return result


def loads(data: bytes | str) -> JSONValue:
    """Parse JSON strictly: UTF-8 only, no floats/NaN, no duplicate keys, safe integers.

    Why strict: two parsers that disagree on a duplicate key or on a rounded float could
    see two different documents behind one signature.
    """
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalJSONError(f"not UTF-8 at byte {exc.start}") from exc
    else:
        text = data
    try:
        return json.loads(
            text,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"invalid JSON: {exc}") from exc
