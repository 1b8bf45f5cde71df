"""Messages <-> wire objects (dicts of str, int, None, list and dict), codec-independent.

Both codecs share this layer: msgpack and JSON only turn bytes into a wire object and
back; which keys a message has, and what each value may be, is decided here once.

Encoders are generated per class at import time, the way ``dataclasses`` generates
``__init__``: one dict display per class (``{"type": "place_bid", "id": m.id, ...}``)
is several times faster than a loop over ``fields()``, and encoding sits on the hot
fan-out path. Decoders are built per class from the ``Annotated`` field rules and check
every field strictly: unknown tag, missing or extra keys, wrong types, lengths and ranges
all raise a typed ``InvalidMessage`` subclass.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import Annotated, Any, Final, cast, get_args, get_origin, get_type_hints

from protocol import limits
from protocol.errors import (
    EncodeError,
    InvalidField,
    InvalidMessage,
    MissingField,
    UnexpectedField,
    UnknownType,
)
from protocol.fields import Rule, Text
from protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    Batch,
    ClientMessage,
    Event,
    Message,
    ServerMessage,
)

__all__ = [
    "client_from_wire",
    "event_to_wire",
    "make_decoder",
    "server_from_wire",
    "to_wire",
]

_MISSING: Final = MISSING  # marks an absent key; never a valid wire value
_INVALID: Final = object()  # returned by converters for a bad value
_ID_RULE: Final = Text(1, limits.MAX_ID_LEN)


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is Annotated:
        return cast(Rule, get_args(hint)[1]).describe()
    if origin in (typing.Union, types.UnionType):
        inner = [_describe(a) for a in get_args(hint) if a is not type(None)]
        return " or ".join([*inner, "null"])
    if origin is tuple:
        return f"a list of at most {limits.MAX_BATCH_EVENTS} event objects"
    raise TypeError(f"no wire rule for {hint!r}")  # pragma: no cover - catalogue bug


def _condition(hint: Any, var: str, namespace: dict[str, Any]) -> str | None:
    """A boolean expression validating ``var``, or None when the field needs converting."""
    origin = get_origin(hint)
    if origin is Annotated:
        return cast(Rule, get_args(hint)[1]).condition(var, namespace)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in get_args(hint) if a is not type(None)]
        inner_condition = _condition(inner, var, namespace)
        return None if inner_condition is None else f"{var} is None or ({inner_condition})"
    if origin is tuple and get_args(hint) == (Event, ...):
        return None
    raise TypeError(f"no wire rule for {hint!r}")  # pragma: no cover - catalogue bug


class _Errors:
    """Builds the typed errors of one message class (the cold path of its decoder)."""

    __slots__ = ("descriptions", "has_id", "names", "tag")

    def __init__(self, cls: type[Any], hints: dict[str, Any]) -> None:
        self.tag: str = cls.type
        self.descriptions = {f.name: _describe(hints[f.name]) for f in fields(cls)}
        self.names = frozenset(self.descriptions) | {"type"}
        self.has_id = "id" in self.names

    def command_id(self, obj: dict[Any, Any]) -> str | None:
        """The client's command id, if the bad frame carries a valid one."""
        value = obj.get("id")
        if self.has_id and type(value) is str and 1 <= len(value) <= _ID_RULE.max_len:
            return value
        return None

    def missing(self, obj: dict[Any, Any], name: str) -> MissingField:
        return MissingField(
            f"{self.tag}: missing field {name!r}", field=name, command_id=self.command_id(obj)
        )

    def invalid(self, obj: dict[Any, Any], name: str) -> InvalidField:
        return InvalidField(
            f"{self.tag}: field {name!r} must be {self.descriptions[name]}",
            field=name,
            command_id=self.command_id(obj),
        )

    def unexpected(self, obj: dict[Any, Any]) -> UnexpectedField:
        extra = [k for k in obj if k not in self.names]
        shown = ", ".join(repr(k)[: limits.MAX_CODE_LEN] for k in extra[:8])
        return UnexpectedField(
            f"{self.tag}: unexpected field(s) {shown}",
            field=str(extra[0])[: limits.MAX_CODE_LEN],
            command_id=self.command_id(obj),
        )


def make_decoder(cls: type[Any]) -> Callable[[dict[Any, Any]], Any]:
    """Generate the strict decoder of one message class from its field rules.

    The generated function reads each field with one ``dict.get``, checks it with the
    rule's inlined condition, counts the keys it used (any other key is unexpected) and
    builds the instance through its slot descriptors, skipping the frozen ``__init__``
    (messages define no ``__post_init__``, so nothing is lost; tests compare decoded
    and constructed messages).
    """
    hints = get_type_hints(cls, include_extras=True)
    namespace: dict[str, Any] = {
        "_MISSING": _MISSING,
        "_INVALID": _INVALID,
        "_errors": _Errors(cls, hints),
        "_new": object.__new__,
        "_cls": cls,
    }
    lines = ["def decode(obj):", "    n = 1"]
    sets = []
    for i, f in enumerate(fields(cls)):
        var = f"v{i}"
        lines.append(f"    {var} = obj.get({f.name!r}, _MISSING)")
        lines.append(f"    if {var} is _MISSING:")
        if f.default is MISSING:
            lines.append(f"        raise _errors.missing(obj, {f.name!r})")
        else:
            namespace[f"_default{i}"] = f.default
            lines.append(f"        {var} = _default{i}")
        condition = _condition(hints[f.name], var, namespace)
        if condition is None:  # converted field: a batch's events
            namespace[f"_convert{i}"] = _convert_events
            lines.append(f"    elif ({var} := _convert{i}({var})) is _INVALID:")
        else:
            lines.append(f"    elif not ({condition}):")
        lines.append(f"        raise _errors.invalid(obj, {f.name!r})")
        lines.append("    else:")
        lines.append("        n += 1")
        namespace[f"_set{i}"] = cls.__dict__[f.name].__set__
        sets.append(f"    _set{i}(self, {var})")
    lines.append("    if len(obj) != n:")
    lines.append("        raise _errors.unexpected(obj)")
    lines.append("    self = _new(_cls)")
    lines.extend(sets)
    lines.append("    return self")
    exec("\n".join(lines) + "\n", namespace)  # same technique as dataclasses' __init__
    return cast(Callable[[dict[Any, Any]], Any], namespace["decode"])


def _convert_events(v: object) -> object:
    """A batch's ``events`` list as a tuple of ``Event``, or ``_INVALID``."""
    if type(v) is not list or len(v) > limits.MAX_BATCH_EVENTS:
        return _INVALID
    out = []
    for item in v:
        if type(item) is not dict or item.get("type") != "event":
            return _INVALID
        try:
            out.append(_EVENT_DECODER(item))
        except InvalidMessage:
            return _INVALID
    return tuple(out)


def _make_encoder(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """Generate ``encode(m) -> {"type": tag, field: m.field, ...}`` for one class."""
    items = [f"'type': {cls.type!r}"]
    for f in fields(cls):
        if cls is Batch and f.name == "events":
            items.append("'events': [_event(e) for e in m.events]")
        else:
            items.append(f"{f.name!r}: m.{f.name}")
    source = f"def encode(m):\n    return {{{', '.join(items)}}}\n"
    namespace: dict[str, Any] = {"_event": event_to_wire}
    exec(source, namespace)  # same technique as dataclasses' generated __init__
    return cast(Callable[[Any], dict[str, Any]], namespace["encode"])


def event_to_wire(e: Event) -> dict[str, Any]:
    """The wire object of one event (standalone, or as an element of a batch)."""
    return {
        "type": "event",
        "room": e.room,
        "seq": e.seq,
        "kind": e.kind,
        "time": e.time,
        "data": e.data,
    }


_ENCODERS: Final[dict[type[Any], Callable[[Any], dict[str, Any]]]] = {
    cls: _make_encoder(cls) for cls in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)
}
_ENCODERS[Event] = cast(Callable[[Any], dict[str, Any]], event_to_wire)

_Decoder = Callable[[dict[Any, Any]], Any]
_CLIENT_DECODERS: Final[dict[str, _Decoder]] = {cls.type: make_decoder(cls) for cls in CLIENT_MESSAGE_TYPES}
_SERVER_DECODERS: Final[dict[str, _Decoder]] = {cls.type: make_decoder(cls) for cls in SERVER_MESSAGE_TYPES}
_EVENT_DECODER: Final = _SERVER_DECODERS["event"]


def to_wire(msg: Message) -> dict[str, Any]:
    """The wire object of ``msg``; raises ``EncodeError`` for a non-message."""
    try:
        encoder = _ENCODERS[type(msg)]
    except KeyError:
        raise EncodeError(f"not a protocol message: {type(msg).__name__}") from None
    return encoder(msg)


def _from_wire(obj: object, decoders: Mapping[str, _Decoder], side: str) -> Any:
    if type(obj) is not dict:
        raise InvalidMessage(f"a message must be an object, not {type(obj).__name__}")
    tag = obj.get("type")
    if type(tag) is not str:
        raise InvalidMessage('a message needs a string "type"', field="type")
    decoder = decoders.get(tag)
    if decoder is None:
        shown = tag if len(tag) <= limits.MAX_CODE_LEN else tag[: limits.MAX_CODE_LEN] + "..."
        raise UnknownType(f"unknown {side} message type {shown!r}", field="type")
    return decoder(obj)


def client_from_wire(obj: object) -> ClientMessage:
    """Decode a client -> server wire object strictly."""
    return cast(ClientMessage, _from_wire(obj, _CLIENT_DECODERS, "client"))


def server_from_wire(obj: object) -> ServerMessage:
    """Decode a server -> client wire object strictly (batch events must share its room)."""
    msg = cast(ServerMessage, _from_wire(obj, _SERVER_DECODERS, "server"))
    if type(msg) is Batch and any(e.room != msg.room for e in msg.events):
        raise InvalidField("batch: every event must belong to the batch's room", field="events")
    return msg
