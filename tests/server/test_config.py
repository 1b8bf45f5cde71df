"""Settings from the environment: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.cli import main
from server.config import ConfigError, Settings, from_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_match_the_dataclass() -> None:
    assert from_env({}) == Settings()


def test_values_are_parsed() -> None:
    s = from_env({"PORT": "9001", "FAIRLOT_RATE_USER_PER_S": "2.5", "FAIRLOT_PG_NICE": "0"})
    assert (s.port, s.rate_user_per_s, s.pg_nice) == (9001, 2.5, 0)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PORT", "abc", "PORT must be an integer, got 'abc'"),
        ("FAIRLOT_RATE_IP_PER_S", "fast", "FAIRLOT_RATE_IP_PER_S must be a number"),
        ("FAIRLOT_COMMIT_LINGER_MS", "nan", "FAIRLOT_COMMIT_LINGER_MS must be a finite number"),
        ("FAIRLOT_PG_SCHEMA", "x; drop", "FAIRLOT_PG_SCHEMA must be a plain identifier"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        from_env({name: value})


def test_serve_refuses_a_bad_variable_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("FAIRLOT_SEND_QUEUE_FRAMES", "lots")
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    assert "fairlot: FAIRLOT_SEND_QUEUE_FRAMES must be an integer" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no store was started, nothing written


def test_every_variable_read_is_documented() -> None:
    """docs/configuration.md lists each variable the code reads, and nothing it doesn't."""
    root = DOC.parents[1]
    name = r"((?:FAIRLOT_[A-Z_]+)|REDIS_URL|DATABASE_URL|HOST|PORT)"
    read: set[str] = set()
    for package in ("server", "engine", "bidding", "draws", "protocol"):
        for path in (root / package).rglob("*.py"):
            read |= set(re.findall(f'"{name}"', path.read_text()))
    documented = set(re.findall(f"`{name}`", DOC.read_text()))
    assert read and read == documented
