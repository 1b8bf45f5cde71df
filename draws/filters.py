"""Versioned, deterministic entry filters with a reason code for every dropped row.

Why versioned and hashed: the rules (exclusion list included) go into the commitment before
the beacon round, so a host cannot tune them after seeing who would win. The filters run in
a fixed order (``FILTER_ORDER``); the order is part of the version, because "first valid
entry per user" depends on what the earlier filters removed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import and_, contains, eq, not_, or_, sub
from typing import Any, cast

from draws.canonical import canonical
from draws.entries import Entries
from draws.errors import RulesError

try:
    from draws import _accel
except ImportError:  # not built (see setup.py): the pure code gives the same answers
    _accel = None  # type: ignore[assignment]

RULES_VERSION = "fairlot-filters/1"
EXCLUDED = "excluded"
OUTSIDE_WINDOW = "outside_window"
MISSING_HASHTAG = "missing_hashtag"
TOO_FEW_MENTIONS = "too_few_mentions"
DUPLICATE_USER = "duplicate_user"
FILTER_ORDER = (EXCLUDED, OUTSIDE_WINDOW, MISSING_HASHTAG, TOO_FEW_MENTIONS, DUPLICATE_USER)

_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@(\w+)")
_WORD = re.compile(r"\w+")


def _norm_tag(tag: str) -> str:
    return unicodedata.normalize("NFC", tag).strip().lstrip("#").casefold()


def _norm_exclusion(item: str) -> str:
    item = unicodedata.normalize("NFC", item).strip()
    if item.startswith("@"):
        return "@" + item.lstrip("@").casefold()
    return item


@dataclass(frozen=True, slots=True)
class Rules:
    """What makes an entry eligible. Times are integer ms UTC; the window end is exclusive.

    ``exclude`` holds ``@handle`` items (any platform) or exact identities such as
    ``instagram/id/1234``.
    """

    one_per_user: bool = True
    required_hashtags: tuple[str, ...] = ()
    min_mentions: int = 0
    exclude: tuple[str, ...] = ()
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    version: str = field(default=RULES_VERSION)

    def __post_init__(self) -> None:
        if self.version != RULES_VERSION:
            raise RulesError(f"unknown rules version {self.version!r}")
        if self.min_mentions < 0:
            raise RulesError("min_mentions must be >= 0")
        if (
            self.window_start_ms is not None
            and self.window_end_ms is not None
            and self.window_end_ms <= self.window_start_ms
        ):
            raise RulesError("the time window ends before it starts")
        object.__setattr__(
            self, "required_hashtags", tuple(sorted({_norm_tag(t) for t in self.required_hashtags}))
        )
        object.__setattr__(self, "exclude", tuple(sorted({_norm_exclusion(x) for x in self.exclude})))
        if not all(_WORD.fullmatch(t) for t in self.required_hashtags):
            raise RulesError("a required hashtag is letters, digits or _ (\\w+)")

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON object hashed into the commitment."""
        return {
            "version": self.version,
            "one_per_user": self.one_per_user,
            "required_hashtags": list(self.required_hashtags),
            "min_mentions": self.min_mentions,
            "exclude": list(self.exclude),
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rules:
        """Inverse of ``to_json``; refuses unknown keys so nothing unhashed sneaks in."""
        known = set(cls().to_json())
        if set(data) != known:
            raise RulesError(f"rules keys must be exactly {sorted(known)}")
        one, tags, mentions = data["one_per_user"], data["required_hashtags"], data["min_mentions"]
        exclude, start, end = data["exclude"], data["window_start_ms"], data["window_end_ms"]
        ok = (
            isinstance(one, bool)
            and _str_list(tags)
            and _str_list(exclude)
            and _int_or_none(mentions, allow_none=False)
            and _int_or_none(start)
            and _int_or_none(end)
            and isinstance(data["version"], str)
        )
        if not ok:
            raise RulesError("malformed rules: wrong value types")
        return cls(one, tuple(tags), mentions, tuple(exclude), start, end, data["version"])

    def digest(self) -> bytes:
        """SHA-256 of the canonical JSON of the rules."""
        return hashlib.sha256(canonical(self.to_json())).digest()


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _int_or_none(value: Any, allow_none: bool = True) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Waterfall:
    """Counts from the raw import down to the eligible set, step by step."""

    raw: int
    steps: tuple[tuple[str, int, int], ...]  # (reason code, dropped, remaining)
    eligible: int
    total_weight: int

    def to_json(self) -> dict[str, Any]:
        """JSON form carried (host-asserted) in the certificate."""
        return {
            "raw": self.raw,
            "steps": [{"reason": r, "dropped": d, "remaining": k} for r, d, k in self.steps],
            "eligible": self.eligible,
            "total_weight": self.total_weight,
        }


@dataclass(frozen=True, slots=True)
class FilterResult:
    """Eligible entries, every dropped source row with its reason, and the waterfall."""

    eligible: Entries
    dropped: tuple[tuple[int, str], ...]
    waterfall: Waterfall


def _tag_hits(tag: str, texts: list[str]) -> list[bool]:
    """Which case-folded texts carry ``#tag`` as a whole hashtag (not followed by ``\\w``).

    Same answer as "tag is among the \\w+ runs after a '#'" (tags are \\w+ only). When no
    text has ``#tag`` followed by a word character (one search over all texts at once),
    a plain substring test per text decides, which is several times cheaper than a regex.
    """
    marker = "#" + tag
    if re.search(re.escape(marker) + r"(?=\w)", "\n".join(texts)) is None:
        return list(map(contains, texts, repeat(marker)))
    whole = re.compile(re.escape(marker) + r"(?!\w)").search
    return [whole(t) is not None for t in texts]


def text_verdicts_pure(
    texts: Sequence[str], handles: Sequence[str], tags: Sequence[str], need: int
) -> tuple[bytes, bytes]:
    """Per text, 1 or 0: has every required hashtag; has ``need`` distinct mentions.

    The rule (docs/fairness.md): the text is case-folded; a hashtag is ``#`` + ``\\w+``,
    a mention ``@`` + ``\\w+``; the entrant's own handle does not count as a mention.
    """
    folded = list(map(str.casefold, texts))
    tag_ok: list[bool] = [True] * len(folded)
    for tag in tags:
        tag_ok = list(map(and_, tag_ok, _tag_hits(tag, folded)))
    if not need:
        return bytes(tag_ok), b"\x01" * len(folded)
    found = list(map(set, map(_MENTION.findall, folded)))
    own = map(set.__contains__, found, handles)
    # distinct mentions minus the entrant's own handle >= need (a bool counts 0 or 1)
    return bytes(tag_ok), bytes(map(need.__le__, map(sub, map(len, found), own)))


_FLIP = bytes([1]) + bytes(255)  # 0 -> 1, anything else -> 0
_BOOL = bytes([0]) + bytes([1]) * 255  # 0 -> 0, anything else -> 1
_TAG_BIT = bytes(b & 1 for b in range(256))
_MENTION_BIT = bytes(b >> 1 & 1 for b in range(256))


def text_verdicts(
    texts: Sequence[str], handles: Sequence[str], tags: Sequence[str], need: int
) -> tuple[bytes, bytes]:
    """``text_verdicts_pure``; ASCII texts are decided in C when the accelerator is built."""
    if _accel is None:
        return text_verdicts_pure(texts, handles, tags, need)
    codes = _accel.text_verdicts(texts, handles, tags, need)
    tag_ok, mention_ok = codes.translate(_TAG_BIT), codes.translate(_MENTION_BIT)
    if 0xFF not in codes:
        return tag_ok, mention_ok
    rest = [i for i, code in enumerate(codes) if code == 0xFF]  # non-ASCII: the pure rule
    rest_tags, rest_mentions = text_verdicts_pure(
        list(map(texts.__getitem__, rest)), list(map(handles.__getitem__, rest)), tags, need
    )
    tags_out, mentions_out = bytearray(tag_ok), bytearray(mention_ok)
    for i, t, m in zip(rest, rest_tags, rest_mentions, strict=True):
        tags_out[i], mentions_out[i] = t, m
    return bytes(tags_out), bytes(mentions_out)


def first_occurrences_pure(items: Sequence[str], alive: bytes | None = None) -> bytes:
    """1 where ``items[i]`` equals no earlier item, else 0.

    With ``alive`` (0/1 per item) only the alive items take part; the others get 0.
    """
    if alive is not None:
        positions = list(compress(range(len(items)), alive))
        firsts = first_occurrences_pure(list(map(items.__getitem__, positions)))
        out = bytearray(alive.translate(_BOOL))
        for i in compress(positions, firsts.translate(_FLIP)):  # the (few) repeats
            out[i] = 0
        return bytes(out)
    first: dict[str, int] = {}  # setdefault keeps the first position of each item and returns it
    return bytes(map(eq, map(first.setdefault, items, range(len(items))), range(len(items))))


def first_occurrences(items: Sequence[str], alive: bytes | None = None) -> bytes:
    """``first_occurrences_pure``, in C when the accelerator is built."""
    return first_occurrences_pure(items, alive) if _accel is None else _accel.first_occurrences(items, alive)


def _both(a: bytes, b: bytes) -> bytes:
    """Byte-wise AND of two 0/1 masks of one length, as one big-integer AND (no loop per row)."""
    return (int.from_bytes(a, "big") & int.from_bytes(b, "big")).to_bytes(len(a), "big")


def apply_rules(entries: Entries, rules: Rules) -> FilterResult:
    """Run the filters in ``FILTER_ORDER``; deterministic for given entries and rules.

    Each filter's verdict on an entry depends on that entry alone, except "one per user",
    which looks at the entries still alive. So every verdict is one 0/1 mask over all the
    entries, computed column-wise, and the steps only AND masks together (and name the
    rows a step drops): no list of survivors is rebuilt per step.
    """
    n = len(entries)
    alive = b"\x01" * n
    left = n
    dropped: list[tuple[int, str]] = []
    steps: list[tuple[str, int, int]] = []
    rows = entries.rows

    def step(reason: str, keep: bytes) -> None:
        """Drop the alive entries whose ``keep`` byte is 0."""
        nonlocal alive, left
        flags = keep.translate(_BOOL)
        gone = _both(alive, flags.translate(_FLIP))
        alive = _both(alive, flags)
        survivors = alive.count(1)
        dropped.extend(zip(map(rows.__getitem__, compress(range(n), gone)), repeat(reason)))
        steps.append((reason, left - survivors, survivors))
        left = survivors

    with_ids = bool(rules.exclude) or rules.one_per_user
    identities = entries.identities() if with_ids else []  # built once, kept by the eligible

    if rules.exclude:
        handles = {x[1:] for x in rules.exclude if x.startswith("@")}
        ids = {x for x in rules.exclude if not x.startswith("@")}
        listed = map(or_, map(handles.__contains__, entries.handle), map(ids.__contains__, identities))
        step(EXCLUDED, bytes(map(not_, listed)))
    if rules.window_start_ms is not None or rules.window_end_ms is not None:
        lo = rules.window_start_ms
        hi = rules.window_end_ms
        ts = entries.created_at_ms
        if None in ts:
            keep = bytes(t is not None and (lo is None or t >= lo) and (hi is None or t < hi) for t in ts)
        else:  # every row has a time: compare in C
            known = cast(tuple[int, ...], ts)
            keep = bytes(map(hi.__gt__, known)) if hi is not None else b"\x01" * n
            if lo is not None:
                keep = _both(keep, bytes(map(lo.__le__, known)))
        step(OUTSIDE_WINDOW, keep)
    if rules.required_hashtags or rules.min_mentions:
        # each text's verdicts depend on that entry alone: decide both, then apply in order
        tags, need = rules.required_hashtags, rules.min_mentions
        tag_ok, mention_ok = text_verdicts(entries.text, entries.handle, tags, need)
        if rules.required_hashtags:
            step(MISSING_HASHTAG, tag_ok)
        if rules.min_mentions:
            step(TOO_FEW_MENTIONS, mention_ok)
    if rules.one_per_user:
        step(DUPLICATE_USER, first_occurrences(identities, alive))
    eligible = entries.select(alive, identities if with_ids else None)
    total = sum(eligible.weight)
    waterfall = Waterfall(n, tuple(steps), left, total)
    return FilterResult(eligible, tuple(dropped), waterfall)
