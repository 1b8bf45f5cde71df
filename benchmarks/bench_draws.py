"""Benchmark: a 1,000,000-entry draw end to end, and the verification of its certificate.

Prints which implementation ran (the C accelerator ``draws._accel``, built by
``pip install -e .``, or the pure-Python code), then, for an unweighted and a weighted draw:
import (CSV bytes -> normalised columns), filter, leaves (salts, commitments, sort, Merkle
tree), commitment (+ Ed25519), draw and certificate, the pipeline total, then verification
of that certificate without and with the public leaves file. Target (docs/fairness.md):
pipeline <= 3 s, verification <= 3 s.

The pipeline runs as a host would run it: ``engine.draw_runner`` (cyclic GC paused; leaves
in C when built, else hashed in two processes). Every run also times the pure one-process
``build_leaves_pure`` on the same entries, so the accelerator's ratio shows; ``--pure``
adds whole draws and verifications with the accelerator switched off (the fallback path).
CPU time includes any worker process's. Verification runs in one process with the GC on,
as ``fairlot verify`` does.

Run: .venv/bin/python benchmarks/bench_draws.py [N] [--pure]
"""

from __future__ import annotations

import gc
import hashlib
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import draws.entries
import draws.filters
import draws.leaves
import draws.merkle
import engine.draw_runner
from draws import (
    QUICKNET,
    BeaconSpec,
    BeaconValue,
    Commitment,
    Rules,
    apply_rules,
    build_leaves,
    certificate_bytes,
    encode_leaves_file,
    import_csv,
    issue_certificate,
    public_key,
    sign_commitment,
    verify_certificate,
)
from draws.host import LeafBuilder, PreparedDraw
from draws.leaves import ACCELERATED, build_leaves_pure
from engine.draw_runner import build_leaves_parallel, paused_gc

T = TypeVar("T")
ROUND = 657413
SIGNATURE = bytes.fromhex(
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
CLOSE_MS = QUICKNET.round_time_ms(ROUND) - 60_000
SIGNING_KEY = hashlib.sha256(b"bench signing key").digest()
HOST_SECRET = hashlib.sha256(b"bench host secret").digest()


def make_csv(n: int) -> bytes:
    """n comments; ~2 % duplicates, ~1 % without the hashtag, a few late ones."""
    base = CLOSE_MS - 86_400_000
    lines = ["platform,user_id,handle,text,created_at,weight"]
    for i in range(n):
        uid = i - 1 if i % 50 == 1 else i
        tag = "" if i % 100 == 7 else " #giveaway"
        ts = base + (i * 86_391) % 86_400_000 + (90_000_000 if i % 997 == 3 else 0)
        lines.append(f"instagram,{uid},@Fan_{uid},Love it{tag} @friend{i % 13} @pal{i % 7},{ts},{i % 5 + 1}")
    return ("\n".join(lines) + "\n").encode()


CPU: dict[str, float] = {}


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (the leaf worker)."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def timed(label: str, fn: Callable[[], T], sink: dict[str, float]) -> T:
    """Wall time into ``sink``; CPU time (ours and the worker's) into ``CPU``."""
    start, cpu = time.perf_counter(), _cpu()
    result = fn()
    sink[label] = time.perf_counter() - start
    CPU[label] = _cpu() - cpu
    return result


def pipeline(
    raw: bytes, weighted: bool, builder: LeafBuilder
) -> tuple[dict[str, float], dict[str, object], bytes]:
    with paused_gc():
        return _pipeline(raw, weighted, builder)


def _pipeline(
    raw: bytes, weighted: bool, builder: LeafBuilder
) -> tuple[dict[str, float], dict[str, object], bytes]:
    t: dict[str, float] = {}
    rules = Rules(required_hashtags=("giveaway",), min_mentions=2, window_end_ms=CLOSE_MS)
    imported = timed("import", lambda: import_csv(raw), t)
    filtered = timed("filter", lambda: apply_rules(imported.entries, rules), t)
    eligible = filtered.eligible
    weights: Sequence[int] = eligible.weight if weighted else (1,) * len(eligible)
    leaves = timed("leaves", lambda: builder(HOST_SECRET, eligible.identities(), weights), t)

    def commit() -> PreparedDraw:
        c = Commitment(
            draw_id="bench",
            host_id="bench-host",
            host_key=public_key(SIGNING_KEY),
            host_seq=1,
            prev_cert_hash=None,
            rules_hash=rules.digest(),
            raw_import_sha256=imported.raw_sha256,
            merkle_root=leaves.root,
            n=len(eligible),
            total_weight=sum(weights),
            weighted=weighted,
            winners=10,
            alternates=10,
            beacon=BeaconSpec.drand(ROUND),
            close_time_ms=CLOSE_MS,
        )
        return PreparedDraw(rules, filtered, leaves, c, sign_commitment(c, SIGNING_KEY))

    prepared = timed("commit", commit, t)
    value = BeaconValue.drand(ROUND, SIGNATURE)
    now = QUICKNET.round_time_ms(ROUND)
    cert = timed(
        "draw+certificate",
        lambda: certificate_bytes(issue_certificate(prepared, value, now, SIGNING_KEY)),
        t,
    )
    t["TOTAL"] = sum(t.values())
    CPU["TOTAL"] = sum(CPU[k] for k in t if k != "TOTAL")
    return t, {"eligible": len(eligible)}, cert + b"\n" + encode_leaves_file(leaves.leaves)


def calibrate(n: int) -> float:
    """Seconds for n bare SHA-256 calls over 41-byte inputs: the floor of this machine.

    A draw needs about 5 such calls per entry (2 for the HMAC salt, 1 id commitment, 1 leaf
    hash, 1 Merkle node), so pipeline / calibration is a load-independent figure.
    """
    data = [i.to_bytes(41, "big") for i in range(n)]
    digest = type(hashlib.sha256()).digest
    start = time.perf_counter()
    list(map(digest, map(hashlib.sha256, data)))
    return time.perf_counter() - start


@contextmanager
def accelerator_off() -> Iterator[None]:
    """Run the pure-Python fallback: every module's handle on ``draws._accel`` set to None."""
    modules = (draws.entries, draws.filters, draws.leaves, draws.merkle)
    saved = [m._accel for m in modules]  # type: ignore[attr-defined]
    for m in modules:
        m._accel = None  # type: ignore[attr-defined]
    engine.draw_runner.ACCELERATED = False
    try:
        yield
    finally:
        for m, accel in zip(modules, saved, strict=True):
            m._accel = accel  # type: ignore[attr-defined]
        engine.draw_runner.ACCELERATED = ACCELERATED


def leaves_ratio(raw: bytes) -> None:
    """The leaves phase on the same eligible entries: accelerated vs pure, one process each."""
    rules = Rules(required_hashtags=("giveaway",), min_mentions=2, window_end_ms=CLOSE_MS)
    eligible = apply_rules(import_csv(raw).entries, rules).eligible
    ids, weights = eligible.identities(), (1,) * len(eligible)
    t: dict[str, float] = {}
    with paused_gc():
        fast = timed("accelerated", lambda: build_leaves(HOST_SECRET, ids, weights), t)
        pure = timed("pure", lambda: build_leaves_pure(HOST_SECRET, ids, weights), t)
    assert fast.root == pure.root and fast.leaves == pure.leaves
    print(
        f"\nleaves phase alone, {len(ids):,} entries, same run: build_leaves {t['accelerated']:.3f} s, "
        f"build_leaves_pure {t['pure']:.3f} s (x{t['pure'] / t['accelerated']:.1f}); same root"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    impl = (
        "accelerated: draws._accel (C, OpenSSL SHA-256)" if ACCELERATED else "pure Python (no draws._accel)"
    )
    print(f"implementation: {impl}")
    runs = [("accelerated" if ACCELERATED else "pure", False)]
    if "--pure" in sys.argv and ACCELERATED:
        runs.append(("pure (accelerator off)", True))
    print(f"generating {n:,} CSV rows ...", flush=True)
    raw = make_csv(n)
    print(f"CSV: {len(raw) / 1e6:.1f} MB")
    cal = min(calibrate(n) for _ in range(3))
    print(f"calibration: {n:,} bare SHA-256 calls take {cal:.3f} s (best of 3)")
    for weighted in (False, True):
        for how, pure in runs:
            gc.collect()
            with accelerator_off() if pure else paused_gc():
                cal = min(cal, run_draw(raw, n, weighted, how, cal))
    if ACCELERATED:
        with paused_gc():
            leaves_ratio(raw)


def run_draw(raw: bytes, n: int, weighted: bool, how: str, cal: float) -> float:
    """One draw and its verification, printed; returns the calibration measured after it."""
    builder: LeafBuilder = build_leaves_parallel
    leaves_how = "draws._accel, one process" if engine.draw_runner.ACCELERATED else "pure, two processes"
    t, info, blob = pipeline(raw, weighted, builder)
    cert, _, leaves_file = blob.partition(b"\n")
    kind = "weighted" if weighted else "unweighted"
    print(f"\n{kind} draw, {n:,} rows -> {info['eligible']:,} eligible; {how}; leaves: {leaves_how}")
    print(f"  {'phase':<18} {'wall':>7}   {'cpu':>7}")
    for label, secs in t.items():
        print(f"  {label:<18} {secs:6.3f} s  {CPU[label]:6.3f} s")
    total_cpu = CPU["TOTAL"]
    print(f"  certificate {len(cert):,} bytes; leaves file {len(leaves_file) / 1e6:.1f} MB")
    v: dict[str, float] = {}
    report = timed("verify", lambda: verify_certificate(cert), v)
    assert report.ok, report
    report_full = timed("verify", lambda: verify_certificate(cert, leaves=leaves_file), t)
    assert report_full.ok and report_full.first_failure is None, report_full
    skipped = [c.name for c in report.checks if c.passed is None]
    print(f"  verify (certificate only)  wall {v['verify']:6.3f} s  (skipped: {skipped})")
    print(
        f"  verify (with leaves file)  wall {t['verify']:6.3f} s  cpu {CPU['verify']:6.3f} s"
        "  (all checks pass)"
    )
    after = min(calibrate(n) for _ in range(2))
    print(f"  calibration after this draw: {after:.3f} s; pipeline cpu {total_cpu:.3f} s")
    cal = min(cal, after)
    print(
        f"  in units of {n:,} bare SHA-256 calls: pipeline {t['TOTAL'] / cal:.1f}, "
        f"verify {t['verify'] / cal:.1f}"
    )
    for what, secs in (("pipeline", t["TOTAL"]), ("verify with leaves", t["verify"])):
        print(f"  {what} {secs:.3f} s <= 3 s: {'met' if secs <= 3.0 else 'NOT met'}")
    return after


if __name__ == "__main__":
    main()
