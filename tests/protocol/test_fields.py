"""Field rules: each rule's generated condition accepts and refuses the right values."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.fields import CurrencyCode, HexText, Int, JsonObjectRule, Rule, Text


def holds(rule: Rule, value: Any) -> bool:
    namespace: dict[str, Any] = {}
    condition = rule.condition("v", namespace)
    return bool(eval(condition, namespace, {"v": value}))


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (Text(1, 3), ["a", "abc"], ["", "abcd", 1, None, b"a"]),
        (Int(1, 10), [1, 10], [0, 11, True, 1.0, "1", None]),
        (CurrencyCode(), ["EUR", "USD"], ["eur", "EURO", "EU", "E1R", 978]),
        (HexText(2, 6), ["00", "ab12", "ffffff"], ["", "a", "abc", "AB", "zz", "0" * 8, 12]),
        (JsonObjectRule(), [{}, {"a": [1]}], [[], {1: 2}, {b"k": 1}, None]),
    ],
)
def test_rule_conditions(rule: Rule, good: list[Any], bad: list[Any]) -> None:
    for value in good:
        assert holds(rule, value), value
    for value in bad:
        assert not holds(rule, value), value
    assert rule.describe()


def test_descriptions_name_the_bounds() -> None:
    assert Int(1, 10).describe() == "an integer in [1, 10]"
    assert Text(1, 3).describe() == "a string of 1 to 3 characters"
