"""Chi-square helpers for the statistical tests (floats are fine here, never in draws/)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def chi_square(observed: Sequence[int], expected: Sequence[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def critical(df: int, z: float = 3.719) -> float:
    """Wilson–Hilferty upper quantile; z = 3.719 is p = 1e-4 (deterministic seeds anyway)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
