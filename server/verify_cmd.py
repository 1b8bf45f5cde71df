"""``fairlot verify CERTIFICATE [--entries FILE] [--receipt FILE] [--prev FILE]``.

The file-reading, printing front-end of ``draws.verify``: all the checking lives there (pure,
third-party runnable); this module only reads the files named on the command line, prints
each check with PASS/FAIL/SKIP and the beacon trust level, and sets the exit status:
0 valid, 1 a check failed, 2 a file could not be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from draws.verify import render_text, verify_certificate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fairlot verify",
        description="Verify a fairlot draw certificate offline.",
    )
    parser.add_argument("certificate", help="certificate JSON file")
    parser.add_argument("--entries", help="public leaves file (recomputes root and picks)")
    parser.add_argument("--receipt", help="an entrant's inclusion receipt (JSON)")
    parser.add_argument("--prev", help="the host's previous certificate (checks the chain)")
    parser.add_argument(
        "--backend",
        choices=["auto", "drand-verify", "py-ecc", "both"],
        default="auto",
        help="BLS implementation for the drand check (default: drand-verify, py-ecc fallback)",
    )
    return parser


def _read(path: str | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status argparse chose (--help, bad usage)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def run(argv: list[str]) -> int:
    """Run the verifier on the given arguments; return the process exit status."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        certificate = Path(args.certificate).read_bytes()
        leaves = _read(args.entries)
        receipt = _read(args.receipt)
        previous = _read(args.prev)
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify_certificate(
        certificate, leaves=leaves, receipt=receipt, previous=previous, backend=args.backend
    )
    sys.stdout.write(render_text(report))
    return 0 if report.ok else 1
