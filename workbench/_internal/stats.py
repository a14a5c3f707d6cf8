"""Small statistics shared by stages: the Wilson interval of a proportion (scipy's)."""

from __future__ import annotations

import math

from scipy.stats import binomtest

__all__ = ["wilson_interval"]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes / n`` (scipy's ``binomtest(...).proportion_ci``); NaNs when ``n == 0``.

    Examples
    --------
    >>> low, high = wilson_interval(13, 13)
    >>> round(low, 3), high
    (0.772, 1.0)
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    if n == 0:
        return math.nan, math.nan
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)
