"""The metrics ``AccuracyCalculator`` computes itself: name or name pattern -> what each needs.

One entry per metric says which pass computes it (:class:`Needs`), which per-query
function of :mod:`agnostic_ml.accuracy.metrics` gives its value and how deep each query's
ranking must be known for it (:class:`Cutoff`). PML's names are fixed entries; OML's
parametrised names (``cmc@5``, ``precision@5``, ``map@5``, ``ndcg@5``, ``fnmr@fmr=1``) are
patterns whose parameter is read from the name.

Custom metrics are not registered here: a subclass's ``calculate_<name>`` method, listed in
its ``requires_knn()`` / ``requires_clustering()``, stays PML's extension point.

Examples
--------
>>> m = lookup("cmc@5")
>>> m.spec.needs is Needs.KNN, m.spec.cutoff is Cutoff.NAME, m.param
(True, True, 5)
>>> lookup("my_custom_metric") is None
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Sequence

import numpy as np

from . import metrics as M
from ._settings import check_fmr_values, positive_ints

__all__ = [
    "BUILTIN",
    "Cutoff",
    "Metric",
    "MetricSpec",
    "Needs",
    "PerQuery",
    "configured_names",
    "lookup",
    "names_needing",
    "per_query_function",
    "requested_names",
]


class Needs(Enum):
    """The pass that computes a metric."""

    KNN = "knn"  #: the ranks of each query's relevant references
    CLUSTERING = "clustering"  #: cluster labels of the queries (``kmeans_func``)
    PAIRS = "pairs"  #: every (query, reference) distance (``fnmr@fmr``)


class Cutoff(Enum):
    """How many of each query's ranks a rank metric reads."""

    ONE = "one"  #: the first (precision@1)
    R = "r"  #: up to the query's ``R`` (R-precision, MAP@R)
    K = "k"  #: up to the calculator's ``k`` (None: the whole ranking)
    NAME = "name"  #: up to the ``k`` in the metric's name (``cmc@5``)


@dataclass(frozen=True)
class MetricSpec:
    """What one metric needs: its pass, and for rank metrics the per-query function.

    ``per_query(ranks[, n_rel][, k=...])`` is a function of :mod:`~agnostic_ml.accuracy.metrics`;
    ``takes_n_rel`` says whether it reads ``R``; a :class:`Cutoff` other than ``ONE`` / ``R``
    passes its ``k``.
    """

    needs: Needs
    per_query: Callable[..., Any] | None = None
    takes_n_rel: bool = False
    cutoff: Cutoff | None = None


@dataclass(frozen=True)
class Metric:
    """A metric name resolved against the registry; ``param`` is the ``k`` of ``cmc@5`` or the
    FMR (percent) of ``fnmr@fmr=1``, None for PML's names."""

    name: str
    spec: MetricSpec
    param: int | float | None = None


@dataclass(frozen=True)
class PerQuery:
    """``fn(ranks, n_rel) -> values`` for the rank passes, from a :class:`MetricSpec`.

    A module-level class (not a closure) so that Dask can pickle the jobs that carry it.
    """

    metric: Callable[..., Any]
    takes_n_rel: bool
    has_k: bool = False
    k: int | None = None

    def __call__(self, ranks: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
        args = (ranks, n_rel) if self.takes_n_rel else (ranks,)
        return self.metric(*args, k=self.k) if self.has_k else self.metric(*args)


#: PML's metrics, in PML's order within each kind (``requires_clustering()``, ``requires_knn()``).
BUILTIN: dict[str, MetricSpec] = {
    "NMI": MetricSpec(Needs.CLUSTERING),
    "AMI": MetricSpec(Needs.CLUSTERING),
    "precision_at_1": MetricSpec(Needs.KNN, M.precision_at_1, False, Cutoff.ONE),
    "mean_average_precision": MetricSpec(Needs.KNN, M.mean_average_precision, True, Cutoff.K),
    "mean_average_precision_at_r": MetricSpec(Needs.KNN, M.mean_average_precision_at_r, True, Cutoff.R),
    "r_precision": MetricSpec(Needs.KNN, M.r_precision, True, Cutoff.R),
    "mean_reciprocal_rank": MetricSpec(Needs.KNN, M.reciprocal_rank, False, Cutoff.K),
}

#: OML's rank metrics ``<prefix>@<k>``: prefix -> spec.
_AT_K: dict[str, MetricSpec] = {
    "cmc": MetricSpec(Needs.KNN, M.cmc_at_k, False, Cutoff.NAME),
    "precision": MetricSpec(Needs.KNN, M.precision_at_k, True, Cutoff.NAME),
    "map": MetricSpec(Needs.KNN, M.map_at_k, False, Cutoff.NAME),
    "ndcg": MetricSpec(Needs.KNN, M.ndcg_at_k, True, Cutoff.NAME),
}
_FNMR = MetricSpec(Needs.PAIRS)

_AT_K_RE = re.compile(r"^(cmc|precision|map|ndcg)@([0-9]+)$")
_FNMR_RE = re.compile(r"^fnmr@fmr=(.+)$")


def _is_parametrised(name: str) -> bool:
    """Whether ``name`` has the form of an OML metric (``cmc@k`` ..., ``fnmr@fmr=<v>``)."""
    return bool(_AT_K_RE.match(name) or _FNMR_RE.match(name))


def lookup(name: str) -> Metric | None:
    """The registered metric ``name`` (None if it is not one); ``ValueError`` for an OML name
    with a bad parameter (``cmc@0``, ``fnmr@fmr=abc``, ``fnmr@fmr=150``)."""
    spec = BUILTIN.get(name)
    if spec is not None:
        return Metric(name, spec)
    m = _AT_K_RE.match(name)
    if m:
        if int(m.group(2)) < 1:
            raise ValueError(f"metric {name!r}: k must be a positive int")
        return Metric(name, _AT_K[m.group(1)], int(m.group(2)))
    m = _FNMR_RE.match(name)
    if m:
        try:
            v = float(m.group(1))
        except ValueError as exc:
            raise ValueError(f"metric {name!r}: the FMR after '=' must be a number (percent)") from exc
        if not 0 <= v <= 100 or math.isnan(v):
            raise ValueError(f"metric {name!r}: the FMR is a percentage in [0, 100]")
        return Metric(name, _FNMR, v)
    return None


def names_needing(names: Sequence[str], needs: Needs) -> list[str]:
    """The names among ``names`` that are registered metrics computed by the ``needs`` pass."""
    out = []
    for n in names:
        m = lookup(n)
        if m is not None and m.spec.needs is needs:
            out.append(n)
    return out


def configured_names(
    cmc_top_k: Any, precision_top_k: Any, map_top_k: Any, ndcg_top_k: Any, fmr_vals: Any
) -> list[str]:
    """The OML metric names the constructor's ``*_top_k`` / ``fmr_vals`` arguments ask for, checked."""
    names = []
    for prefix, ks, arg in (
        ("cmc", cmc_top_k, "cmc_top_k"), ("precision", precision_top_k, "precision_top_k"),
        ("map", map_top_k, "map_top_k"), ("ndcg", ndcg_top_k, "ndcg_top_k"),
    ):
        names += [f"{prefix}@{v}" for v in positive_ints(ks, arg)]
    if not isinstance(fmr_vals, (tuple, list)):
        raise TypeError(f"fmr_vals must be a tuple or list of percentages, got {type(fmr_vals).__name__}")
    check_fmr_values(fmr_vals)
    names += [f"fnmr@fmr={float(v):g}" for v in fmr_vals]
    return list(dict.fromkeys(names))


def requested_names(include: Sequence[Any], configured: Sequence[str]) -> list[str]:
    """OML names asked for in ``include`` but not configured through ``*_top_k`` / ``fmr_vals``,
    checked (``ValueError`` for a bad parameter)."""
    extra = [n for n in include if isinstance(n, str) and _is_parametrised(n) and n not in configured]
    for n in extra:
        lookup(n)
    return extra


def per_query_function(metric: Metric, *, k: int, k_cut: int | None, available: int) -> tuple[PerQuery, int]:
    """The per-query function of a rank metric and the ranks it needs (``cutoff``).

    ``k`` is the calculator's resolved neighbour count and ``k_cut`` its cutoff (None for
    ``k=None``: the whole ranking); an OML ``k`` above the ``available`` neighbours is
    clipped to them, as OML does. ``Cutoff.R`` metrics need each query's ``R`` ranks, which
    the pass adds itself (the returned cutoff is 0).
    """
    spec = metric.spec
    if spec.cutoff is Cutoff.ONE:
        return PerQuery(spec.per_query, spec.takes_n_rel), 1  # type: ignore[arg-type]
    if spec.cutoff is Cutoff.R:
        return PerQuery(spec.per_query, spec.takes_n_rel), 0  # type: ignore[arg-type]
    if spec.cutoff is Cutoff.K:
        return PerQuery(spec.per_query, spec.takes_n_rel, True, k_cut), k
    kk = min(int(metric.param), available)  # type: ignore[arg-type]
    return PerQuery(spec.per_query, spec.takes_n_rel, True, max(kk, 1)), kk

