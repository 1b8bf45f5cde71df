"""``fairlot verify-transcript TRANSCRIPT``: check an auction transcript offline.

The file-reading, printing front-end of ``bidding.verify_transcript`` (pure; all the
checking lives there: canonical data, the hash chain, a replay through the published
rules, the head, and the stated result recomputed). A verifier fetches the transcript
from ``GET /auctions/{id}/transcript`` once the auction is over and trusts nothing else
of ours. Exit status: 0 valid, 1 a check failed, 2 the file could not be read as JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from bidding.transcript import VerificationReport, verify_transcript
from server.verify_cmd import parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fairlot verify-transcript",
        description="Verify a fairlot auction transcript offline (GET /auctions/{id}/transcript).",
    )
    parser.add_argument("transcript", help="transcript JSON file")
    return parser


def render(report: VerificationReport) -> str:
    lines = [
        f"transcript: {report.stream_id} ({report.kind}), {report.events} events",
        f"head:       {report.head}",
        f"state hash: {report.state_hash}",
        f"final:      {'yes' if report.final else 'no (the auction was still open)'}",
    ]
    for award in report.awards:
        lines.append(f"award (recomputed): {award}")
    for error in report.errors:
        lines.append(f"FAIL  {error}")
    lines.append("VALID" if report.ok else "INVALID")
    return "\n".join(lines) + "\n"


def run(argv: list[str]) -> int:
    """Verify the named transcript; return the process exit status."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    try:
        document = orjson.loads(Path(args.transcript).read_bytes())
    except OSError as exc:
        print(f"error: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except orjson.JSONDecodeError as exc:
        print(f"error: {args.transcript} is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(document, dict):
        print(f"error: {args.transcript} is not a transcript (a JSON object)", file=sys.stderr)
        return 2
    report = verify_transcript(document)
    sys.stdout.write(render(report))
    return 0 if report.ok else 1
