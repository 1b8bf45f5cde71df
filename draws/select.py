"""Winner selection: partial Fisher–Yates (unweighted) and a Fenwick walk (weighted).

Why these: both are exact (integers only, no floats, no modulo bias) and both pick without
replacement in a well-defined order, so "winners then alternates" is just the first k and
the next m positions of one sequence. The results are defined mathematically in
docs/fairness.md; any correct implementation gives the same indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from operator import sub

from draws.rng import Drbg


def pick_unweighted(drbg: Drbg, n: int, count: int) -> list[int]:
    """First ``count`` entries of a Fisher–Yates shuffle of ``range(n)``.

    Step i (0-based) swaps position i with position ``i + below(n - i)``; the array is
    virtual (a dict of displaced slots), so memory is O(count), not O(n).
    """
    if not 0 <= count <= n:
        raise ValueError(f"cannot pick {count} of {n}")
    slots: dict[int, int] = {}
    picks: list[int] = []
    for i in range(count):
        j = i + drbg.below(n - i)
        chosen = slots.get(j, j)
        slots[j] = slots.get(i, i)
        picks.append(chosen)
    return picks


class Fenwick:
    """Binary indexed tree over integer weights: prefix sums and a descent in O(log n)."""

    __slots__ = ("_n", "_top", "_tree")

    def __init__(self, weights: Sequence[int]) -> None:
        n = len(weights)
        prefix = [0, *accumulate(weights)]
        tree = [0] * (n + 1)
        step = 1
        while step <= n:
            # node i covers (i - lowbit(i), i]; the nodes with lowbit = step are step·odd
            ends = prefix[step :: 2 * step]
            tree[step :: 2 * step] = list(map(sub, ends, prefix[0 :: 2 * step][: len(ends)]))
            step *= 2
        self._tree = tree
        self._n = n
        self._top = 1 << (n.bit_length() - 1) if n else 0

    def find(self, r: int) -> int:
        """Smallest 0-based index i with prefix_sum(i + 1) > r (r below the total)."""
        pos, rem, tree, step = 0, r, self._tree, self._top
        while step:
            nxt = pos + step
            if nxt <= self._n and tree[nxt] <= rem:
                pos = nxt
                rem -= tree[nxt]
            step >>= 1
        return pos

    def add(self, index: int, delta: int) -> None:
        """Add ``delta`` to the weight at 0-based ``index``."""
        i, tree, n = index + 1, self._tree, self._n
        while i <= n:
            tree[i] += delta
            i += i & -i


def pick_weighted(drbg: Drbg, weights: Sequence[int], count: int) -> list[int]:
    """``count`` indices without replacement, each step proportional to remaining weight.

    Step: r = below(remaining total); pick the smallest remaining index whose running total
    of remaining weights exceeds r; remove it.
    """
    n = len(weights)
    if not 0 <= count <= n:
        raise ValueError(f"cannot pick {count} of {n}")
    if n and min(weights) < 1:
        raise ValueError("weights are positive integers")
    fenwick = Fenwick(weights)
    total = sum(weights)
    picks: list[int] = []
    for _ in range(count):
        i = fenwick.find(drbg.below(total))
        picks.append(i)
        fenwick.add(i, -weights[i])
        total -= weights[i]
    return picks
