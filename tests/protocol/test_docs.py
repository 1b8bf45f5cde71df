"""docs/protocol.md documents every message, error code and limit, with valid examples."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from protocol import JSON, errors, limits
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES, Message

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
EXAMPLES = re.findall(r"```json\n(.*?)\n```", DOC, flags=re.DOTALL)


def test_every_message_has_a_section_and_an_example() -> None:
    tags = [cls.type for cls in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)]
    for tag in tags:
        assert f"### `{tag}`" in DOC, tag
    examples: dict[str, Message] = {}
    for text in EXAMPLES:
        msg: Message
        try:
            msg = JSON.decode(text)
        except RemoteProtocolError:
            msg = JSON.decode_server(text)
        assert JSON.encode(msg) == text  # the example is exactly what the codec writes
        examples[msg.type] = msg
    assert sorted(examples) == sorted(tags)


@pytest.mark.parametrize(
    "cls",
    [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, ProtocolError)],
    ids=lambda c: c.__name__,
)
def test_every_error_code_is_documented_with_its_close_code(cls: type[ProtocolError]) -> None:
    fatal = "yes" if cls.fatal else "no"
    row = re.search(rf"^\| `{cls.code}` \| `{cls.__name__}`[^|]* \| (\d+) \| (\w+) \|", DOC, re.M)
    assert row is not None, cls.code
    assert (int(row.group(1)), row.group(2)) == (cls.close_code, fatal)
    assert re.search(rf"^\| {cls.close_code} \|", DOC, re.M)


def test_every_limit_is_documented() -> None:
    names = [n for n in dir(limits) if n.isupper()]
    for name in names:
        assert f"`{name}`" in DOC, name
