"""Label bookkeeping for retrieval metrics: classes, relevant counts, lone queries.

Labels are compared *in their own dtype* (PML casts them to float32, so integer ids above
2**24 collide). With the default equality comparison the query and reference labels are
mapped once, on the host, to dense int64 class ids, which the device then compares; 2-D
labels (one row of values per item) are equal when the whole row is equal. A custom
``label_comparison_fn(a, b) -> bool array`` (PML's argument) is evaluated on the device,
broadcasting ``(n, 1)`` against ``(n, K)`` labels (``(n, 1, L)`` and ``(n, K, L)`` for 2-D labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._array_api import follow, to_numpy
from ._backend_extras import device_of

__all__ = [
    "LabelComparison",
    "LabelInfo",
    "compare",
    "label_info",
    "prepare_accuracy_labels",
]

Array = Any
LabelComparison = Callable[[Array, Array], Array]

# Elements of one (unique labels x reference) comparison block for a custom comparison.
_CMP_BLOCK_ELEMENTS = 1 << 22


def prepare_accuracy_labels(labels: Any, n: int, xp: Any, device: Any, *, name: str) -> Array:
    """Convert labels once to ``xp``/``device``; check 1-D or 2-D, length ``n``, numeric, no NaN."""
    if labels is None:
        raise ValueError(f"{name} is required, got None")
    lab = follow(labels, xp, device, name=name)
    if lab.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (or 2-D: one row of label values per item), got shape {tuple(lab.shape)}")
    if lab.shape[0] != n:
        raise ValueError(f"{name} has length {lab.shape[0]} but there are {n} embeddings")
    if not (xp.isdtype(lab.dtype, "integral") or xp.isdtype(lab.dtype, "real floating") or xp.isdtype(lab.dtype, "bool")):
        raise TypeError(f"{name} must hold integer (or real) class ids, got dtype {lab.dtype}")
    return lab


def _host(labels: Array, name: str) -> np.ndarray:
    h = np.asarray(to_numpy(labels))
    if h.dtype.kind == "f" and h.size and np.isnan(h).any():
        raise ValueError(f"{name} contains NaN; labels must be comparable class ids")
    return h


def _common(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bring both label arrays to one dtype without losing integer precision."""
    if q.dtype == r.dtype:
        return q, r
    res = np.result_type(q.dtype, r.dtype)
    if q.dtype.kind in "iub" and r.dtype.kind in "iub" and res.kind == "f":
        # int64 with uint64 promotes to float64 in NumPy: compare exactly through Python ints.
        big = max(int(q.max(initial=0)), int(r.max(initial=0)))
        small = min(int(q.min(initial=0)), int(r.min(initial=0)))
        if small >= 0 and big <= np.iinfo(np.uint64).max:
            return q.astype(np.uint64), r.astype(np.uint64)
        raise TypeError(
            f"query_labels ({q.dtype}) and reference_labels ({r.dtype}) cannot be compared exactly; "
            "pass them with one integer dtype"
        )
    return q.astype(res), r.astype(res)


def _unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim == 1:
        u, inv = np.unique(x, return_inverse=True)
    else:
        u, inv = np.unique(x, axis=0, return_inverse=True)
    return u, np.asarray(inv, dtype=np.int64).reshape(-1)


@dataclass
class LabelInfo:
    """Per-query label facts (host NumPy arrays).

    Attributes
    ----------
    unique_query_labels : the sorted distinct query labels (PML's ``label_counts[0]``)
    match_counts : (U,) reference items matching each of them (PML's ``label_counts[1]``)
    query_class : (Q,) index of each query's label in ``unique_query_labels``
    n_rel : (Q,) ``R``: relevant references per query, the query itself excluded
    lone : (Q,) True where ``R == 0`` (PML's lone queries, left out of kNN metrics)
    q_ids, r_ids : int64 class ids shared by query and reference (equality only, else None)
    """

    unique_query_labels: np.ndarray
    match_counts: np.ndarray
    query_class: np.ndarray
    n_rel: np.ndarray
    lone: np.ndarray
    q_ids: np.ndarray | None
    r_ids: np.ndarray | None

    @property
    def n_classes(self) -> int:
        return int(self.unique_query_labels.shape[0])

    @property
    def max_rel(self) -> int:
        return int(self.n_rel.max(initial=0))


def label_info(
    query_labels: Array,
    reference_labels: Array,
    *,
    ref_includes_query: bool,
    label_comparison_fn: LabelComparison | None,
    xp: Any,
) -> LabelInfo:
    """Compute :class:`LabelInfo` (one host transfer of the labels)."""
    qh = _host(query_labels, "query_labels")
    rh = _host(reference_labels, "reference_labels")
    if qh.ndim != rh.ndim or (qh.ndim == 2 and qh.shape[1] != rh.shape[1]):
        raise ValueError(
            f"query_labels has shape {qh.shape} and reference_labels {rh.shape}: they must have "
            "the same number of label columns"
        )
    uq, q_class = _unique_rows(qh)
    self_count = int(bool(ref_includes_query))
    if label_comparison_fn is None:
        qc, rc = _common(qh, rh)
        both = np.concatenate([qc, rc], axis=0)
        _, ids = _unique_rows(both)
        q_ids, r_ids = ids[: qh.shape[0]], ids[qh.shape[0] :]
        counts = np.bincount(r_ids, minlength=int(ids.max(initial=-1)) + 1)
        per_query = counts[q_ids] if q_ids.size else np.zeros(0, dtype=np.int64)
        n_rel = per_query.astype(np.int64) - self_count
        match = np.zeros(uq.shape[0], dtype=np.int64)
        if q_ids.size:
            match[q_class] = per_query
        return LabelInfo(uq, match, q_class, n_rel, n_rel <= 0, q_ids.astype(np.int64), r_ids.astype(np.int64))
    match, self_match = _custom_counts(uq, reference_labels, label_comparison_fn, xp)
    n_rel = match[q_class] - (self_match[q_class].astype(np.int64) if ref_includes_query else 0)
    return LabelInfo(uq, match, q_class, n_rel.astype(np.int64), n_rel <= 0, None, None)


def _custom_counts(
    uq: np.ndarray, reference_labels: Array, fn: LabelComparison, xp: Any
) -> tuple[np.ndarray, np.ndarray]:
    """For each unique query label: how many references match it, and whether it matches itself."""
    device = device_of(reference_labels)
    u_dev = xp.asarray(uq, dtype=reference_labels.dtype, device=device)
    n_u, n_r = uq.shape[0], reference_labels.shape[0]
    step = max(1, _CMP_BLOCK_ELEMENTS // max(1, n_r))
    counts = np.zeros(n_u, dtype=np.int64)
    for s in range(0, n_u, step):
        e = min(s + step, n_u)
        m = compare(fn, xp.expand_dims(u_dev[s:e, ...], axis=1), xp.expand_dims(reference_labels, axis=0), (e - s, n_r), xp)
        counts[s:e] = to_numpy(xp.sum(xp.astype(m, xp.int64), axis=1))
    self_m = to_numpy(compare(fn, u_dev, u_dev, (n_u,), xp)).astype(bool)
    return counts, self_m


def compare(fn: LabelComparison, a: Array, b: Array, shape: tuple[int, ...], xp: Any) -> Array:
    """Call a custom ``label_comparison_fn`` and check that it returned a boolean array of ``shape``."""
    out = fn(a, b)
    if not hasattr(out, "shape") or tuple(out.shape) != tuple(shape):
        got = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
        raise ValueError(
            f"label_comparison_fn must broadcast its two label arrays and return a boolean array "
            f"of shape {shape}, got {got}"
        )
    return out if out.dtype == xp.bool else xp.astype(out, xp.bool)
