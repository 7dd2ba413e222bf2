"""Streaming computation of the ranks of relevant references, block by block.

Every rank-based metric (:mod:`agnostic_ml.accuracy.metrics`) is a function of the ranks of
a query's relevant references. This module computes those ranks over query blocks so that
memory stays bounded by ``rows x R`` (never ``Q x R`` or ``Q x Q``), in one of two modes:

*cutoff mode* (``RankPlan.all_ranks=False``)
    The top-``K`` neighbours of each block, with ``K`` the largest cutoff any requested
    metric needs in that block (``k``, the OML ``k`` values, and the block's largest ``R``
    for R-precision and MAP@R), through the exact blocked kNN
    (:func:`agnostic_ml.accuracy._search.block_topk`, reference tiles merged when needed).
*all-ranks mode* (``RankPlan.all_ranks=True``: PML's default ``k=None`` for MAP / MRR)
    The rank of *every* relevant reference without a ``Q x R`` neighbour list: per block
    row, the relevant keys and the irrelevant keys are sorted (values only); the ``j``-th
    relevant item's rank is ``j + #(irrelevant keys below it)``, found with
    ``searchsorted``. Ties between a relevant and an irrelevant key follow the kNN rule
    (lower reference index first): exactly, through float64 ``(key, index)`` composites for
    float32 distances, or by redoing the tied rows with a stable argsort for float64.

Ranking order everywhere: ascending distance (descending similarity), ties by reference
index; with ``ref_includes_query`` query ``i`` is reference row ``i`` and is excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._array_api import from_host_indices, index_dtype, no_grad, sort_values, to_numpy
from ..distances import BaseDistance
from ._backend_extras import device_of, has_float64, searchsorted
from ._blocks import DEFAULT_MEMORY_BUDGET, KNN_EXTRA_BYTES, itemsize, plan_blocks, self_mask
from ._search import block_topk
from .labels import LabelComparison, compare
from .metrics import RANK_NONE

__all__ = [
    "BoundRelevance",
    "ChunkContext",
    "RankJob",
    "RankOutput",
    "RankPlan",
    "Relevance",
    "full_row_blocks",
    "ranks_from_knn_indices",
    "run_rank_job",
]

Array = Any
MetricFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RankPlan:
    """What one pass must compute.

    cutoff : ranks up to this value are needed in every row (cutoff mode)
    need_r : ranks up to each row's ``R`` are needed too (R-precision, MAP@R)
    all_ranks : every relevant item's rank is needed (all-ranks mode)
    keep_knn : also return the ``(Q, keep_knn)`` kNN distances and indices (custom metrics)
    """

    cutoff: int = 0
    need_r: bool = False
    all_ranks: bool = False
    keep_knn: int = 0


@dataclass
class Relevance:
    """How to decide that a reference item is relevant to a query (host data, picklable).

    Either dense class ids ``q_ids`` / ``r_ids`` (label equality), or the labels themselves
    with a custom comparison ``fn``.
    """

    q_ids: np.ndarray | None = None
    r_ids: np.ndarray | None = None
    query_labels: np.ndarray | None = None
    reference_labels: np.ndarray | None = None
    fn: LabelComparison | None = None

    def bind(self, xp: Any, device: Any, q_start: int, q_stop: int) -> "BoundRelevance":
        """Move the data of queries ``[q_start, q_stop)`` and of the reference to ``xp``/``device``."""
        if self.fn is None:
            idt = index_dtype(xp, device)
            return BoundRelevance(
                xp, None,
                xp.asarray(self.q_ids[q_start:q_stop], dtype=idt, device=device),
                xp.asarray(self.r_ids, dtype=idt, device=device),
            )
        return BoundRelevance(
            xp, self.fn,
            xp.asarray(self.query_labels[q_start:q_stop], device=device),
            xp.asarray(self.reference_labels, device=device),
        )


@dataclass
class BoundRelevance:
    """:class:`Relevance` on a device; rows are indexed relative to the bound query range."""

    xp: Any
    fn: LabelComparison | None
    q: Array
    r: Array

    def full(self, s: int, e: int) -> Array:
        """``(e - s, R)`` boolean: reference item relevant to query row."""
        xp = self.xp
        qb = self.q[s:e, ...]
        if self.fn is None:
            return xp.expand_dims(qb, axis=1) == xp.expand_dims(self.r, axis=0)
        return compare(self.fn, xp.expand_dims(qb, axis=1), xp.expand_dims(self.r, axis=0), (e - s, self.r.shape[0]), xp)

    def of_neighbours(self, s: int, e: int, idx: Array) -> Array:
        """``(e - s, K)`` boolean: relevance of the neighbours ``idx`` of query rows ``[s, e)``."""
        xp = self.xp
        rows, k = idx.shape
        flat = xp.reshape(idx, (rows * k,))
        lab = xp.take(self.r, flat, axis=0)
        qb = xp.expand_dims(self.q[s:e, ...], axis=1)
        if self.fn is None:
            return xp.reshape(lab, (rows, k)) == qb
        lab = xp.reshape(lab, (rows, k) + tuple(self.r.shape[1:]))
        return compare(self.fn, qb, lab, (rows, k), xp)


@dataclass
class ChunkContext:
    """Everything a pass over a range of queries needs (picklable when its arrays are)."""

    reference: Array
    relevance: Relevance
    n_rel: np.ndarray  # (Q_total,) R per query
    distance: BaseDistance
    ref_includes_query: bool
    block_size: int | None = None
    ref_block_size: int | None = None
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    extra: dict = field(default_factory=dict)

    @property
    def available(self) -> int:
        return int(self.reference.shape[0]) - int(bool(self.ref_includes_query))


@dataclass
class RankJob:
    """Compute per-query metric values (``metrics``: name -> ``fn(ranks, n_rel)``)."""

    plan: RankPlan
    metrics: dict[str, MetricFn]


@dataclass
class RankOutput:
    values: dict[str, np.ndarray]
    knn_distances: Array | None = None
    knn_indices: Array | None = None


def _rows_for(ctx: ChunkContext, n_q: int, k: int, bytes_per_elem: int) -> tuple[int, int]:
    return plan_blocks(
        n_q, int(ctx.reference.shape[0]), k, bytes_per_elem,
        block_size=ctx.block_size, ref_block_size=ctx.ref_block_size, memory_budget=ctx.memory_budget,
    )


def full_row_blocks(query: Array, offset: int, ctx: ChunkContext, rel: BoundRelevance, bytes_per_elem: int, xp: Any):
    """Yield ``(s, e, key, relevant, is_self)`` over query blocks against the whole reference.

    ``key`` is ascending-is-better (the distance, or minus the similarity) with the query's
    own entry set to +inf; ``relevant`` excludes it; ``is_self`` is None without
    ``ref_includes_query``.
    """
    device = device_of(query)
    n_q, n_r = query.shape[0], ctx.reference.shape[0]
    rows, _ = plan_blocks(
        n_q, n_r, 0, bytes_per_elem, block_size=ctx.block_size, memory_budget=ctx.memory_budget
    )
    largest = ctx.distance.is_inverted
    for s in range(0, n_q, rows):
        e = min(s + rows, n_q)
        mat = ctx.distance(query[s:e, ...], ctx.reference)
        key = -mat if largest else mat
        relf = rel.full(s, e)
        is_self = None
        if ctx.ref_includes_query:
            is_self = self_mask(e - s, n_r, offset + s, 0, xp, device)
            key = xp.where(is_self, xp.asarray(math.inf, dtype=key.dtype, device=device), key)
            relf = xp.logical_and(relf, xp.logical_not(is_self))
        yield s, e, key, relf, is_self


def _composite(key: Array, idx: Array, bits: int, xp: Any) -> Array:
    """Float64 values that order like ``(key, idx)`` for float32/float16 keys, exactly.

    ``key + idx * ulp(key) / 2**bits`` with ``ulp(key) = nextafter(key, +inf) - key`` (exact
    in float32) and ``0 <= idx < 2**bits``: the offset stays below the gap to the next
    representable key, and the sum needs at most ``24 + bits <= 53`` significant bits, so
    float64 holds it exactly. +inf (masked entries) stays +inf.
    """
    device = device_of(key)
    inf = xp.asarray(math.inf, dtype=key.dtype, device=device)
    finite = key < inf
    k = xp.where(finite, key, xp.zeros_like(key))
    gap = xp.astype(xp.nextafter(k, inf) - k, xp.float64)
    scale = xp.asarray(2.0 ** (-bits), dtype=xp.float64, device=device)
    comp = xp.astype(k, xp.float64) + gap * (xp.astype(idx, xp.float64) * scale)
    return xp.where(finite, comp, xp.asarray(math.inf, dtype=xp.float64, device=device))


def _counts_below(key: Array, relf: Array, j: Array, xp: Any) -> tuple[Array, Array]:
    """For the ``j``-th smallest relevant key of each row: how many irrelevant keys are
    smaller (``lt``) and smaller or equal (``le``). Values-only sorts and ``searchsorted``."""
    inf = xp.asarray(math.inf, dtype=key.dtype, device=device_of(key))
    rel_sorted = xp.take(sort_values(xp.where(relf, key, inf), axis=1, xp=xp), j - 1, axis=1)
    irr_sorted = sort_values(xp.where(relf, inf, key), axis=1, xp=xp)
    lt = searchsorted(irr_sorted, rel_sorted, side="left", xp=xp)
    le = searchsorted(irr_sorted, rel_sorted, side="right", xp=xp)
    return lt, le


def _ranks_all(key: Array, relf: Array, n_rel_blk: np.ndarray, xp: Any, state: dict[str, Any]) -> np.ndarray:
    """All-ranks mode for one block: ``(rows, M)`` host ranks of every relevant item.

    The ``j``-th relevant item's rank is ``j`` plus the number of irrelevant items before
    it: both sets of keys are sorted per row (values only) and counted with
    ``searchsorted``. A relevant key *equal* to an irrelevant one must follow the kNN tie
    rule (lower reference index first); the rows with such a tie are redone exactly, with
    ``(key, index)`` float64 composites for float32/float16 distances (where such ties are
    frequent once the reference is large: when most rows of a block tie, the next blocks use
    the composites directly) and with a stable argsort for float64 distances.
    """
    device = device_of(key)
    rows, n_ref = key.shape
    m = max(1, min(int(n_rel_blk.max(initial=0)), n_ref))
    idt = index_dtype(xp, device)
    j = xp.arange(1, m + 1, dtype=idt, device=device)
    nr = xp.asarray(n_rel_blk, dtype=idt, device=device)
    valid = xp.expand_dims(j, axis=0) <= xp.expand_dims(nr, axis=1)
    bits = max(1, int(n_ref).bit_length())
    can_compose = key.dtype != xp.float64 and bits <= 29 and has_float64(xp, device)
    cols = xp.expand_dims(xp.arange(n_ref, dtype=idt, device=device), axis=0)
    if can_compose and state.get("compose_all"):
        lt, _ = _counts_below(_composite(key, cols, bits, xp), relf, j, xp)  # composites never tie
        tied_rows = np.zeros(0, dtype=np.int64)
    else:
        lt, le = _counts_below(key, relf, j, xp)
        tied = xp.any(xp.logical_and(valid, le > lt), axis=1)
        tied_rows = np.flatnonzero(np.asarray(to_numpy(tied), dtype=bool))
    ranks = np.array(to_numpy(xp.expand_dims(j, axis=0) + xp.astype(lt, idt)), dtype=np.int64, copy=True)
    if tied_rows.size:
        t = from_host_indices(tied_rows, xp, device)
        key_t, rel_t = xp.take(key, t, axis=0), xp.take(relf, t, axis=0)
        if can_compose:
            lt_t, _ = _counts_below(_composite(key_t, cols, bits, xp), rel_t, j, xp)
            ranks[tied_rows, :] = np.asarray(to_numpy(xp.expand_dims(j, axis=0) + xp.astype(lt_t, idt)))
            state["compose_all"] = tied_rows.size > rows // 2
        else:
            order = xp.argsort(key_t, axis=1, stable=True)
            ranks[tied_rows, :] = _host_ranks(xp.take_along_axis(rel_t, order, axis=1))[:, :m]
    ranks[~np.asarray(to_numpy(valid), dtype=bool)] = RANK_NONE
    return ranks


def _host_ranks(relevant: Array) -> np.ndarray:
    rel = np.asarray(to_numpy(relevant), dtype=bool)
    pos = np.arange(1, rel.shape[1] + 1, dtype=np.int64)
    return np.sort(np.where(rel, pos, RANK_NONE), axis=1)


def run_rank_job(query: Array, offset: int, ctx: ChunkContext, job: RankJob, xp: Any) -> RankOutput:
    """Per-query metric values for queries ``[offset, offset + len(query))``."""
    device = device_of(query)
    n_q = query.shape[0]
    plan = job.plan
    n_rel = ctx.n_rel[offset : offset + n_q]
    rel = ctx.relevance.bind(xp, device, offset, offset + n_q)
    values = {name: np.full(n_q, math.nan) for name in job.metrics}
    knn_v, knn_i = [], []
    avail = ctx.available
    item = itemsize(query, xp)

    def record(s: int, ranks: np.ndarray) -> None:
        nr = n_rel[s : s + ranks.shape[0]]
        for name, fn in job.metrics.items():
            values[name][s : s + ranks.shape[0]] = np.asarray(fn(ranks, nr), dtype=np.float64)

    with no_grad(xp):
        if plan.all_ranks and plan.keep_knn == 0:
            state: dict[str, Any] = {}
            for s, e, key, relf, _ in full_row_blocks(query, offset, ctx, rel, 6 * item + 48, xp):
                record(s, _ranks_all(key, relf, n_rel[s:e], xp, state))
        else:
            k_plan = min(avail, max(plan.cutoff, _max_rel(n_rel) if plan.need_r else 0, plan.keep_knn, 1))
            rows, tile = _rows_for(ctx, n_q, k_plan, 2 * item + KNN_EXTRA_BYTES + 8)
            if plan.all_ranks:
                k_plan = avail
            for s in range(0, n_q, rows):
                e = min(s + rows, n_q)
                nr = n_rel[s:e]
                kk = avail if plan.all_ranks else max(plan.cutoff, int(nr.max(initial=0)) if plan.need_r else 0, plan.keep_knn, 1)
                kk = min(kk, avail)
                v, i = block_topk(
                    query[s:e, ...], ctx.reference, kk, distance=ctx.distance,
                    row_offset=offset + s if ctx.ref_includes_query else None, ref_block_size=tile, xp=xp,
                )
                ranks = _host_ranks(rel.of_neighbours(s, e, i))
                record(s, ranks[:, : max(1, min(kk, int(nr.max(initial=0))))])
                if plan.keep_knn:
                    knn_v.append(v[:, : plan.keep_knn])
                    knn_i.append(i[:, : plan.keep_knn])
    out = RankOutput(values)
    if plan.keep_knn:
        out.knn_distances = knn_v[0] if len(knn_v) == 1 else xp.concat(knn_v, axis=0)
        out.knn_indices = knn_i[0] if len(knn_i) == 1 else xp.concat(knn_i, axis=0)
    return out


def _max_rel(n_rel: np.ndarray) -> int:
    return int(n_rel.max(initial=0))


def ranks_from_knn_indices(
    indices: Array, rel: BoundRelevance, n_rel: np.ndarray, metrics: dict[str, MetricFn], *, block_rows: int = 4096
) -> dict[str, np.ndarray]:
    """Per-query metric values from a precomputed ``(Q, K)`` neighbour list (any ``knn_func``)."""
    n_q, k = indices.shape
    values = {name: np.full(n_q, math.nan) for name in metrics}
    for s in range(0, n_q, block_rows):
        e = min(s + block_rows, n_q)
        ranks = _host_ranks(rel.of_neighbours(s, e, indices[s:e, ...]))
        nr = n_rel[s:e]
        ranks = ranks[:, : max(1, min(k, int(nr.max(initial=0))))]
        for name, fn in metrics.items():
            values[name][s:e] = np.asarray(fn(ranks, nr), dtype=np.float64)
    return values
