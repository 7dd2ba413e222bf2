"""From per-query values to the numbers ``AccuracyCalculator`` returns.

Lone queries (no relevant reference) are left out, as in PML. ``avg_of_avgs`` averages
per query label first; ``return_per_class`` returns those per-label values (sorted label
order) instead of their mean; a metric undefined for every query is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .labels import LabelInfo

__all__ = ["Results", "pair_average", "query_average"]


@dataclass
class Results:
    """Per-query values computed before the ``calculate_*`` methods run (passed in their kwargs).

    values : metric name -> (Q,) values of a rank metric
    fnmr : metric name -> ((Q,) counts of positives at or above the threshold, defined)
    """

    info: LabelInfo
    values: dict[str, np.ndarray]
    fnmr: dict[str, tuple[np.ndarray, bool]]


def _nan(info: LabelInfo, return_per_class: bool) -> Any:
    return [math.nan] * info.n_classes if return_per_class else math.nan


def query_average(values: np.ndarray, info: LabelInfo, *, avg_of_avgs: bool, return_per_class: bool) -> Any:
    """Mean of a per-query metric over the non-lone queries (per label when asked)."""
    valid = ~info.lone
    if not valid.any():
        return _nan(info, return_per_class)
    v = values[valid]
    if avg_of_avgs or return_per_class:
        c = info.query_class[valid]
        sums = np.bincount(c, weights=v, minlength=info.n_classes)
        cnt = np.bincount(c, minlength=info.n_classes)
        present = cnt > 0
        per = sums[present] / cnt[present]
        return [float(x) for x in per] if return_per_class else float(np.mean(per))
    return float(np.mean(v))


def pair_average(
    counts: np.ndarray, info: LabelInfo, defined: bool, *, avg_of_avgs: bool, return_per_class: bool
) -> Any:
    """FNMR: positives at/above the threshold over all positive pairs (per label when asked)."""
    valid = ~info.lone
    if not defined or not valid.any():
        return _nan(info, return_per_class)
    if avg_of_avgs or return_per_class:
        c = info.query_class[valid]
        hit = np.bincount(c, weights=counts[valid], minlength=info.n_classes)
        tot = np.bincount(c, weights=info.n_rel[valid], minlength=info.n_classes)
        present = tot > 0
        per = hit[present] / tot[present]
        return [float(x) for x in per] if return_per_class else float(np.mean(per))
    return float(counts[valid].sum() / info.n_rel[valid].sum())
