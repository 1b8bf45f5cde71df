"""The two-process leaf builder gives exactly what the pure ``build_leaves`` gives."""

from __future__ import annotations

import gc
import hashlib

import pytest

from draws import build_leaves
from draws.leaves import build_leaves_pure
from engine import draw_runner
from engine.draw_runner import build_leaves_parallel, paused_gc

SECRET = hashlib.sha256(b"runner").digest()


@pytest.mark.parametrize(("size", "weighted"), [(8_192, False), (9_001, True), (20_000, True)])
def test_parallel_leaves_equal_pure_leaves(
    monkeypatch: pytest.MonkeyPatch, size: int, weighted: bool
) -> None:
    # The two-process path is the one taken without the C accelerator: force it.
    monkeypatch.setattr(draw_runner, "MIN_PARALLEL", 0)
    monkeypatch.setattr(draw_runner, "ACCELERATED", False)
    ids = [f"ig/id/{i * 7919 % size}" for i in range(size)]  # some repeats: ties sort stably
    ids[5] = ids[size - 3]
    weights = [i % 4 + 1 if weighted else 1 for i in range(size)]
    fast = build_leaves_parallel(SECRET, ids, weights)
    for reference in (build_leaves_pure(SECRET, ids, weights), build_leaves(SECRET, ids, weights)):
        assert fast.root == reference.root
        assert fast.leaves == reference.leaves and fast.order == reference.order
        assert fast.salts == reference.salts and fast.identities == reference.identities
        assert fast.tree.levels == reference.tree.levels


def test_small_draws_stay_in_process() -> None:
    ids = [f"ig/id/{i}" for i in range(100)]
    assert build_leaves_parallel(SECRET, ids, [1] * 100).root == build_leaves(SECRET, ids, [1] * 100).root


def test_paused_gc_restores_the_previous_state() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
