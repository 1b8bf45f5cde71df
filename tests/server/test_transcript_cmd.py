"""``fairlot verify-transcript``: exit 0 for a valid transcript, 1 for a tampered one,
2 for a file that is not a readable JSON object; what it prints names the failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.cli import main
from tests.bidding.test_transcript import english_transcript


def write(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_valid_transcript_exits_0_with_its_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify-transcript", write(tmp_path, english_transcript())]) == 0
    out = capsys.readouterr().out
    assert "lot-9 (english), 4 events" in out and "'bidder': 'ann', 'price': 550" in out
    assert out.rstrip().endswith("VALID")


def test_a_tampered_transcript_exits_1_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = english_transcript()
    doc["result"]["awards"][0]["price"] = 500
    assert main(["verify-transcript", write(tmp_path, doc)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  stated result differs from the recomputed result" in out and out.rstrip().endswith(
        "INVALID"
    )


def test_unreadable_or_not_json_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-transcript", str(tmp_path / "missing.json")]) == 2
    (tmp_path / "bad.json").write_text("{nope")
    assert main(["verify-transcript", str(tmp_path / "bad.json")]) == 2
    assert main(["verify-transcript", write(tmp_path, [1, 2])]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "is not JSON" in err and "is not a transcript" in err
