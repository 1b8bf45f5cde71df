"""One error tree for draws: every failure a host or verifier can hit has a named class.

Why a tree: callers (the engine, the REST layer, the CLI) map errors to codes in one place;
each class carries a stable machine ``code`` so a message can change without breaking them.
"""

from __future__ import annotations


class DrawError(Exception):
    """Base of every error raised by the draws package."""

    code = "draw_error"


class CanonicalJSONError(DrawError, ValueError):
    """A value cannot be written (or read) as the canonical JSON subset we use."""

    code = "canonical_json"


class EntryImportError(DrawError, ValueError):
    """An entries file is unusable; ``row`` names the 1-based data row (0 = whole file)."""

    code = "entry_import"

    def __init__(self, message: str, row: int = 0) -> None:
        self.row = row
        where = f"row {row}: " if row else ""
        super().__init__(f"{where}{message}")


class RulesError(DrawError, ValueError):
    """Filter rules are malformed (unknown version, bad window, negative counts)."""

    code = "rules"


class CommitmentError(DrawError, ValueError):
    """A commitment cannot be built: bad sizes, bad target round, missing fields."""

    code = "commitment"


class BeaconError(DrawError):
    """Base for beacon problems."""

    code = "beacon"


class BeaconNotReady(BeaconError):
    """The target round (or reveal time) has not happened yet: no draw is possible."""

    code = "beacon_not_ready"


class WrongRound(BeaconError, ValueError):
    """A beacon value for another round than the committed target round was offered."""

    code = "beacon_wrong_round"


class BeaconInvalid(BeaconError, ValueError):
    """A beacon value does not verify (bad BLS signature, bad reveal, malformed hex)."""

    code = "beacon_invalid"


class SubstitutionError(DrawError, ValueError):
    """A substitution is not allowed (bad position, no alternate left, bad reason)."""

    code = "substitution"


class CertificateInvalid(DrawError, ValueError):
    """A certificate document is malformed (not a verification failure: unreadable)."""

    code = "certificate_invalid"


class ReceiptInvalid(DrawError, ValueError):
    """An inclusion receipt is malformed."""

    code = "receipt_invalid"
