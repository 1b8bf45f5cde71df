"""schemathesis against /openapi.json of a real ``fairlot serve``: no 5xx, ever.

Why the CLI in a subprocess: it is how an outsider would fuzz us, and it keeps
schemathesis' own pytest integration out of our suite. Few examples per operation keep
it quick; the full run (``-n 50``) is documented in docs/api.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from server.config import Settings
from tests.liveserver import live_server


def st_command() -> list[str]:
    exe = Path(sys.executable).with_name("st")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("st")
    assert found, "schemathesis (the `st` command) is part of the test extra"
    return [found]


def test_schemathesis_finds_no_server_error(settings: Settings, tmp_path: Path) -> None:
    with live_server(settings, tmp_path) as server:
        result = subprocess.run(
            [
                *st_command(),
                "run",
                f"{server.http}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "8",
                "-H",
                f"Authorization: Bearer {server.token('fuzz-host', 'host')}",
            ],
            capture_output=True,
            text=True,
            timeout=150,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-4000:]
    generated, passed = int(counts.group(1)), int(counts.group(2))
    assert generated >= 100 and passed == generated, output[-4000:]
