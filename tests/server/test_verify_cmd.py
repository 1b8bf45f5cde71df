"""`fairlot verify` front-end: reads files, prints PASS/FAIL per check, exit status."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from draws import canonical, certificate_bytes
from server.verify_cmd import run
from tests.draws.helpers import make_draw


def test_valid_certificate_with_entries_and_receipt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draw = make_draw()
    (tmp_path / "cert.json").write_bytes(draw.cert_bytes)
    (tmp_path / "leaves.bin").write_bytes(draw.leaves_file)
    c = draw.prepared.commitment
    receipt = draw.prepared.leaves.receipt(2).to_json(c.draw_id, c.merkle_root)
    (tmp_path / "receipt.json").write_bytes(canonical(receipt))
    status = run([str(tmp_path / "cert.json"), "--entries", str(tmp_path / "leaves.bin"),
                  "--receipt", str(tmp_path / "receipt.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    checks = "commitment_signature certificate_signature root commitment beacon seed winners"
    for name in [*checks.split(), "alternates", "substitutions", "chain_link", "receipt"]:
        assert f"PASS  {name}" in out
    assert "beacon trust: public" in out and "result: VALID" in out


def test_tampered_certificate_fails_with_non_zero_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = copy.deepcopy(make_draw().cert)
    cert["body"]["seed"] = "00" * 32
    (tmp_path / "cert.json").write_bytes(certificate_bytes(cert))
    assert run([str(tmp_path / "cert.json")]) == 1
    out = capsys.readouterr().out
    assert "FAIL  seed" in out and "first failure: seed" in out


def test_missing_file_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert run([]) == 2
    assert run(["--help"]) == 0
