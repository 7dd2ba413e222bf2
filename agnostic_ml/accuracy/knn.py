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

from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._array_api import index_dtype, is_dask_array, namespace_and_device, to_numpy
from .._budget import DEFAULT_OUTPUT_BUDGET, check_output_budget, check_output_size
from .._checks import check_all_finite, check_embeddings
from . import dask_support
from ._blocks import DEFAULT_MEMORY_BUDGET, check_block, check_k, check_memory_budget, check_search
from ._blocks import plan_blocks  # noqa: F401  (the block sizes knn chooses; importable from here)
from ._inputs import check_features, check_same_device
from ._search import resolve_distance, search
from ..distances import BaseDistance

Array = Any

__all__ = ["DEFAULT_MEMORY_BUDGET", "KNN", "ExactKNN", "FaissKNN", "knn"]


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
    check_finite: bool = True,
    output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
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
    check_finite : bool, default True
        The library's non-finite policy: NaN or inf in ``query`` or ``reference`` raises
        ``ValueError`` naming the array and its first bad row (one reduction over both and
        one host sync); False skips it (a NaN row then ranks arbitrarily).
    output_budget : int or None, default :data:`agnostic_ml.DEFAULT_OUTPUT_BUDGET` (2**28)
        The most ``(query, neighbour)`` entries (``Q * k``) the result may hold; a larger
        ``k`` raises :class:`agnostic_ml.OutputTooLargeError` before anything is computed.
        None: no limit.

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
    budget = check_output_budget(output_budget)
    if is_dask_array(query):
        if isinstance(k, int) and not isinstance(k, bool):
            _check_knn_output(int(query.shape[0]), k, query.dtype == np.float64, budget)
        return dask_support.knn_dask(
            query, reference, k, distance=distance, ref_includes_query=ref_includes_query,
            block_size=block_size, ref_block_size=ref_block_size, memory_budget=memory_budget,
            check_finite=check_finite,
        )
    dist = resolve_distance(distance)
    xp, device = namespace_and_device(query, reference)
    check_embeddings(query, "query", xp=xp)
    check_embeddings(reference, "reference", xp=xp)
    check_features(query, reference)
    check_same_device(reference, device)
    k, block_size, ref_block_size = check_search(
        query.shape[0], reference.shape[0], k, ref_includes_query, block_size, ref_block_size
    )
    _check_knn_output(int(query.shape[0]), k, query.dtype == xp.float64, budget)
    if check_finite:
        check_all_finite({"query": query, "reference": None if reference is query else reference}, xp=xp, where="knn")
    return search(
        query, reference, k, distance=dist, offset=0 if ref_includes_query else None,
        block_size=block_size, ref_block_size=ref_block_size, memory_budget=memory_budget, xp=xp,
    )


def _check_knn_output(n_query: int, k: int, float64: bool, budget: int | None) -> None:
    check_output_size(
        n_query * k, budget, where="knn", what="(query, neighbour) entries", bytes_per_item=8 + (8 if float64 else 4),
        way_out="use a smaller k, or search fewer queries at a time",
    )


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
    check_finite, output_budget
        As in :func:`knn`.

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
        check_finite: bool = True,
        output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
    ) -> None:
        self.distance = resolve_distance(distance)
        self.block_size = check_block(block_size, "block_size")
        self.memory_budget = check_memory_budget(memory_budget)
        if not isinstance(check_finite, bool):
            raise TypeError(f"check_finite must be a bool, got {check_finite!r}")
        self.check_finite = check_finite
        self.output_budget = check_output_budget(output_budget)

    def __call__(
        self, query: Array, k: int, reference: Array | None = None, ref_includes_query: bool = False
    ) -> tuple[Array, Array]:
        ref = query if reference is None else reference
        return knn(
            query, ref, k, distance=self.distance, ref_includes_query=ref_includes_query,
            block_size=self.block_size, memory_budget=self.memory_budget,
            check_finite=self.check_finite, output_budget=self.output_budget,
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
    check_finite : bool, default True
        As in :func:`knn` (faiss would rank a NaN row arbitrarily).
    """

    def __init__(self, index_init_fn: Any = None, check_finite: bool = True) -> None:
        self.index_init_fn = index_init_fn
        self.check_finite = check_finite

    def __call__(
        self, query: Array, k: int, reference: Array | None = None, ref_includes_query: bool = False
    ) -> tuple[Array, Array]:
        import numpy as np

        ref = query if reference is None else reference
        xp, device = namespace_and_device(query, ref)
        check_embeddings(query, "query", xp=xp)
        check_embeddings(ref, "reference", xp=xp)
        n_q = query.shape[0]
        k = check_k(k, ref.shape[0] - int(bool(ref_includes_query)))
        if self.check_finite:
            check_all_finite({"query": query, "reference": None if ref is query else ref}, xp=xp, where="FaissKNN")
        faiss = _import_faiss()  # after the input checks: bad input is reported as such without faiss too
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
