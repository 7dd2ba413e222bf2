"""The exact blocked kNN search on validated inputs (shared by :func:`~agnostic_ml.accuracy.knn`,
the streaming rank passes and the Dask tasks).

:func:`block_topk` finds the top-``k`` of one query block against the whole reference
(tiled when the budget asks for it, the per-tile top-k merged); :func:`_knn_rows` runs it
over query blocks; :func:`search` plans the blocks from the memory budget first. Ties: the
lower reference index first, on every backend.
"""

from __future__ import annotations

import math
from typing import Any

from .._array_api import fill_self, index_dtype, l2_rank_scores, no_grad, topk
from ..distances import BaseDistance, LpDistance
from ._backend_extras import device_of
from ._blocks import DEFAULT_MEMORY_BUDGET, knn_bytes_per_elem, plan_blocks

__all__ = ["block_topk", "resolve_distance", "search"]

Array = Any


def _default_distance() -> BaseDistance:
    """The default kNN distance: plain Euclidean on the raw embeddings.

    ``LpDistance(normalize_embeddings=False)`` ranks neighbours exactly as faiss'
    ``IndexFlatL2`` (PML's default ``FaissKNN``), which returns *squared* L2 distances;
    we return the (non-squared) Euclidean distance.
    """
    return LpDistance(normalize_embeddings=False)


def resolve_distance(distance: Any) -> BaseDistance:
    """``distance``, or :func:`_default_distance` for None; ``TypeError`` for anything else."""
    if distance is not None and not isinstance(distance, BaseDistance):
        raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
    return _default_distance() if distance is None else distance


class _L2Ranker:
    """Rank by ``|r|^2 - 2 q.r`` for ``LpDistance(p=2)``; exact distances only for the winners.

    The full Euclidean matrix costs four extra passes over every (query, reference) block
    (add ``|q|^2``, clamp, square root, power) that do not change the order within a row;
    here a block costs one GEMM plus one pass, and the ``k`` kept values per query are
    turned into distances at the end. The reference is normalised and its squared norms
    computed once, not once per query block.
    """

    def __init__(self, distance: LpDistance, reference: Array, xp: Any) -> None:
        self.distance = distance
        self.reference = distance.maybe_normalize(reference)
        self.rr = xp.sum(self.reference * self.reference, axis=1)

    def prepare(self, q_block: Array, xp: Any) -> tuple[Array, Array]:
        q = self.distance.maybe_normalize(q_block)
        return q, xp.sum(q * q, axis=1)

    def finish(self, scores: Array, qq: Array, xp: Any) -> Array:
        sq = xp.maximum(scores + qq[:, None], xp.zeros_like(scores))
        d = xp.sqrt(sq)
        return d**self.distance.power if self.distance.power != 1 else d


def _ranker(distance: BaseDistance, reference: Array, xp: Any) -> _L2Ranker | None:
    if (
        type(distance) is LpDistance
        and distance.p == 2
        and distance.power > 0
        and reference.dtype in (xp.float32, xp.float64)
    ):
        return _L2Ranker(distance, reference, xp)
    return None


def block_topk(
    q_block: Array,
    reference: Array,
    k: int,
    *,
    distance: BaseDistance,
    row_offset: int | None,
    ref_block_size: int,
    xp: Any,
    ranker: _L2Ranker | None = None,
) -> tuple[Array, Array]:
    """Top-``k`` of one query block against the whole reference (tiled when needed).

    ``row_offset`` is the global index of the block's first query when the reference
    includes the queries (query ``i`` is reference ``i`` and is masked out), else None.
    ``ranker`` (from :func:`_ranker`, built once per search) enables the rank-only L2 path.
    """
    device = device_of(q_block)
    largest = distance.is_inverted and ranker is None
    n_ref = reference.shape[0]
    rows = q_block.shape[0]
    idt = index_dtype(xp, device)
    if ranker is not None:
        q, qq = ranker.prepare(q_block, xp)
    best_v = best_i = None
    for cs in range(0, n_ref, ref_block_size):
        ce = min(cs + ref_block_size, n_ref)
        if ranker is not None:
            r_tile = ranker.reference if (cs == 0 and ce == n_ref) else ranker.reference[cs:ce, ...]
            rr_tile = ranker.rr if (cs == 0 and ce == n_ref) else ranker.rr[cs:ce]
            mat = l2_rank_scores(q, r_tile, rr_tile, xp=xp)
        else:
            tile = reference if (cs == 0 and ce == n_ref) else reference[cs:ce, ...]
            mat = distance(q_block, tile)
        if row_offset is not None:
            mat = fill_self(mat, row_offset, cs, -math.inf if largest else math.inf, xp=xp)
        if best_v is None:
            kk = min(k, ce - cs)
            best_v, best_i = topk(mat, kk, largest=largest, xp=xp)
            if cs:
                best_i = best_i + cs
            continue
        # Running top-k first: it holds only lower reference indices, so on ties the lower
        # global index keeps winning (topk prefers the lower column).
        cand_v = xp.concat([best_v, mat], axis=1)
        tile_idx = xp.broadcast_to(xp.arange(cs, ce, dtype=idt, device=device)[None, :], (rows, ce - cs))
        cand_i = xp.concat([best_i, tile_idx], axis=1)
        kk = min(k, cand_v.shape[1])
        best_v, pos = topk(cand_v, kk, largest=largest, xp=xp)
        best_i = xp.take_along_axis(cand_i, pos, axis=1)
    if best_v is None:  # empty reference (k == 0)
        return xp.zeros((rows, 0), dtype=q_block.dtype, device=device), xp.zeros((rows, 0), dtype=idt, device=device)
    if ranker is not None:
        best_v = ranker.finish(best_v, qq, xp)
    return best_v, best_i


def _knn_rows(
    query: Array, reference: Array, k: int, *, distance: BaseDistance, offset: int | None, rows: int, tile: int, xp: Any
) -> tuple[Array, Array]:
    """The blocked search of :func:`agnostic_ml.accuracy.knn` on validated inputs, in blocks of ``rows``
    query rows and reference tiles of ``tile`` columns.

    ``offset``: global index of ``query[0]`` when query ``i`` is reference ``offset + i``
    (masked out), else None.
    """
    vals, idxs = [], []
    with no_grad(xp):
        ranker = _ranker(distance, reference, xp)
        for s in range(0, query.shape[0], rows):
            e = min(s + rows, query.shape[0])
            v, i = block_topk(
                query[s:e, ...], reference, k, distance=distance,
                row_offset=None if offset is None else offset + s, ref_block_size=tile, xp=xp,
                ranker=ranker,
            )
            vals.append(v)
            idxs.append(i)
    if len(vals) == 1:
        return vals[0], idxs[0]
    return xp.concat(vals, axis=0), xp.concat(idxs, axis=0)


def search(
    query: Array,
    reference: Array,
    k: int,
    *,
    distance: BaseDistance,
    offset: int | None,
    block_size: int | None,
    ref_block_size: int | None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    xp: Any,
) -> tuple[Array, Array]:
    """:func:`_knn_rows` with the blocks planned from ``memory_budget`` (checked, finite inputs).

    ``offset`` as in :func:`_knn_rows`. No query or ``k == 0``: empty ``(Q, k)`` results.
    """
    rows, tile = plan_blocks(
        query.shape[0], reference.shape[0], k, knn_bytes_per_elem(query, xp),
        block_size=block_size, ref_block_size=ref_block_size, memory_budget=memory_budget,
    )
    if query.shape[0] == 0 or k == 0:
        # Distances come back in the query's dtype (BaseDistance casts its result back).
        device = device_of(query)
        n_q = query.shape[0]
        return (xp.zeros((n_q, k), dtype=query.dtype, device=device), xp.zeros((n_q, k), dtype=index_dtype(xp, device), device=device))
    return _knn_rows(query, reference, k, distance=distance, offset=offset, rows=rows, tile=tile, xp=xp)
