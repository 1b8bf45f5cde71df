"""Substitutions: next unused alternate, in order; refusals."""

from __future__ import annotations

import pytest

from draws import SubstitutionError, add_substitution, mask_handle
from tests.draws.helpers import SIGNING_KEY, make_draw


def test_substitutions_take_alternates_in_order_until_none_left() -> None:
    draw = make_draw()
    cert = draw.cert
    alternates = [p["index"] for p in cert["body"]["alternates"]]
    for k in range(3):
        cert = add_substitution(cert, k % 3, "declined", 10 + k, SIGNING_KEY)
        assert cert["substitutions"][-1]["event"]["alternate_index"] == alternates[k]
    with pytest.raises(SubstitutionError, match="no unused alternate"):
        add_substitution(cert, 0, "declined", 99, SIGNING_KEY)
    with pytest.raises(SubstitutionError, match="slot"):
        add_substitution(draw.cert, 3, "declined", 1, SIGNING_KEY)
    with pytest.raises(SubstitutionError, match="reason"):
        add_substitution(draw.cert, 0, "Because I said so", 1, SIGNING_KEY)
    assert draw.cert["substitutions"] == []  # the original document is untouched


def test_mask_handle() -> None:
    assert mask_handle("johnsmith") == "jo******h"
    assert mask_handle("anna") == "a**a"
    assert mask_handle("al") == "a*"
