"""The error tree: stable codes, close codes, fatality, and who is to blame."""

from __future__ import annotations

import inspect

import pytest

from protocol import errors
from protocol.errors import (
    InvalidField,
    InvalidMessage,
    InvalidState,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)

CLASSES = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, ProtocolError)]
#: The close codes docs/protocol.md documents.
DOCUMENTED_CLOSE_CODES = {1002, 1003, 1007, 1008, 1009, 1011, 4001, 4004, 4005, 4008}


def test_every_error_is_exported_and_has_a_unique_code() -> None:
    assert sorted(cls.__name__ for cls in CLASSES) == sorted(errors.__all__)
    codes = [cls.code for cls in CLASSES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_codes_and_close_codes(cls: type[ProtocolError]) -> None:
    assert cls.code.replace("_", "").isalpha() and cls.code.islower()
    assert cls.close_code in DOCUMENTED_CLOSE_CODES
    assert cls is ProtocolError or issubclass(cls, LocalProtocolError | RemoteProtocolError)
    assert cls.__doc__


def test_local_errors_are_ours_remote_errors_are_the_peers() -> None:
    assert issubclass(InvalidState, AssertionError)
    assert LocalProtocolError.close_code == 1011
    assert issubclass(InvalidField, InvalidMessage)
    for cls in CLASSES:
        if issubclass(cls, InvalidMessage):
            assert cls.close_code == 1008 and not cls.fatal


def test_error_carries_field_and_command_id() -> None:
    err = InvalidField("bad amount", field="amount", command_id="c1")
    assert (err.message, err.field, err.command_id, str(err)) == (
        "bad amount",
        "amount",
        "c1",
        "bad amount",
    )
    assert repr(err) == "InvalidField(code='invalid_field', message='bad amount')"
