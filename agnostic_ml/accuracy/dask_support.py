"""Scale-out of kNN and retrieval metrics with Dask: query chunks run on the cluster.

When the query is a Dask array, each chunk of query rows becomes one task that runs the
in-memory, blocked computation (:func:`agnostic_ml.accuracy.knn.knn_rows` or a pass of
:mod:`agnostic_ml.accuracy.ranking` / :mod:`agnostic_ml.accuracy.fnmr`) against the whole
reference. The reference (a Dask reference is computed first, on the client) is shipped
once with the label data: scattered to every worker (``broadcast=True``) when a
``dask.distributed`` client is active; the local schedulers share it by reference. Only small results come back: the top-k of each query for :func:`knn`, or one
value per query (per metric) for ``AccuracyCalculator.get_accuracy``; the numbers are the
same as in memory.

Dask is imported only when a Dask array is given.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as aac
import numpy as np

from .._array_api import to_numpy
from .._checks import check_embeddings, check_finite
from ..distances import BaseDistance
from .fnmr import FnmrPass, _merge, run_fnmr_pass
from .knn import DEFAULT_MEMORY_BUDGET, _KNN_EXTRA_BYTES, _check_block, _check_k, default_distance, knn_rows, plan_blocks
from .ranking import ChunkContext, RankJob, RankOutput, run_rank_job

Array = Any


def _client() -> Any:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _share(obj: Any) -> Any:
    """One handle on ``obj`` for every task: a future scattered to every worker when a
    ``dask.distributed`` client is active; otherwise the object itself (the local
    schedulers run in this process and pass it by reference)."""
    client = _client()
    if client is not None:
        return client.scatter(obj, broadcast=True, hash=False)
    return obj


def _materialize(x: Any) -> Any:
    return x.compute() if aac.is_dask_array(x) else x


def _chunks(query: Any) -> tuple[list[Any], list[int]]:
    q = query.rechunk({1: -1}) if len(query.chunks[1]) > 1 else query
    blocks = list(q.to_delayed().ravel())
    offsets = [0]
    for c in q.chunks[0][:-1]:
        offsets.append(offsets[-1] + int(c))
    return blocks, offsets


def _knn_chunk(block: Array, reference: Array, k: int, offset: int | None, distance: BaseDistance,
               rows: int | None, ref_block_size: int | None, memory_budget: int) -> tuple[Array, Array]:
    xp = aac.array_namespace(block)
    check_finite(block, "query", xp)
    itemsize = 8 if block.dtype == xp.float64 else 4
    r, tile = plan_blocks(block.shape[0], reference.shape[0], k, 2 * itemsize + _KNN_EXTRA_BYTES,
                          block_size=rows, ref_block_size=ref_block_size, memory_budget=memory_budget)
    if block.shape[0] == 0 or k == 0:
        dev = aac.device(block)
        return (xp.zeros((block.shape[0], k), dtype=block.dtype, device=dev), xp.zeros((block.shape[0], k), dtype=xp.int64, device=dev))
    return knn_rows(block, reference, k, distance=distance, offset=offset, rows=r, tile=tile, xp=xp)


def knn_dask(
    query: Any, reference: Any, k: int, *, distance: BaseDistance | None, ref_includes_query: bool,
    block_size: int | None, ref_block_size: int | None, memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> tuple[Any, Any]:
    """:func:`agnostic_ml.accuracy.knn` for a Dask ``query``: lazy ``(distances, indices)`` Dask arrays."""
    import dask
    import dask.array as da

    dist = default_distance() if distance is None else distance
    if not isinstance(dist, BaseDistance):
        raise TypeError(f"distance must be an agnostic_ml distance, got {type(dist).__name__}")
    if query.ndim != 2:
        raise ValueError(f"query must be 2-D (batch, features), got shape {tuple(query.shape)}")
    if not np.issubdtype(query.dtype, np.floating):
        raise TypeError(f"query must have a real floating dtype, got {query.dtype}")
    # The whole reference goes to every task: a Dask reference is computed here once.
    ref = _materialize(reference)
    xr = aac.array_namespace(ref)
    check_embeddings(ref, "reference", xp=xr)
    check_finite(ref, "reference", xr)
    if ref.ndim != 2 or ref.shape[1] != query.shape[1]:
        raise ValueError(f"reference must be 2-D with {query.shape[1]} features, got shape {tuple(ref.shape)}")
    n_q, n_r = int(query.shape[0]), int(ref.shape[0])
    if ref_includes_query and n_q > n_r:
        raise ValueError(f"ref_includes_query=True but query has {n_q} rows and reference only {n_r}")
    k = _check_k(k, n_r - int(bool(ref_includes_query)))
    rows = _check_block(block_size, "block_size")
    tile = _check_block(ref_block_size, "ref_block_size")
    shared = _share(ref)
    blocks, offsets = _chunks(query)
    out_d, out_i = [], []
    for blk, off, n in zip(blocks, offsets, query.chunks[0]):
        task = dask.delayed(_knn_chunk, nout=2, pure=True)(
            blk, shared, k, off if ref_includes_query else None, dist, rows, tile, memory_budget
        )
        out_d.append(da.from_delayed(task[0], shape=(int(n), k), dtype=query.dtype))
        out_i.append(da.from_delayed(task[1], shape=(int(n), k), dtype=np.int64))
    if not out_d:
        return da.zeros((0, k), dtype=query.dtype), da.zeros((0, k), dtype=np.int64)
    return da.concatenate(out_d, axis=0), da.concatenate(out_i, axis=0)


# -- AccuracyCalculator ------------------------------------------------------------------------------
def _rank_chunk(block: Array, offset: int, ctx: ChunkContext, job: RankJob) -> RankOutput:
    xp = aac.array_namespace(block)
    check_finite(block, "query", xp)
    out = run_rank_job(block, offset, ctx, job, xp)
    if out.knn_indices is not None:
        out.knn_distances = np.asarray(to_numpy(out.knn_distances))
        out.knn_indices = np.asarray(to_numpy(out.knn_indices))
    return out


def _fnmr_chunk(block: Array, offset: int, ctx: ChunkContext, job: FnmrPass) -> Any:
    xp = aac.array_namespace(block)
    return run_fnmr_pass(block, offset, ctx, job, xp)


class DaskRunner:
    """Runs the calculator's passes over the chunks of a Dask query (see :class:`_LocalRunner`)."""

    def __init__(self, query: Any) -> None:
        self.query = query
        self.key_dtype = np.dtype(query.dtype)
        self.blocks, self.offsets = _chunks(query)
        self._shared: dict[int, Any] = {}

    def _ctx(self, ctx: ChunkContext) -> Any:
        key = id(ctx)
        if key not in self._shared:
            self._shared[key] = (ctx, _share(ctx))
        return self._shared[key][1]

    def _run(self, fn: Any, ctx: ChunkContext, job: Any) -> list[Any]:
        import dask

        shared = self._ctx(ctx)
        tasks = [dask.delayed(fn, pure=True)(b, off, shared, job) for b, off in zip(self.blocks, self.offsets)]
        return list(dask.compute(*tasks))

    def rank(self, ctx: ChunkContext, job: RankJob) -> RankOutput:
        parts = self._run(_rank_chunk, ctx, job)
        values = {n: np.concatenate([p.values[n] for p in parts]) for n in job.metrics}
        out = RankOutput(values)
        if job.plan.keep_knn:
            out.knn_distances = np.concatenate([p.knn_distances for p in parts], axis=0)
            out.knn_indices = np.concatenate([p.knn_indices for p in parts], axis=0)
        return out

    def fnmr(self, ctx: ChunkContext, job: FnmrPass) -> Any:
        return _merge(job, self._run(_fnmr_chunk, ctx, job))

    def gather_labels(self, reference_labels: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.take(reference_labels, idx, axis=0)


def get_accuracy_dask(
    calc: Any, query: Any, query_labels: Any, reference: Any, reference_labels: Any, ref_includes_query: bool
) -> dict[str, Any]:
    """``AccuracyCalculator.get_accuracy`` for a Dask ``query`` (the calculator's default kNN only)."""
    import dask.array as da
    from array_api_compat import numpy as xnp

    from .knn import ExactKNN
    from .labels import prepare_accuracy_labels

    if not isinstance(calc.knn_func, ExactKNN):
        raise ValueError("a Dask query needs the default ExactKNN knn_func (other knn_funcs run in memory)")
    if query.ndim != 2:
        raise ValueError(f"query must be 2-D (batch, features), got shape {tuple(query.shape)}")
    if not np.issubdtype(query.dtype, np.floating):
        raise TypeError(f"query must have a real floating dtype, got {query.dtype}")
    same = reference is query
    ref = np.asarray(to_numpy(_materialize(reference)))
    check_embeddings(ref, "reference", xp=xnp)
    calc._check_shapes(query, ref, ref_includes_query)
    check_finite(ref, "reference", xnp)
    ql = np.asarray(to_numpy(_materialize(query_labels)))
    rl = ql if (same and reference_labels is query_labels) else np.asarray(to_numpy(_materialize(reference_labels)))
    qlab = prepare_accuracy_labels(ql, int(query.shape[0]), xnp, "cpu", name="query_labels")
    rlab = prepare_accuracy_labels(rl, ref.shape[0], xnp, "cpu", name="reference_labels")
    if ref_includes_query and not same:
        n = int(query.shape[0])
        head = ref[:n]
        close = bool(da.all(da.abs(query - head) <= 1e-8 + 1e-5 * np.abs(head)).compute())
        if not close or not np.array_equal(qlab, rlab[:n]):
            raise ValueError(
                "When ref_includes_query is True, the first len(query) elements of reference must be "
                "equal to query, and the first len(query_labels) elements of reference_labels must "
                "be equal to query_labels."
            )
    return calc._evaluate(DaskRunner(query), query, ref, qlab, rlab, ref_includes_query, xnp)
