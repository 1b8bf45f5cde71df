"""The message catalogue: tags, immutability, unions and ``match`` dispatch."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest

from protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    Buy,
    ClientMessage,
    DrawEnter,
    Hello,
    Ping,
    PlaceBid,
    RoomCommand,
    ServerMessage,
    Subscribe,
)

ALL = (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)


def test_tags_are_unique_snake_case_and_not_fields() -> None:
    tags = [cls.type for cls in ALL]
    assert len(set(tags)) == len(tags) == 20
    for cls in ALL:
        assert cls.type.replace("_", "").isalpha() and cls.type.islower()
        assert "type" not in {f.name for f in dataclasses.fields(cls)}


def test_unions_list_the_catalogue() -> None:
    assert get_args(ClientMessage) == CLIENT_MESSAGE_TYPES
    assert get_args(ServerMessage) == SERVER_MESSAGE_TYPES
    assert set(get_args(RoomCommand)) < set(CLIENT_MESSAGE_TYPES)
    for cls in get_args(RoomCommand):
        assert {"id", "room"} <= {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.type)
def test_messages_are_frozen_and_slotted(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in cls.__dict__ and "__dict__" not in dir(cls)
    assert "__post_init__" not in cls.__dict__  # decoders build instances without __init__


def test_frozen_instances_refuse_assignment() -> None:
    bid = PlaceBid(id="c", room="r", amount=1, currency="EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        bid.amount = 2  # type: ignore[misc]


def describe(msg: ClientMessage) -> str:
    match msg:
        case Hello(version=version):
            return f"hello v{version}"
        case Subscribe(room=room, since=None):
            return f"join {room}"
        case Subscribe(room=room, since=since):
            return f"resume {room} after {since}"
        case PlaceBid(amount=amount, currency=currency):
            return f"bid {amount} {currency}"
        case _:
            return msg.type


def test_match_dispatch() -> None:
    assert describe(Hello(version=1)) == "hello v1"
    assert describe(Subscribe(room="r")) == "join r"
    assert describe(Subscribe(room="r", since=4)) == "resume r after 4"
    assert describe(PlaceBid(id="c", room="r", amount=5, currency="EUR")) == "bid 5 EUR"
    assert describe(Ping(nonce=1)) == "ping"


def test_defaults() -> None:
    assert Hello(version=1).token is None
    assert DrawEnter(id="c", room="r").tickets == 1
    assert Buy(id="c", room="r", quantity=2).quantity == 2
