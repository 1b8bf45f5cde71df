"""Provably-fair draws: import, filter, commit, beacon, select, certify, verify.

Pure: no I/O, no clock, no ``random``, no floats. ``render_pdf`` is loaded lazily so the
verifier (``draws.verify``) runs with only the standard library and the crypto wheels.
"""

from __future__ import annotations

from typing import Any

from draws.beacon import (
    QUICKNET,
    TRUST_PUBLIC,
    TRUST_WEAK,
    BeaconSpec,
    BeaconValue,
    DrandChain,
    beacon_for_draw,
    check_beacon,
    verify_drand,
)
from draws.canonical import canonical, loads
from draws.certificate import add_substitution, certificate_bytes, certificate_hash, mask_handle
from draws.commit import ALGORITHM, Commitment, sign_commitment, timing_problem
from draws.draw import Picks, derive_seed, select_picks
from draws.entries import Entries, ImportResult, import_csv, import_entries, import_json
from draws.errors import (
    BeaconError,
    BeaconInvalid,
    BeaconNotReady,
    CanonicalJSONError,
    CertificateInvalid,
    CommitmentError,
    DrawError,
    EntryImportError,
    ReceiptInvalid,
    RulesError,
    SubstitutionError,
    WrongRound,
)
from draws.filters import FilterResult, Rules, Waterfall, apply_rules
from draws.host import PreparedDraw, issue_certificate, prepare_draw
from draws.keys import fingerprint, public_key
from draws.leaves import (
    PrivateLeaves,
    Receipt,
    build_leaves,
    check_receipt,
    decode_leaves_file,
    encode_leaves_file,
)
from draws.merkle import MerkleTree, merkle_root, verify_inclusion
from draws.rng import Drbg
from draws.select import pick_unweighted, pick_weighted
from draws.verify import Check, Report, render_text, verify_certificate

__all__ = [
    "ALGORITHM",
    "QUICKNET",
    "TRUST_PUBLIC",
    "TRUST_WEAK",
    "BeaconError",
    "BeaconInvalid",
    "BeaconNotReady",
    "BeaconSpec",
    "BeaconValue",
    "CanonicalJSONError",
    "CertificateInvalid",
    "Check",
    "Commitment",
    "CommitmentError",
    "DrandChain",
    "DrawError",
    "Drbg",
    "Entries",
    "EntryImportError",
    "FilterResult",
    "ImportResult",
    "MerkleTree",
    "Picks",
    "PreparedDraw",
    "PrivateLeaves",
    "Receipt",
    "ReceiptInvalid",
    "Report",
    "Rules",
    "RulesError",
    "SubstitutionError",
    "Waterfall",
    "WrongRound",
    "add_substitution",
    "apply_rules",
    "beacon_for_draw",
    "build_leaves",
    "canonical",
    "certificate_bytes",
    "certificate_hash",
    "check_beacon",
    "check_receipt",
    "decode_leaves_file",
    "derive_seed",
    "encode_leaves_file",
    "fingerprint",
    "import_csv",
    "import_entries",
    "import_json",
    "issue_certificate",
    "loads",
    "mask_handle",
    "merkle_root",
    "pick_unweighted",
    "pick_weighted",
    "prepare_draw",
    "public_key",
    "render_pdf",
    "render_text",
    "select_picks",
    "sign_commitment",
    "timing_problem",
    "verify_certificate",
    "verify_drand",
    "verify_inclusion",
]


def __getattr__(name: str) -> Any:
    """Lazy ``render_pdf``: fpdf2 and segno load only when a PDF is wanted."""
    if name == "render_pdf":
        from draws.pdf import render_pdf

        return render_pdf
    raise AttributeError(f"module 'draws' has no attribute {name!r}")
