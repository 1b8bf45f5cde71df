"""Builders shared by the draws tests: a small real draw on the recorded quicknet round."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from draws import (
    QUICKNET,
    BeaconSpec,
    BeaconValue,
    PreparedDraw,
    Rules,
    certificate_bytes,
    encode_leaves_file,
    import_csv,
    issue_certificate,
    prepare_draw,
)
from draws.certificate import seal
from draws.commit import Commitment
from draws.keys import COMMITMENT_TAG, sign

ROUND = 657413
SIGNATURE = bytes.fromhex(
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
RANDOMNESS = bytes.fromhex("fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587")
ROUND_TIME_MS = QUICKNET.round_time_ms(ROUND)
CLOSE_MS = ROUND_TIME_MS - 60_000
SIGNING_KEY = hashlib.sha256(b"test signing key").digest()
HOST_SECRET = hashlib.sha256(b"test host secret").digest()


def sample_csv(n: int = 40) -> bytes:
    rows = ["platform,user_id,handle,text,created_at,weight"]
    for i in range(n):
        tag = "#Giveaway" if i % 9 else "#other"
        rows.append(
            f"instagram,{1000 + i},@Fan{i},I want it {tag} @a{i % 4} @b{i % 3},"
            f"{CLOSE_MS - 3_600_000 + i * 1000},{i % 4 + 1}"
        )
    rows.append(f"instagram,1003,@Fan3,again #giveaway @x @y,{CLOSE_MS - 10},1")
    return ("\n".join(rows) + "\n").encode()


@dataclass
class Draw:
    prepared: PreparedDraw
    cert: dict[str, Any]

    @property
    def cert_bytes(self) -> bytes:
        return certificate_bytes(self.cert)

    @property
    def leaves_file(self) -> bytes:
        return encode_leaves_file(self.prepared.leaves.leaves)


def make_draw(
    *,
    weighted: bool = False,
    host_seq: int = 1,
    prev: bytes | None = None,
    beacon: BeaconSpec | None = None,
    value: BeaconValue | None = None,
    draw_id: str = "draw-1",
    n: int = 40,
) -> Draw:
    prepared = prepare_draw(
        imported=import_csv(sample_csv(n)),
        rules=Rules(required_hashtags=("giveaway",), min_mentions=2, window_end_ms=CLOSE_MS),
        host_secret=HOST_SECRET,
        signing_key=SIGNING_KEY,
        draw_id=draw_id,
        host_id="host-a",
        host_seq=host_seq,
        prev_cert_hash=prev,
        winners=3,
        alternates=3,
        weighted=weighted,
        beacon=beacon or BeaconSpec.drand(ROUND),
        close_time_ms=CLOSE_MS,
    )
    value = value or BeaconValue.drand(ROUND, SIGNATURE)
    cert = issue_certificate(
        prepared, value, ROUND_TIME_MS, SIGNING_KEY, branding={"title": "Summer giveaway"}
    )
    return Draw(prepared, cert)


def resign(cert: dict[str, Any]) -> dict[str, Any]:
    """Re-sign a (tampered) body with the host key: a malicious host, not a bit flip."""
    return seal(cert["body"], SIGNING_KEY)


def resign_commitment(cert: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Change commitment fields and re-sign commitment and certificate (malicious host)."""
    cert = copy.deepcopy(cert)
    c = Commitment.from_json(cert["body"]["commitment"])
    fields = {f: getattr(c, f) for f in c.__dataclass_fields__}
    fields.update(changes)
    c2 = Commitment(**fields)
    cert["body"]["commitment"] = c2.to_json()
    cert["body"]["commitment_hash"] = c2.digest().hex()
    # keys.sign directly: a malicious host skips the checks sign_commitment makes
    cert["body"]["commitment_signature"] = sign(SIGNING_KEY, COMMITMENT_TAG, c2.digest()).hex()
    return resign(cert)


__all__ = ["Draw", "make_draw", "resign", "resign_commitment", "sample_csv"]
