"""The pure packages import no I/O: no asyncio, sockets, stores or web frameworks.

Why a test: purity is what makes replay byte-for-byte and verification offline possible;
one careless import would quietly break both. The check reads the source (every import
statement, including ones inside functions), so it cannot be fooled by lazy imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = ("bidding", "draws", "protocol")
FORBIDDEN = {
    "asyncio", "redis", "asyncpg", "starlette", "uvicorn", "websockets", "socket",
    "engine", "server", "random", "time", "urllib", "http", "subprocess",
    "threading", "multiprocessing", "selectors", "ssl", "httpx",
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


CLOCK_READS = {"now", "utcnow", "today", "time_ns", "monotonic"}


def clock_reads(path: Path) -> set[str]:
    """Calls like ``datetime.now()``: parsing dates is fine, asking the time is not."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
        and isinstance(node.func.value, ast.Name | ast.Attribute)
        and (getattr(node.func.value, "id", None) or getattr(node.func.value, "attr", None))
        in {"datetime", "date"}
    }


def pure_files() -> list[Path]:
    return sorted(p for pkg in PURE for p in (ROOT / pkg).rglob("*.py"))


def test_pure_packages_have_sources() -> None:
    files = pure_files()
    assert {p.relative_to(ROOT).parts[0] for p in files} == set(PURE)


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = imported_modules(path) & FORBIDDEN
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
    reads = clock_reads(path)
    assert not reads, f"{path.relative_to(ROOT)} reads the clock via {sorted(reads)}"


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    import asyncio\n    from redis.asyncio import Redis\n")
    assert imported_modules(sample) >= {"asyncio", "redis"}
    clocky = tmp_path / "c.py"
    clocky.write_text("import datetime\nx = datetime.datetime.now()\n")
    assert clock_reads(clocky) == {"now"}
