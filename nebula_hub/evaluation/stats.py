"""Confidence intervals for benchmark scores: Wilson for a proportion of independent pass/fail items, a seeded
percentile bootstrap over items for everything else (averages over samples, instruction-level ratios, pass@k), and a
normal combination of per-benchmark standard errors for the suite average.

Written with numpy because scipy (which has `stats.bootstrap` and `binomtest(...).proportion_ci`) is not one of our
dependencies and these are a few lines each.

Example:
    >>> lo, hi = wilson_interval(7, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.397, 0.892)
"""

import math
from collections.abc import Sequence

import numpy as np


Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of `successes` out of `n` (0.95 by default); `(0, 1)` for `n == 0`.

    Example:
        >>> wilson_interval(0, 10)[1] > 0
        True
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The bounds are exactly 0 and 1 at the ends; the formula leaves float dust there.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def bootstrap_interval(
    values: Sequence[float],
    weights: Sequence[float] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap of `sum(values) / sum(weights)` (the mean when `weights` is None), resampling items.

    Example:
        >>> bootstrap_interval([1, 1, 1, 1])
        (1.0, 1.0)
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return 0.0, 1.0
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_resamples, v.size))
    totals = w[idx].sum(axis=1)
    stats = np.divide(v[idx].sum(axis=1), totals, out=np.zeros(n_resamples), where=totals > 0)
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def standard_error(interval: tuple[float, float], z: float = Z95) -> float:
    """The standard error a 95% interval implies (half its width over z)."""
    return (interval[1] - interval[0]) / (2 * z)


def average_interval(values: Sequence[float], intervals: Sequence[tuple[float, float]], z: float = Z95):
    """Mean of independent benchmark scores and its interval from their standard errors (normal approximation).

    Example:
        >>> mean, (lo, hi) = average_interval([0.5, 0.7], [(0.4, 0.6), (0.6, 0.8)])
        >>> round(mean, 2), lo < mean < hi
        (0.6, True)
    """
    k = len(values)
    if k == 0:
        return 0.0, (0.0, 1.0)
    mean = float(sum(values) / k)
    se = math.sqrt(sum(standard_error(i, z) ** 2 for i in intervals)) / k
    return mean, (max(0.0, mean - z * se), min(1.0, mean + z * se))
