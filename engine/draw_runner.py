"""Run the host's side of a draw with its hashing spread over two processes.

Why here and not in draws/: the draws package is pure (no processes, no threads), so its
answers are reproducible byte for byte; this runner only decides *where* the pure
functions run. A million-entry draw costs about five SHA-256 calls per entry (two for the
HMAC salt, the id commitment, the leaf hash, a Merkle node), which one CPython process
cannot do within the 3 s target; two processes can share them:

1. the entries are cut in two; each half's salts, leaves and leaf hashes are computed and
   sorted (by ``leaf || index``) in its own process; the two sorted runs are merged;
2. the sorted leaf hashes are cut at a multiple of ``2**HEIGHT``; each part's Merkle levels
   up to ``HEIGHT`` are built in its own process and joined (``MerkleTree.from_parts``).

The result is the same ``PrivateLeaves`` as ``draws.build_leaves`` (the tests compare
them). Where ``fork`` is unavailable, or the draw is small, it simply calls the pure code.

When the C accelerator ``draws._accel`` is built (the normal install), ``build_leaves``
itself does all of this in C in about a tenth of the time, and a second process would only
add the cost of shipping the results back: the runner then calls it directly. The two
processes remain for installs without a C compiler or OpenSSL headers.
The cyclic garbage collector is paused meanwhile: millions of new objects would otherwise
trigger repeated full collections that find nothing to free.
"""

from __future__ import annotations

import gc
import multiprocessing
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from operator import itemgetter
from typing import Any

from draws import PreparedDraw, PrivateLeaves, build_leaves, prepare_draw
from draws.leaves import ACCELERATED, index_keys, split_keys, unsorted_leaves
from draws.merkle import MerkleTree, hash_leaves, tree_levels

#: Below this many entries one process is faster than forking a second.
MIN_PARALLEL = 50_000
#: Merkle slices are cut at a multiple of 2**HEIGHT leaves and built up to that level.
HEIGHT = 12
#: Share of the entries hashed by the worker (the parent also merges, so it takes less).
WORKER_SHARE = (11, 20)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic GC (reference counting still frees everything) and restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(blob: bytes, size: int) -> list[bytes]:
    """Split a buffer of fixed-size records into a list of records (one C pass)."""
    return list(map(itemgetter(0), struct.iter_unpack(f"{size}s", blob)))


def _half(
    host_secret: bytes, ids: Sequence[bytes], weights: Sequence[int], start: int
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Sorted ``leaf || index`` keys, salts and leaf hashes of entries ``start..``."""
    salts, leaves = unsorted_leaves(host_secret, ids, weights)
    return sorted(index_keys(leaves, start)), salts, hash_leaves(leaves)


def _worker(
    conn: Connection, host_secret: bytes, ids: Sequence[bytes], weights: Sequence[int], start: int
) -> None:
    """Child side: phase 1 on its share, then phase 2 on the hashes the parent sends."""
    keys, salts, hashes = _half(host_secret, ids[start:], weights[start:], start)
    for part in (keys, salts, hashes):
        conn.send_bytes(b"".join(part))
    del keys, salts, hashes
    tail = _chunks(conn.recv_bytes(), 32)
    for level in tree_levels(tail, HEIGHT):
        conn.send_bytes(b"".join(level))
    conn.close()


def build_leaves_parallel(
    host_secret: bytes, identities: Sequence[str], weights: Sequence[int]
) -> PrivateLeaves:
    """``draws.build_leaves`` computed by this process and one forked worker."""
    n = len(identities)
    if ACCELERATED or n < MIN_PARALLEL or "fork" not in multiprocessing.get_all_start_methods():
        return build_leaves(host_secret, identities, weights)
    with paused_gc():
        return _build_in_two(host_secret, identities, weights)


def _build_in_two(host_secret: bytes, identities: Sequence[str], weights: Sequence[int]) -> PrivateLeaves:
    n = len(identities)
    ids = list(map(str.encode, identities))
    start = n - n * WORKER_SHARE[0] // WORKER_SHARE[1]
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_worker, args=(child, host_secret, ids, weights, start), daemon=True)
    proc.start()
    child.close()
    try:
        keys, salts, hashes = _half(host_secret, ids[:start], weights[:start], 0)
        keys += _chunks(parent.recv_bytes(), 44)
        salts += _chunks(parent.recv_bytes(), 32)
        hashes += _chunks(parent.recv_bytes(), 32)
        keys.sort()  # two sorted runs: a linear merge
        sorted_leaves, order = split_keys(keys)
        del keys
        sorted_hashes = list(map(hashes.__getitem__, order))
        cut = (n // 2) >> HEIGHT << HEIGHT
        parent.send_bytes(b"".join(sorted_hashes[cut:]))
        head = tree_levels(sorted_hashes[:cut], HEIGHT)
        tail = [_chunks(parent.recv_bytes(), 32) for _ in range(HEIGHT + 1)]
        tree = MerkleTree.from_parts([head, tail])
    finally:
        parent.close()
        proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"leaf worker exited with {proc.exitcode}")
    return PrivateLeaves(
        leaves=sorted_leaves,
        order=order,
        salts=list(map(salts.__getitem__, order)),
        identities=list(map(ids.__getitem__, order)),
        tree=tree,
    )


def prepare_draw_parallel(**kwargs: Any) -> PreparedDraw:
    """``draws.prepare_draw`` with the leaves built by ``build_leaves_parallel``, GC paused."""
    with paused_gc():
        return prepare_draw(**kwargs, leaf_builder=build_leaves_parallel)
