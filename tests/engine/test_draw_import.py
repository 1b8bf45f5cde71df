"""The draw import refuses U+0000 in a user id or handle (the certificate, which
Postgres stores, would carry it), from both the CSV and the JSON importer."""

from __future__ import annotations

import orjson
import pytest

from draws import Rules
from draws.errors import EntryImportError
from engine.draw_service import _import_and_filter


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        (b"user_id,handle\n1,@ok\n2,@x\x00y\n", "csv"),
        (orjson.dumps([{"user_id": "1", "handle": "@ok"}, {"user_id": "2", "handle": "@x\u0000y"}]), "json"),
        (b'[{"user_id": "1", "handle": "@ok"}, {"user_id": "2\\u0000", "handle": "@b"}]', "json"),
    ],
)
def test_u0000_is_refused_with_its_row(raw: bytes, source: str) -> None:
    with pytest.raises(EntryImportError, match="contains U\\+0000") as refused:
        _import_and_filter(raw, source, Rules())
    assert refused.value.row == 2


def test_clean_entries_and_an_escaped_backslash_u0000_text_pass() -> None:
    raw = b'[{"user_id": "1", "handle": "@a\\\\u0000"}, {"user_id": "2", "handle": "@b"}]'
    imported, filtered, _ = _import_and_filter(raw, "json", Rules())
    handle = imported.entries.handle[0]
    assert handle.endswith("a\\u0000") and "\x00" not in handle  # the six characters
    assert len(filtered.eligible.user_id) == 2
