"""NumPy's default (linear) percentile, in two steps: which order statistics, then the mix.

Shared by :func:`agnostic_ml.accuracy.metrics.percentile` (values in memory) and the
streaming ``fnmr@fmr`` (order statistics found by selection over blocks), so that both
equal ``numpy.percentile``.

Examples
--------
>>> percentile_points(50, 4)
(1, 2, 0.5)
>>> lerp(1.0, 3.0, 0.5)
2.0
"""

from __future__ import annotations

import math

__all__ = ["lerp", "percentile_points"]


def percentile_points(q: float, n: int) -> tuple[int, int, float]:
    """``(lo, hi, t)``: the ``q``-th percentile (percent) of ``n`` sorted values lies between
    the 0-based order statistics ``lo`` and ``hi``, at fraction ``t`` from ``lo``."""
    pos = (float(q) / 100.0) * (n - 1)
    lo = int(math.floor(pos))
    return lo, min(lo + 1, n - 1), pos - lo


def lerp(a: float, b: float, t: float) -> float:
    """NumPy's linear interpolation between two order statistics (``numpy.percentile``)."""
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t
