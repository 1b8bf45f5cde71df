"""Import entries (CSV or JSON exports of comments), keep the raw bytes' hash, normalise.

Why columnar: a draw may hold a million rows; one Python object per row costs seconds,
while list-wide ``map`` over builtins runs at C speed. Every error names the row (and for
CSV the physical line) so a host can fix the export instead of guessing.

Normalisation (the spec is docs/fairness.md section 2): every text field is Unicode NFC and
trimmed; a handle also loses leading "@" and is case-folded; a platform is case-folded and
limited to ``[a-z0-9_.-]``. The identity of an entrant prefers the platform's stable user id
over the handle (handles change, ids do not).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import add, methodcaller
from typing import Any, cast

from draws.errors import EntryImportError

try:
    from draws import _accel
except ImportError:  # not built (see setup.py): the pure code gives the same answers
    _accel = None  # type: ignore[assignment]

COLUMNS = ("platform", "user_id", "handle", "text", "created_at", "weight")
#: A record longer than this (characters) is refused: real comments are far shorter, and
#: a runaway quote in a CSV otherwise swallows the rest of the file into one "row".
MAX_ROW_CHARS = 65_536
MAX_WEIGHT = 1_000_000_000
_PLATFORM = re.compile(r"[a-z0-9_.\-]{0,32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_STRIP_AT = methodcaller("lstrip", "@")


@dataclass(frozen=True, slots=True)
class Entries:
    """Normalised entries, one tuple per column; ``rows[i]`` is entry i's 1-based source row."""

    rows: tuple[int, ...]
    platform: tuple[str, ...]
    user_id: tuple[str, ...]
    handle: tuple[str, ...]
    text: tuple[str, ...]
    created_at_ms: tuple[int | None, ...]
    weight: tuple[int, ...]
    #: ``identities()`` when already known (``select`` passes them on; not part of equality)
    known_identities: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def identities(self) -> list[str]:
        """Identity strings: ``platform/id/<user_id>``, else ``platform/handle/<handle>``."""
        if self.known_identities is not None:
            return list(self.known_identities)
        if "" not in self.user_id:  # the usual case: every row has an id; concatenate in C
            if len(set(self.platform)) == 1:  # one export, one platform: one concatenation
                prefix = self.platform[0] + "/id/"
                if _accel is not None:
                    return _accel.prefixed(prefix, self.user_id)
                return list(map(prefix.__add__, self.user_id))
            return list(map(add, map(add, self.platform, repeat("/id/")), self.user_id))
        return [
            f"{p}/id/{u}" if u else f"{p}/handle/{h}"
            for p, u, h in zip(self.platform, self.user_id, self.handle, strict=True)
        ]

    def select(self, mask: bytes, identities: Sequence[str] | None = None) -> Entries:
        """The entries whose ``mask`` byte is not 0, in order (used by the filters).

        ``identities``, if given, must be ``self.identities()``: the result then keeps its
        own instead of building them again.
        """
        if len(mask) != len(self):
            raise ValueError("one mask byte per entry")
        columns: list[Sequence[Any]] = [
            self.rows, self.platform, self.user_id, self.handle, self.text, self.created_at_ms, self.weight,
        ]  # fmt: skip
        if identities is not None:
            columns.append(identities)
        if mask.count(0) == 0:  # nothing dropped: share the columns
            picked: list[tuple[Any, ...]] = [c if isinstance(c, tuple) else tuple(c) for c in columns]
        elif _accel is not None:
            picked = _accel.select(columns, mask)
        else:
            picked = [tuple(compress(c, mask)) for c in columns]
        rows, platform, user_id, handle, text, created_at_ms, weight, *known = picked
        return Entries(rows, platform, user_id, handle, text, created_at_ms, weight, *known)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Parsed entries plus the SHA-256 of the exact bytes they came from."""

    raw_sha256: bytes
    source_format: str
    entries: Entries


def parse_timestamp_ms(value: str) -> int:
    """Integer milliseconds since the epoch from ``1700000000000`` or ISO 8601.

    An ISO time without an offset is taken as UTC (documented; exports rarely say).
    """
    if value.isascii() and value.isdigit():
        return int(value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _MS


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise EntryImportError(
            f"line {line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "export the file as UTF-8",
            row=max(line - 1, 1),
        ) from exc
    return text.removeprefix("\ufeff")


def _split_fast(text: str, strip: bool = False) -> tuple[list[str], list[list[str]]] | None:
    """Quote-free, LF-only CSV split column-wise at C speed; None means use the csv module.

    With ``strip`` every field comes back as ``str.strip`` makes it (done in C when built).
    """
    if '"' in text or "\r" in text:
        return None
    if _accel is not None and text:
        end = text.find("\n")
        header = (text if end < 0 else text[:end]).split(",")
        start = len(text) if end < 0 else end + 1
        columns = _accel.split_csv(text, start, len(header), MAX_ROW_CHARS, strip)
        return None if columns is None else (header, columns)
    split = _split_fast_pure(text)
    if split is None or not strip:
        return split
    return split[0], [list(map(str.strip, column)) for column in split[1]]


def _split_fast_pure(text: str) -> tuple[list[str], list[list[str]]] | None:
    """``_split_fast`` in Python only (the reference for ``draws._accel.split_csv``)."""
    if '"' in text or "\r" in text:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return None
    header = lines[0].split(",")
    body = lines[1:]
    if body and set(map(str.count, body, repeat(","))) != {len(header) - 1}:
        return None
    if body and max(map(len, body)) > MAX_ROW_CHARS:
        return None
    flat = ",".join(body).split(",") if body else []
    return header, [flat[j :: len(header)] for j in range(len(header))]


def _split_csv(text: str) -> tuple[list[str], list[list[str]], list[int]]:
    """General CSV via the csv module; also returns the physical line of each row."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    start_line = 1
    try:
        for record in reader:
            if header is None:
                header = record
                start_line = reader.line_num + 1
                continue
            if not record:
                start_line = reader.line_num + 1
                continue
            row = len(records) + 1
            if sum(map(len, record)) > MAX_ROW_CHARS:
                raise EntryImportError(
                    f"line {start_line}: row longer than {MAX_ROW_CHARS} characters (a runaway quote?)",
                    row=row,
                )
            if len(record) != len(header):
                raise EntryImportError(
                    f"line {start_line}: expected {len(header)} columns, found {len(record)}",
                    row=row,
                )
            records.append(record)
            lines.append(start_line)
            start_line = reader.line_num + 1
    except csv.Error as exc:
        raise EntryImportError(
            f"line {reader.line_num}: malformed CSV ({exc})", row=len(records) + 1
        ) from exc
    if header is None:
        raise EntryImportError("empty file: no header row")
    columns = [list(col) for col in zip(*records, strict=True)] or [[] for _ in header]
    return header, columns, lines


def _header_index(header: Sequence[str]) -> dict[str, int]:
    names = [unicodedata.normalize("NFC", h).strip().casefold() for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in index:
            raise EntryImportError(f"header: column {name!r} appears twice")
        index[name] = i
    if "user_id" not in index and "handle" not in index:
        raise EntryImportError(f"header: missing columns, need user_id or handle (found {', '.join(names)})")
    return index


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _nfc_strip(column: list[str], already_nfc: bool, stripped: bool) -> list[str]:
    if stripped:  # NFC already (the caller checked the whole text) and stripped by the split
        return column
    if not already_nfc:
        column = list(map(_nfc, column))
    return list(map(str.strip, column))


def _all_digits(column: list[str]) -> bool:
    """True when every value is a non-empty run of ASCII digits (checked in C, not per row)."""
    joined = "".join(column)
    return bool(column) and "" not in column and joined.isascii() and joined.isdigit()


def _convert(column: Sequence[str], convert: Callable[[str], Any], what: str) -> list[Any]:
    """Convert each distinct value once (values repeat a lot), naming the first bad row."""
    if convert is _timestamp:
        if _accel is not None:
            ints = _accel.digits_to_ints(column)
            if ints is not None:
                return ints
        elif _all_digits(column):
            return list(map(int, column))
    table: dict[str, Any] = {}
    for value in set(column):
        try:
            table[value] = convert(value)
        except (ValueError, OverflowError) as exc:
            row = column.index(value) + 1
            raise EntryImportError(f"bad {what} {value!r} ({exc})", row=row) from exc
    if len(table) == 1:  # one value throughout (one platform): no lookup per row
        return [*table.values()] * len(column)
    return list(map(table.__getitem__, column))


def _weight(value: str) -> int:
    if value == "":
        return 1
    if not (value.isascii() and value.isdigit()):
        raise ValueError("a weight is a whole number")
    weight = int(value)
    if not 1 <= weight <= MAX_WEIGHT:
        raise ValueError(f"a weight is between 1 and {MAX_WEIGHT}")
    return weight


def _timestamp(value: str) -> int | None:
    return None if value == "" else parse_timestamp_ms(value)


def _platform(value: str) -> str:
    folded = value.casefold()
    if not _PLATFORM.fullmatch(folded):
        raise ValueError("a platform name is up to 32 of a-z 0-9 _ . -")
    return folded


def handles_pure(column: Sequence[str]) -> list[str]:
    """Handles as compared: leading "@" removed, case-folded (in C when built)."""
    return list(map(str.casefold, map(_STRIP_AT, column)))


def _build(
    header: Sequence[str],
    columns: list[list[str]],
    already_nfc: bool,
    rows: Sequence[int],
    stripped: bool = False,
) -> Entries:
    index = _header_index(header)
    n = len(columns[0]) if columns else 0
    blank = [""] * n

    def column(name: str) -> list[str]:
        return _nfc_strip(columns[index[name]], already_nfc, stripped) if name in index else blank

    user_id = column("user_id")
    handle = handles_pure(column("handle")) if _accel is None else _accel.handles(column("handle"))
    if "" in user_id:  # rare: only then look for a row with neither id nor handle
        for i, (u, h) in enumerate(zip(user_id, handle, strict=True)):
            if not (u or h):
                raise EntryImportError("no user_id and no handle: cannot tell who entered", i + 1)
    return Entries(
        rows=tuple(rows),
        platform=tuple(_convert(column("platform"), _platform, "platform")),
        user_id=tuple(user_id),
        handle=tuple(handle),
        text=tuple(column("text")),
        created_at_ms=tuple(_convert(column("created_at"), _timestamp, "created_at")),
        weight=tuple(_convert(column("weight"), _weight, "weight")),
    )


#: How ``_accel.split_ascii`` returns each known column (others: ``-``, not at all).
_KINDS = {"platform": "s", "user_id": "s", "handle": "h", "text": "s", "created_at": "i", "weight": "i"}


def _import_ascii(raw: bytes) -> ImportResult | None:
    """The usual export (ASCII, no quotes, LF line ends) in one C pass; None: not that case.

    Gives what the general path gives for the same bytes (tests/draws/test_accel.py): the
    columns come out stripped, handles normalised and times and weights as integers, so no
    intermediate column of strings is built; the SHA-256 of the bytes runs meanwhile.
    """
    end = raw.find(b"\n")
    if _accel is None or end < 0:
        return None
    try:
        head = _decode(raw[:end])
        index = _header_index(head.split(","))
    except EntryImportError:  # the general path reports it (or an earlier error)
        return None
    if '"' in head or "\r" in head:
        return None
    header = head.split(",")
    kinds = ["-"] * len(header)
    for name, j in index.items():
        kinds[j] = _KINDS.get(name, "-")
    split = _accel.split_ascii(raw, end + 1, "".join(kinds).encode(), MAX_ROW_CHARS, True)
    if split is None:
        return None
    digest, found = split
    n = len(next((c for c in found if c is not None), ()))

    def strings(j: int) -> list[str]:
        """Column j as stripped strings (a second, rarely needed pass)."""
        only = ["-"] * len(header)
        only[j] = "s"
        again = _accel.split_ascii(raw, end + 1, "".join(only).encode(), MAX_ROW_CHARS, False)
        values = None if again is None else again[1][j]
        if values is None:  # pragma: no cover - the same bytes were accepted a moment ago
            raise AssertionError("split_ascii changed its mind")
        return list(values)

    def column(name: str, convert: Callable[[str], Any] | None = None) -> tuple[Any, ...]:
        if name not in index:
            blank = [""] * n
            return tuple(blank if convert is None else _convert(blank, convert, name))
        j = index[name]
        values = found[j]
        if name == "weight" and values and not 1 <= min(values) <= max(values) <= MAX_WEIGHT:
            values = None  # out of range: the general conversion names the row
        if values is None:  # an integer column holding other values: convert the general way
            return tuple(_convert(strings(j), cast(Callable[[str], Any], convert), name))
        return values if convert is None or kinds[j] == "i" else tuple(_convert(values, convert, name))

    user_id = column("user_id")
    handle = column("handle")
    if "" in user_id:  # rare: only then look for a row with neither id nor handle
        for i, (u, h) in enumerate(zip(user_id, handle, strict=True)):
            if not (u or h):
                raise EntryImportError("no user_id and no handle: cannot tell who entered", i + 1)
    entries = Entries(
        rows=tuple(range(1, n + 1)),
        platform=column("platform", _platform),
        user_id=user_id,
        handle=handle,
        text=column("text"),
        created_at_ms=column("created_at", _timestamp),
        weight=column("weight", _weight),
    )
    return ImportResult(cast(bytes, digest), "csv", entries)


def import_csv(raw: bytes) -> ImportResult:
    """Parse a UTF-8 CSV export with a header row (columns: see ``COLUMNS``; extras ignored)."""
    one_pass = _import_ascii(raw)
    if one_pass is not None:
        return one_pass
    digest = hashlib.sha256(raw).digest()
    text = _decode(raw)
    already_nfc = unicodedata.is_normalized("NFC", text)
    fast = _split_fast(text, strip=already_nfc)  # NFC, then strip: only NFC text strips early
    if fast is not None:
        header, columns = fast
        rows: Sequence[int] = range(1, len(columns[0]) + 1)
    else:
        header, columns, _lines = _split_csv(text)
        rows = range(1, len(columns[0]) + 1) if columns else range(0)
    stripped = fast is not None and already_nfc
    return ImportResult(digest, "csv", _build(header, columns, already_nfc, rows, stripped))


def _json_field(value: Any, name: str, row: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise EntryImportError(f"field {name!r} must be a string or an integer", row=row)


def import_json(raw: bytes) -> ImportResult:
    """Parse a JSON export: a list of objects, or ``{"entries": [...]}``."""
    digest = hashlib.sha256(raw).digest()
    text = _decode(raw)
    try:
        doc = json.loads(text, parse_float=str, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise EntryImportError(f"line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if isinstance(doc, dict) and isinstance(doc.get("entries"), list):
        doc = doc["entries"]
    if not isinstance(doc, list):
        raise EntryImportError('expected a list of objects or {"entries": [...]}')
    columns: list[list[str]] = [[] for _ in COLUMNS]
    for row, item in enumerate(doc, start=1):
        if not isinstance(item, dict):
            raise EntryImportError("each entry must be an object", row=row)
        if "user_id" not in item and "handle" not in item:
            raise EntryImportError("missing columns: need user_id or handle", row=row)
        if len(json.dumps(item, ensure_ascii=False)) > MAX_ROW_CHARS:
            raise EntryImportError(f"row longer than {MAX_ROW_CHARS} characters", row=row)
        for j, name in enumerate(COLUMNS):
            columns[j].append(_json_field(item.get(name), name, row))
    return ImportResult(digest, "json", _build(COLUMNS, columns, False, range(1, len(doc) + 1)))


def import_entries(raw: bytes, source_format: str) -> ImportResult:
    """Dispatch on ``"csv"`` or ``"json"``."""
    if source_format == "csv":
        return import_csv(raw)
    if source_format == "json":
        return import_json(raw)
    raise EntryImportError(f"unknown format {source_format!r} (csv or json)")
