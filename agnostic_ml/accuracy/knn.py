"""Exact k-nearest neighbours in bounded memory, and the ``knn_func`` protocol.

``knn(query, reference, k)`` computes the distance matrix block by block (one GEMM per
block for Euclidean / dot-product distances), keeps the ``k`` best entries of each block
with :func:`agnostic_ml._array_api.topk` and never holds more than about ``memory budget``
bytes of intermediate results: query blocks of ``block_size`` rows and, when one query row
against the whole reference would not fit, reference tiles whose top-k are merged.

Ties are broken deterministically on every backend: among equal distances the lower
reference index comes first (faiss does not promise this, faiss#808).
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import array_api_compat as aac

from .._array_api import fill_self, index_dtype, l2_rank_scores, namespace_and_device, no_grad, to_numpy, topk
from .._checks import check_embeddings, check_finite
from ..distances import BaseDistance, LpDistance

Array = Any

#: Default budget (bytes) for the intermediate arrays of one block of a kNN search.
DEFAULT_MEMORY_BUDGET = 256 * 2**20

# Bytes of temporaries per element of a (rows x reference) block, beyond the distance value
# itself: the argpartition/topk index (int64), the self mask, a masked copy.
_KNN_EXTRA_BYTES = 8 + 1 + 8

# Below this many query rows per block, the reference is tiled instead (GEMMs with very few
# rows are inefficient).
_MIN_ROWS = 32


def default_distance() -> BaseDistance:
    """The default kNN distance: plain Euclidean on the raw embeddings.

    ``LpDistance(normalize_embeddings=False)`` ranks neighbours exactly as faiss'
    ``IndexFlatL2`` (PML's default ``FaissKNN``), which returns *squared* L2 distances;
    we return the (non-squared) Euclidean distance.
    """
    return LpDistance(normalize_embeddings=False)


def _check_k(k: Any, available: int, *, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"{name} must be an int, got {type(k).__name__} {k!r}")
    if k < 0:
        raise ValueError(f"{name} must be >= 0, got {k}")
    if k > available:
        raise ValueError(
            f"{name}={k} is larger than the number of available neighbours ({available}: the "
            "reference size, minus 1 when the reference includes the query)"
        )
    return k


def _check_block(block_size: Any, name: str) -> int | None:
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"{name} must be a positive int or None, got {block_size!r}")
    return block_size


def plan_blocks(
    n_query: int,
    n_ref: int,
    k: int,
    bytes_per_elem: int,
    *,
    block_size: int | None = None,
    ref_block_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[int, int]:
    """Choose ``(query rows per block, reference columns per tile)``.

    With ``block_size=None`` the rows are chosen so that ``rows * (tile + k) *
    bytes_per_elem`` stays within ``memory_budget``; the reference is tiled only when fewer
    than 32 rows (or all queries) would fit against the whole reference.
    """
    n_query = max(n_query, 1)
    n_ref = max(n_ref, 1)
    elems = max(1, memory_budget // max(1, bytes_per_elem))
    if block_size is not None and ref_block_size is not None:
        return block_size, ref_block_size
    if ref_block_size is not None:
        rows = max(1, elems // (ref_block_size + k))
        return min(rows, n_query), ref_block_size
    if block_size is not None:
        return block_size, n_ref
    rows = elems // (n_ref + k)
    if rows >= min(_MIN_ROWS, n_query):
        return max(1, min(rows, n_query)), n_ref
    rows = min(_MIN_ROWS, n_query)
    tile = max(1, elems // rows - k)
    return rows, min(max(tile, 1024), n_ref)



def self_mask(rows: int, cols: int, row_offset: int, col_offset: int, xp: Any, device: Any) -> Array:
    """Boolean ``(rows, cols)`` mask of the entries where global query index == global reference index."""
    idt = index_dtype(xp, device)
    r = xp.arange(row_offset, row_offset + rows, dtype=idt, device=device)
    c = xp.arange(col_offset, col_offset + cols, dtype=idt, device=device)
    return xp.expand_dims(r, axis=1) == xp.expand_dims(c, axis=0)


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
    device = aac.device(q_block)
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


def knn(
    query: Array,
    reference: Array,
    k: int,
    *,
    distance: BaseDistance | None = None,
    ref_includes_query: bool = False,
    block_size: int | None = None,
    ref_block_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[Array, Array]:
    """Exact k nearest neighbours of every query row in ``reference``.

    Parameters
    ----------
    query : (Q, D) floating array
    reference : (R, D) floating array of the same namespace and device
    k : int
        Neighbours per query, ``0 <= k <= R`` (``R - 1`` with ``ref_includes_query``).
    distance : BaseDistance, optional
        Default ``LpDistance(normalize_embeddings=False)``: Euclidean on the raw embeddings
        (the ranking of faiss ``IndexFlatL2``, PML's ``FaissKNN``). Similarities
        (``is_inverted``) return the *largest* values first.
    ref_includes_query : bool
        Query ``i`` is reference ``i`` (the first ``Q`` reference rows are the queries): that
        entry is masked inside each block, so each query gets ``k`` neighbours other than
        itself, exactly (PML drops the self index only if the search returned it).
    block_size : int, optional
        Query rows per block. Default: chosen so that one block's temporaries stay within
        ``memory_budget`` bytes (256 MiB).
    ref_block_size : int, optional
        Reference rows per tile; the per-tile top-k are merged. Default: the whole reference
        unless fewer than 32 query rows would fit in the budget against it.
    memory_budget : int
        Bytes allowed for one block's intermediate arrays when sizes are chosen automatically.

    Returns
    -------
    distances : (Q, k) array of the distance's dtype, best first
    indices : (Q, k) int64 array of reference rows. Ties: the lower reference index first.

    A Dask ``query`` is searched chunk by chunk on the Dask scheduler (see
    :mod:`agnostic_ml.accuracy.dask_support`); the results are lazy Dask arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.accuracy import knn
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> d, i = knn(x, x, 1, ref_includes_query=True)
    >>> i.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    if aac.is_dask_array(query):
        from .dask_support import knn_dask

        return knn_dask(
            query, reference, k, distance=distance, ref_includes_query=ref_includes_query,
            block_size=block_size, ref_block_size=ref_block_size, memory_budget=memory_budget,
        )
    dist = default_distance() if distance is None else distance
    if not isinstance(dist, BaseDistance):
        raise TypeError(f"distance must be an agnostic_ml distance, got {type(dist).__name__}")
    xp, device = namespace_and_device(query, reference)
    check_embeddings(query, "query", xp=xp)
    check_embeddings(reference, "reference", xp=xp)
    if reference.shape[1] != query.shape[1]:
        raise ValueError(f"reference has {reference.shape[1]} features but query has {query.shape[1]}")
    if str(aac.device(reference)) != str(device):
        raise ValueError(f"reference is on device {aac.device(reference)} but query is on {device}")
    n_q, n_r = query.shape[0], reference.shape[0]
    if ref_includes_query and n_q > n_r:
        raise ValueError(
            f"ref_includes_query=True needs the queries to be the first rows of the reference, "
            f"but query has {n_q} rows and reference only {n_r}"
        )
    k = _check_k(k, n_r - int(bool(ref_includes_query)))
    block_size = _check_block(block_size, "block_size")
    ref_block_size = _check_block(ref_block_size, "ref_block_size")
    check_finite(query, "query", xp)
    if reference is not query:
        check_finite(reference, "reference", xp)
    itemsize = 8 if query.dtype == xp.float64 else 4
    rows, tile = plan_blocks(
        n_q, n_r, k, 2 * itemsize + _KNN_EXTRA_BYTES,
        block_size=block_size, ref_block_size=ref_block_size, memory_budget=memory_budget,
    )
    idt = index_dtype(xp, device)
    if n_q == 0 or k == 0:
        # Distances come back in the query's dtype (BaseDistance casts its result back).
        return (xp.zeros((n_q, k), dtype=query.dtype, device=device), xp.zeros((n_q, k), dtype=idt, device=device))
    return knn_rows(query, reference, k, distance=dist, offset=0 if ref_includes_query else None, rows=rows, tile=tile, xp=xp)


def knn_rows(
    query: Array, reference: Array, k: int, *, distance: BaseDistance, offset: int | None, rows: int, tile: int, xp: Any
) -> tuple[Array, Array]:
    """The blocked search of :func:`knn` on validated inputs.

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


@runtime_checkable
class KNN(Protocol):
    """What ``AccuracyCalculator(knn_func=...)`` calls (PML's ``knn_func`` protocol).

    ``knn_func(query, k, reference, ref_includes_query) -> (distances, indices)``, both
    ``(len(query), k)``; with ``ref_includes_query`` the neighbours exclude query ``i``
    itself (reference row ``i``).
    """

    def __call__(
        self, query: Array, k: int, reference: Array | None = None, ref_includes_query: bool = False
    ) -> tuple[Array, Array]: ...


class ExactKNN:
    """Exact blocked kNN (:func:`knn`) as a ``knn_func``; the calculator's default.

    ``AccuracyCalculator`` recognises this class and streams its metrics over query blocks
    instead of materialising a ``(Q, k)`` neighbour list.

    Parameters
    ----------
    distance : BaseDistance, optional
        Default ``LpDistance(normalize_embeddings=False)`` (Euclidean, as faiss IndexFlatL2).
    block_size : int, optional
        Query rows per block (default: from a 256 MiB budget).
    memory_budget : int
        Bytes per block when ``block_size`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.accuracy import ExactKNN
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> ExactKNN()(x, 2, x, True)[1].tolist()
    [[1, 2], [0, 2], [1, 0]]
    """

    def __init__(
        self,
        distance: BaseDistance | None = None,
        block_size: int | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        if distance is not None and not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
        self.distance = default_distance() if distance is None else distance
        self.block_size = _check_block(block_size, "block_size")
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 1:
            raise ValueError(f"memory_budget must be a positive int (bytes), got {memory_budget!r}")
        self.memory_budget = memory_budget

    def __call__(
        self, query: Array, k: int, reference: Array | None = None, ref_includes_query: bool = False
    ) -> tuple[Array, Array]:
        ref = query if reference is None else reference
        return knn(
            query, ref, k, distance=self.distance, ref_includes_query=ref_includes_query,
            block_size=self.block_size, memory_budget=self.memory_budget,
        )

    def __repr__(self) -> str:
        return f"ExactKNN(distance={self.distance!r}, block_size={self.block_size})"


def _import_faiss() -> Any:
    try:
        import faiss  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "FaissKNN needs faiss, which is not installed: `pip install faiss-cpu` (or "
            "`pip install agnostic-ml[faiss]`); the default ExactKNN needs no faiss"
        ) from exc
    return faiss


class FaissKNN:
    """kNN through a faiss index (optional; faiss is imported when first called).

    Mirrors PML's ``FaissKNN``: ``index_init_fn(dim)`` builds the index (default
    ``faiss.IndexFlatL2``, which returns *squared* L2 distances, as in PML). Inputs go
    through the host as float32 and results come back in the query's namespace and device.
    With ``ref_includes_query`` it searches ``k + 1`` neighbours and drops the query itself,
    or the last neighbour when ties pushed the query out of the list (then at least ``k + 1``
    references are at distance 0 and any ``k`` of them are a correct answer).

    Parameters
    ----------
    index_init_fn : callable, optional
        ``dim -> faiss index``.
    """

    def __init__(self, index_init_fn: Any = None) -> None:
        self.index_init_fn = index_init_fn

    def __call__(
        self, query: Array, k: int, reference: Array | None = None, ref_includes_query: bool = False
    ) -> tuple[Array, Array]:
        import numpy as np

        faiss = _import_faiss()
        ref = query if reference is None else reference
        xp, device = namespace_and_device(query, ref)
        check_embeddings(query, "query", xp=xp)
        check_embeddings(ref, "reference", xp=xp)
        n_q = query.shape[0]
        k = _check_k(k, ref.shape[0] - int(bool(ref_includes_query)))
        q = np.ascontiguousarray(to_numpy(query), dtype=np.float32)
        r = np.ascontiguousarray(to_numpy(ref), dtype=np.float32)
        init = faiss.IndexFlatL2 if self.index_init_fn is None else self.index_init_fn
        index = init(q.shape[1])
        index.add(r)
        kk = k + int(bool(ref_includes_query))
        if kk == 0 or n_q == 0:
            d = np.zeros((n_q, k), dtype=np.float32)
            i = np.zeros((n_q, k), dtype=np.int64)
        else:
            d, i = index.search(q, kk)
        if ref_includes_query and kk:
            is_self = i == np.arange(n_q)[:, None]
            missing = ~is_self.any(axis=1)
            is_self[missing, -1] = True
            keep = ~is_self
            d = d[keep].reshape(n_q, k)
            i = i[keep].reshape(n_q, k)
        out_dtype = query.dtype
        return (
            xp.asarray(np.ascontiguousarray(d), dtype=out_dtype, device=device),
            xp.asarray(np.ascontiguousarray(i, dtype=np.int64), dtype=index_dtype(xp, device), device=device),
        )
