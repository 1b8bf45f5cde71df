"""Canonical byte encoding and hashes.

Everything that is hashed in :mod:`bidding` (event envelopes, state hashes,
transcripts) goes through :func:`encode`, so a verifier in any language can
reproduce the bytes. The canonical form is JSON with:

* object keys sorted by code point (keys are ASCII strings in practice),
* no insignificant whitespace (``,`` and ``:`` separators),
* integers only (no floats anywhere; bool, null, str, list, object allowed),
* strings as UTF-8, escaping only ``"``, ``\\`` and control characters.

For the value types above this is the same byte string as RFC 8785 (JCS). We
produce it with ``orjson.dumps(obj, option=OPT_SORT_KEYS)``, which is fast enough
to sit on the bid hot path. :func:`check` validates a value strictly (used by the
transcript verifier on untrusted input; the hot path trusts our own payloads).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from bidding.errors import TranscriptError

__all__ = ["MAX_INT", "check", "digest", "digest_state", "encode", "sha256_hex", "to_plain"]

#: Integers beyond 2**53 - 1 lose precision in JavaScript verifiers; refuse them.
MAX_INT = 2**53 - 1

_OPT = orjson.OPT_SORT_KEYS


def encode(obj: Any) -> bytes:
    """Return the canonical JSON bytes of ``obj`` (plain ints/strs/lists/dicts)."""
    return orjson.dumps(obj, option=_OPT)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest(obj: Any) -> str:
    """SHA-256 (hex) of the canonical encoding of ``obj``."""
    return hashlib.sha256(orjson.dumps(obj, option=_OPT)).hexdigest()


#: Exact types that are their own plain form (``bool`` included: it stays a JSON bool).
_ATOMS = frozenset({int, str, bool, type(None)})
#: Field names per dataclass type (``to_data`` classes never enter: checked first).
_DATACLASS_FIELDS: dict[type, tuple[str, ...]] = {}


def to_plain(obj: Any) -> Any:
    """Convert a state value into plain canonical data, deterministically.

    Objects with a ``to_data()`` method are converted through it (e.g.
    :class:`bidding.money.IncrementTable`); dataclasses become objects of their
    fields, tuples/lists/deques become lists, sets become sorted lists, mappings
    keep their (string) keys; mapping keys that are not strings are rejected so
    the result is always encodable. Why not pickle or ``repr``: the bytes must be
    identical across processes and Python versions.
    """
    cls = type(obj)
    if cls is int or cls is str or obj is None or cls is bool:
        return obj
    if cls is tuple or cls is list:
        # fast path: a sequence of plain atoms (bid tuples, id lists) converts in C;
        # exact types only, so int/str subclasses (and bool) take the general path
        if all(type(v) in _ATOMS for v in obj):
            return list(obj)
        return [to_plain(v) for v in obj]
    if cls is dict:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if type(k) is not str:
                raise TypeError(f"non-string mapping key {k!r}")
            out[k] = v if type(v) in _ATOMS else to_plain(v)
        return out
    fields = _DATACLASS_FIELDS.get(cls)
    if fields is not None:
        return {name: to_plain(getattr(obj, name)) for name in fields}
    if isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        raise TypeError("floats are not allowed in canonical data")
    to_data = getattr(obj, "to_data", None)
    if to_data is not None:
        return to_plain(to_data())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = _DATACLASS_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(obj))
        return {name: to_plain(getattr(obj, name)) for name in fields}
    if isinstance(obj, Mapping):
        mapped: dict[str, Any] = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"non-string mapping key {k!r}")
            mapped[k] = to_plain(v)
        return mapped
    if isinstance(obj, list | tuple | deque):
        return [to_plain(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted((to_plain(v) for v in obj), key=encode)
    raise TypeError(f"cannot canonicalise {type(obj).__name__}")


#: orjson hands dataclasses (and datetimes) to ``_plain_step`` instead of encoding them its
#: own way (field order, not sorted), so ``digest_state`` sees exactly what ``to_plain``
#: would produce.
_STATE_OPT = _OPT | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _plain_step(obj: Any) -> Any:
    """One level of :func:`to_plain` for what orjson does not encode natively; orjson
    recurses into the result (and calls back here for the next level)."""
    cls = type(obj)
    fields = _DATACLASS_FIELDS.get(cls)
    if fields is not None:
        return {name: getattr(obj, name) for name in fields}
    to_data = getattr(obj, "to_data", None)
    if to_data is not None:
        return to_data()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = _DATACLASS_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(obj))
        return {name: getattr(obj, name) for name in fields}
    return to_plain(obj)


def digest_state(obj: Any) -> str:
    """``digest(to_plain(obj))``, without building the plain copy first.

    Why: a state hash is taken per snapshot, and ``to_plain`` walked a busy English
    auction's 1,000 bidders in Python (~1 ms, the loop blocked); orjson walks dicts,
    lists and tuples in C and calls back only for dataclasses, sets, deques and
    ``to_data`` objects. Same bytes for every state ``to_plain`` accepts (a
    differential property test keeps it so); unlike ``to_plain`` it does not refuse a
    float, which the formats' parameter checks keep out of states in the first place.
    """
    return hashlib.sha256(orjson.dumps(obj, default=_plain_step, option=_STATE_OPT)).hexdigest()


def check(obj: Any, path: str = "$") -> None:
    """Raise :class:`TranscriptError` unless ``obj`` is strict canonical data.

    Allowed: None, bool, int within ±(2**53 - 1), str, list, dict with str keys.
    """
    if obj is None or isinstance(obj, bool | str):
        return
    if isinstance(obj, int):
        if -MAX_INT <= obj <= MAX_INT:
            return
        raise TranscriptError(f"{path}: integer out of range")
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TranscriptError(f"{path}: non-string key")
            check(v, f"{path}.{k}")
        return
    raise TranscriptError(f"{path}: {type(obj).__name__} is not allowed (ints, strs only)")
