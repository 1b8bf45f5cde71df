"""Selection: equality with naive references, and statistics (uniform, proportional, no
position bias), each over many deterministic seeds and bounded in time."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from draws import Drbg, pick_unweighted, pick_weighted
from draws.draw import select_picks
from draws.select import Fenwick
from tests.draws.stats import chi_square, critical


def seed(i: int) -> bytes:
    return hashlib.sha256(b"selection seed %d" % i).digest()


def naive_fisher_yates(d: Drbg, n: int, count: int) -> list[int]:
    a = list(range(n))
    for i in range(count):
        j = i + d.below(n - i)
        a[i], a[j] = a[j], a[i]
    return a[:count]


def naive_weighted(d: Drbg, weights: list[int], count: int) -> list[int]:
    remaining = dict(enumerate(weights))
    picks = []
    for _ in range(count):
        r = d.below(sum(remaining.values()))
        for i in sorted(remaining):
            if r < remaining[i]:
                break
            r -= remaining[i]
        picks.append(i)
        del remaining[i]
    return picks


@given(st.integers(0, 10_000), st.integers(1, 60), st.data())
@settings(max_examples=150, deadline=None)
def test_unweighted_matches_naive_shuffle(s: int, n: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(0, n))
    assert pick_unweighted(Drbg(seed(s)), n, count) == naive_fisher_yates(Drbg(seed(s)), n, count)


@given(st.integers(0, 10_000), st.lists(st.integers(1, 50), min_size=1, max_size=40), st.data())
@settings(max_examples=150, deadline=None)
def test_weighted_matches_naive_walk(s: int, weights: list[int], data: st.DataObject) -> None:
    count = data.draw(st.integers(0, len(weights)))
    got = pick_weighted(Drbg(seed(s)), weights, count)
    assert got == naive_weighted(Drbg(seed(s)), weights, count)
    assert len(set(got)) == count


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=70))
@settings(max_examples=100, deadline=None)
def test_fenwick_find_is_the_prefix_sum_search(weights: list[int]) -> None:
    f = Fenwick(weights)
    prefix = list(itertools.accumulate(weights))
    for r in {0, prefix[-1] - 1, *(p - 1 for p in prefix), *prefix[:-1]}:
        i = f.find(r)
        assert prefix[i] > r and (i == 0 or prefix[i - 1] <= r)


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError):
        pick_unweighted(Drbg(seed(0)), 3, 4)
    with pytest.raises(ValueError):
        pick_weighted(Drbg(seed(0)), [1, 2], 3)
    with pytest.raises(ValueError):
        pick_weighted(Drbg(seed(0)), [1, 0], 1)
    with pytest.raises(ValueError):
        select_picks(seed(0), 3, 1, 0, [1, 1])


def test_unweighted_winner_is_uniform_over_seeds() -> None:
    n, trials = 20, 6000
    counts = [0] * n
    for s in range(trials):
        counts[pick_unweighted(Drbg(seed(s)), n, 1)[0]] += 1
    assert chi_square(counts, [trials / n] * n) < critical(n - 1)


def test_no_position_bias() -> None:
    """Every item is equally likely at every position (winners and alternates alike)."""
    n, trials = 8, 4000
    table = [[0] * n for _ in range(n)]
    for s in range(trials):
        for position, item in enumerate(pick_unweighted(Drbg(seed(s)), n, n)):
            table[position][item] += 1
    for position in range(n):
        assert chi_square(table[position], [trials / n] * n) < critical(n - 1)
    observed = [c for row in table for c in row]
    assert chi_square(observed, [trials / n] * (n * n)) < critical(n * n - 1)


def test_weighted_first_pick_is_proportional_to_weight() -> None:
    weights, trials = [1, 2, 3, 4, 10], 6000
    total = sum(weights)
    counts = [0] * len(weights)
    for s in range(trials):
        counts[pick_weighted(Drbg(seed(s)), weights, 1)[0]] += 1
    assert chi_square(counts, [trials * w / total for w in weights]) < critical(len(weights) - 1)


def test_weighted_without_replacement_matches_exact_pair_law() -> None:
    weights, trials = [1, 2, 3, 6], 6000
    total = sum(weights)
    pairs = list(itertools.permutations(range(len(weights)), 2))
    exact = {(i, j): weights[i] / total * weights[j] / (total - weights[i]) for i, j in pairs}
    counts = dict.fromkeys(pairs, 0)
    for s in range(trials):
        i, j = pick_weighted(Drbg(seed(s)), weights, 2)
        counts[(i, j)] += 1
    observed = [counts[p] for p in pairs]
    assert chi_square(observed, [trials * exact[p] for p in pairs]) < critical(len(pairs) - 1)


def test_weighted_position_bias_absent_for_equal_weights() -> None:
    n, trials = 6, 3000
    table = [[0] * n for _ in range(n)]
    for s in range(trials):
        for position, item in enumerate(pick_weighted(Drbg(seed(s)), [7] * n, n)):
            table[position][item] += 1
    for row in table:
        assert chi_square(row, [trials / n] * n) < critical(n - 1)
