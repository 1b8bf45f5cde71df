"""Filters: each reason code, fixed order, waterfall, rules hashing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import Rules, RulesError, apply_rules, import_csv
from draws.filters import _tag_hits

HEADER = "platform,user_id,handle,text,created_at,weight\n"
ROWS = [
    "ig,1,@ann,#Win @x @y,100,1",  # ok
    "ig,2,@bob,#win @x,100,1",  # too few mentions
    "ig,3,@cat,#winner @x @y,100,1",  # missing hashtag (#winner is another tag)
    "ig,1,@ann,#win @x @z,100,1",  # duplicate of row 1
    "ig,4,@spam,#win @x @y,100,1",  # excluded by handle
    "ig,5,@late,#win @x @y,900,1",  # outside window
    "ig,6,@dan,#WIN @Dan @x @y,100,5",  # ok: own mention does not count, case-folded
    "ig,7,@eve,#win @x @y,100,1",  # excluded by identity
]
RULES = Rules(
    required_hashtags=("#Win",),
    min_mentions=2,
    exclude=("@SPAM", "ig/id/7"),
    window_start_ms=50,
    window_end_ms=500,
)


def test_every_dropped_row_has_its_reason_and_waterfall() -> None:
    entries = import_csv((HEADER + "\n".join(ROWS) + "\n").encode()).entries
    result = apply_rules(entries, RULES)
    assert dict(result.dropped) == {
        5: "excluded", 8: "excluded", 6: "outside_window", 3: "missing_hashtag",
        2: "too_few_mentions", 4: "duplicate_user",
    }  # fmt: skip
    assert result.eligible.rows == (1, 7)
    wf = result.waterfall.to_json()
    assert wf["raw"] == 8 and wf["eligible"] == 2 and wf["total_weight"] == 6
    assert [(s["reason"], s["dropped"], s["remaining"]) for s in wf["steps"]] == [
        ("excluded", 2, 6),
        ("outside_window", 1, 5),
        ("missing_hashtag", 1, 4),
        ("too_few_mentions", 1, 3),
        ("duplicate_user", 1, 2),
    ]


def test_duplicates_keep_the_first_valid_entry() -> None:
    rows = ["ig,1,@a,no tag @x @y,100,1", "ig,1,@a,#win @x @y,100,1"]
    entries = import_csv((HEADER + "\n".join(rows) + "\n").encode()).entries
    result = apply_rules(entries, Rules(required_hashtags=("win",)))
    assert result.eligible.rows == (2,)


def test_rules_normalise_hash_and_round_trip() -> None:
    a = Rules(required_hashtags=("#B", "a"), exclude=(" @X ", "ig/id/1"))
    b = Rules(required_hashtags=("A", "b"), exclude=("ig/id/1", "@x"))
    assert a == b and a.digest() == b.digest()
    assert Rules.from_json(a.to_json()) == a
    assert Rules(min_mentions=1).digest() != a.digest()
    with pytest.raises(RulesError):
        Rules.from_json({**a.to_json(), "extra": 1})
    for key, bad in [("one_per_user", 1), ("min_mentions", "2"), ("exclude", "x"),
                     ("window_end_ms", True), ("required_hashtags", [1])]:  # fmt: skip
        with pytest.raises(RulesError):
            Rules.from_json({**a.to_json(), key: bad})
    for bad in (
        {"min_mentions": -1},
        {"window_start_ms": 5, "window_end_ms": 5},
        {"required_hashtags": ("a-b",)},
        {"version": "fairlot-filters/0"},
    ):
        with pytest.raises(RulesError):
            Rules(**bad)


@given(
    st.lists(st.text(alphabet="#ab_ -é\u0301\n", max_size=12), max_size=4), st.sampled_from(["a", "ab", "b_"])
)
@settings(max_examples=400, deadline=None)
def test_hashtag_hits_equal_token_definition(texts: list[str], tag: str) -> None:
    # both paths: texts where "#tag" is never followed by a word character, and others
    assert _tag_hits(tag, texts) == [tag in set(re.findall(r"#(\w+)", t)) for t in texts]
