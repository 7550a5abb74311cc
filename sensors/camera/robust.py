"""Robust statistics for the crossing solve: medians and Theil-Sen slopes.

Solving one crossing takes a few hundred medians of a few dozen values each
(a slope per body height, a two-group fit per split point); np.median's
checks and dispatch cost ~10x the partition itself at that size.
"""

from __future__ import annotations

import functools

import numpy as np


def theil_sen(t: np.ndarray, e: np.ndarray) -> float:
    """Median of pairwise slopes: a speed that a few bad frames cannot drag."""
    i, j = _pairs(len(t))
    dt = t[j] - t[i]
    ok = dt > 0
    if not ok.any():
        return 0.0
    return median((e[j] - e[i])[ok] / dt[ok])


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j of n samples (the same few lengths come back every frame)."""
    return np.triu_indices(n, 1)


def median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty array without NaNs: the same value, cheaper."""
    n = len(values)
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)
