"""Import and normalisation: both CSV paths agree; every bad file names its row."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import EntryImportError, import_csv, import_entries, import_json
from draws.entries import MAX_ROW_CHARS, _split_csv, _split_fast, parse_timestamp_ms

HEADER = "platform,user_id,handle,text,created_at,weight\n"


def test_csv_normalises_and_hashes_raw_bytes() -> None:
    raw = (HEADER + "Instagram, 42 ,@@Ｊose\u0301,  Cafe\u0301 #win ,2024-01-01T00:00:00Z,3\n"
           "tiktok,,@Bob,hi,1704067200000,\n").encode()  # fmt: skip
    result = import_csv(raw)
    e = result.entries
    assert result.raw_sha256 == hashlib.sha256(raw).digest()
    assert e.platform == ("instagram", "tiktok")
    assert e.user_id == ("42", "")
    assert e.handle == ("ｊosé", "bob")  # NFC composed, "@" stripped, case-folded
    assert e.text[0] == "Café #win"
    assert e.created_at_ms == (1704067200000, 1704067200000)
    assert e.weight == (3, 1)
    assert e.identities() == ["instagram/id/42", "tiktok/handle/bob"]
    assert e.rows == (1, 2)


def test_quoted_csv_uses_the_csv_module() -> None:
    raw = (HEADER + 'x,1,@a,"hello, ""world""\nsecond line",,2\r\n').encode()
    e = import_csv(raw).entries
    assert e.text == ('hello, "world"\nsecond line',) and e.weight == (2,)


csv_text = st.text(alphabet="ab@é#1 \u0301", max_size=6)


@given(st.lists(st.tuples(csv_text, csv_text, csv_text), max_size=8))
@settings(max_examples=100, deadline=None)
def test_fast_and_csv_module_paths_agree(rows: list[tuple[str, str, str]]) -> None:
    text = "a,b,c\n" + "".join(f"{x},{y},{z}\n" for x, y, z in rows)
    fast = _split_fast(text)
    header, columns, _ = _split_csv(text)
    assert fast is not None
    assert fast == (header, columns)


def test_wrong_encoding_names_the_line() -> None:
    raw = (HEADER + "x,1,@a,ok,,1\nx,2,@b,").encode() + b"caf\xe9" + b",,1\n"
    with pytest.raises(EntryImportError) as err:
        import_csv(raw)
    assert err.value.row == 2 and "line 3" in str(err.value) and "UTF-8" in str(err.value)


def test_missing_columns_and_short_rows_name_the_row() -> None:
    with pytest.raises(EntryImportError, match="missing columns"):
        import_csv(b"platform,text\nx,hello\n")
    with pytest.raises(EntryImportError) as err:
        import_csv((HEADER + "x,1,@a,t,,1\nx,2,@b\n").encode())
    assert err.value.row == 2 and "expected 6 columns, found 3" in str(err.value)
    with pytest.raises(EntryImportError) as err:
        import_csv((HEADER + "x,1,@a,t,,1\nx,,,t,,1\n").encode())
    assert err.value.row == 2 and "no user_id and no handle" in str(err.value)


def test_huge_row_is_refused_with_its_row() -> None:
    raw = (HEADER + "x,1,@a,t,,1\n" + "x,2,@b," + "y" * (MAX_ROW_CHARS + 1) + ",,1\n").encode()
    with pytest.raises(EntryImportError) as err:
        import_csv(raw)
    assert err.value.row == 2 and "longer than" in str(err.value)


@pytest.mark.parametrize(
    ("value", "what"),
    [("weight", "0"), ("weight", "2.5"), ("weight", "٣"), ("created_at", "yesterday")],
)
def test_bad_values_name_the_row(value: str, what: str) -> None:
    cells = {"weight": "1", "created_at": ""}
    cells[value] = what
    raw = HEADER + "x,1,@a,t,,1\n" + f"x,2,@b,t,{cells['created_at']},{cells['weight']}\n"
    with pytest.raises(EntryImportError) as err:
        import_csv(raw.encode())
    assert err.value.row == 2 and value in str(err.value)


def test_bad_platform_and_empty_and_duplicate_header() -> None:
    with pytest.raises(EntryImportError, match="platform"):
        import_csv((HEADER + "in sta,1,@a,t,,1\n").encode())
    with pytest.raises(EntryImportError, match="empty file"):
        import_csv(b"")
    with pytest.raises(EntryImportError, match="twice"):
        import_csv(b"handle,Handle\na,b\n")
    assert len(import_csv(HEADER.encode()).entries) == 0


def test_json_import_and_errors() -> None:
    doc = {"entries": [{"platform": "x", "user_id": 7, "handle": "@A", "weight": 2},
                       {"handle": "b", "text": None}]}  # fmt: skip
    result = import_entries(json.dumps(doc).encode(), "json")
    assert result.entries.identities() == ["x/id/7", "/handle/b"]
    assert result.entries.weight == (2, 1)
    for bad, row in [
        ([{"handle": "a"}, 5], 2),
        ([{"text": "no id"}], 1),
        ([{"handle": "a", "weight": 1.5}], 1),
        ([{"handle": ["a"]}], 1),
        ([{"handle": "a", "text": "x" * MAX_ROW_CHARS}], 1),
    ]:
        with pytest.raises(EntryImportError) as err:
            import_json(json.dumps(bad).encode())
        assert err.value.row == row
    with pytest.raises(EntryImportError, match="line 1"):
        import_json(b"[{")
    with pytest.raises(EntryImportError, match="list of objects"):
        import_json(b'{"a": 1}')
    with pytest.raises(EntryImportError, match="unknown format"):
        import_entries(b"", "xml")


def test_timestamps() -> None:
    assert parse_timestamp_ms("1970-01-01T00:00:01.5+00:00") == 1500
    assert parse_timestamp_ms("1970-01-01T01:00:00+01:00") == 0
    assert parse_timestamp_ms("1970-01-01 00:00:02") == 2000  # naive = UTC
    assert parse_timestamp_ms("123") == 123
