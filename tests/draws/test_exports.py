"""Public API: every name in ``draws.__all__`` resolves; the verifier stays light."""

from __future__ import annotations

import subprocess
import sys

import draws


def test_all_names_resolve() -> None:
    for name in draws.__all__:
        assert getattr(draws, name) is not None, name
    assert sorted(draws.__all__) == sorted(set(draws.__all__))


def test_verifier_needs_only_stdlib_and_crypto_wheels() -> None:
    """Importing the verifier (and the package) must not pull in fpdf2 or segno."""
    code = (
        "import sys, draws, draws.verify\n"
        "heavy = {'fpdf', 'segno', 'PIL', 'asyncio'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
