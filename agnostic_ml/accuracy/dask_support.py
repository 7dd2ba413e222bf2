"""Scale-out of kNN and retrieval metrics with Dask: query chunks run on the cluster.

When the query is a Dask array, each chunk of query rows becomes one task that runs the
in-memory, blocked computation (:func:`agnostic_ml.accuracy._search.search` or a pass of
:mod:`agnostic_ml.accuracy.ranking` / :mod:`agnostic_ml.accuracy.fnmr`) against the whole
reference. The reference (a Dask reference is computed first, on the client) is shipped
once with the label data: scattered to every worker (``broadcast=True``) when a
``dask.distributed`` client is active; the local schedulers share it by reference. Only
small results come back: the top-k of each query for :func:`knn`, or one value per query
(per metric) for ``AccuracyCalculator.get_accuracy``; the numbers are the same as in memory.

This is the one module that knows Dask: :func:`~agnostic_ml.accuracy.knn` and
``AccuracyCalculator.get_accuracy`` hand a Dask query to :func:`knn_dask` /
:func:`accuracy_inputs`, and :func:`materialize` computes a Dask array where all of it is
needed at once (k-means). Dask itself is imported only when a Dask array is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import is_dask_array, namespace_and_device, to_numpy
from .._checks import check_embeddings, check_finite
from .._checks import check_finite as check_finite_  # where an argument is named check_finite
from ..distances import BaseDistance
from ._backend_extras import host_namespace
from ._blocks import DEFAULT_MEMORY_BUDGET, check_search
from ._inputs import PREFIX_MISMATCH, check_accuracy_shapes, check_features
from ._search import resolve_distance, search
from .fnmr import FnmrPass, merge_parts, run_fnmr_pass
from .labels import prepare_accuracy_labels
from .ranking import ChunkContext, RankJob, RankOutput, run_rank_job

__all__ = ["DaskRunner", "accuracy_inputs", "knn_dask", "materialize"]

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


def materialize(x: Any) -> Any:
    """``x`` computed into memory if it is a Dask array, else ``x`` itself."""
    return x.compute() if is_dask_array(x) else x


def _chunks(query: Any) -> tuple[list[Any], list[int]]:
    q = query.rechunk({1: -1}) if len(query.chunks[1]) > 1 else query
    blocks = list(q.to_delayed().ravel())
    offsets = [0]
    for c in q.chunks[0][:-1]:
        offsets.append(offsets[-1] + int(c))
    return blocks, offsets


def _knn_chunk(block: Array, reference: Array, k: int, offset: int | None, distance: BaseDistance,
               rows: int | None, ref_block_size: int | None, memory_budget: int,
               finite: bool = True, row0: int = 0) -> tuple[Array, Array]:
    xp, _ = namespace_and_device(block)
    if finite:
        check_finite(block, "query", xp, where="knn", row_offset=row0)
    return search(block, reference, k, distance=distance, offset=offset, block_size=rows,
                  ref_block_size=ref_block_size, memory_budget=memory_budget, xp=xp)


def knn_dask(
    query: Any, reference: Any, k: int, *, distance: BaseDistance | None, ref_includes_query: bool,
    block_size: int | None, ref_block_size: int | None, memory_budget: int = DEFAULT_MEMORY_BUDGET,
    check_finite: bool = True,
) -> tuple[Any, Any]:
    """:func:`agnostic_ml.accuracy.knn` for a Dask ``query``: lazy ``(distances, indices)`` Dask arrays.

    ``check_finite``: the reference is checked here, each query chunk in its task.
    """
    import dask
    import dask.array as da

    dist = resolve_distance(distance)
    check_embeddings(query, "query")
    # The whole reference goes to every task: a Dask reference is computed here once.
    ref = materialize(reference)
    xr, _ = namespace_and_device(ref)
    check_embeddings(ref, "reference", xp=xr)
    if check_finite:
        check_finite_(ref, "reference", xr, where="knn")
    check_features(query, ref)
    k, rows, tile = check_search(int(query.shape[0]), int(ref.shape[0]), k, ref_includes_query, block_size, ref_block_size)
    shared = _share(ref)
    blocks, offsets = _chunks(query)
    out_d, out_i = [], []
    for blk, off, n in zip(blocks, offsets, query.chunks[0]):
        task = dask.delayed(_knn_chunk, nout=2, pure=True)(
            blk, shared, k, off if ref_includes_query else None, dist, rows, tile, memory_budget, check_finite, off
        )
        out_d.append(da.from_delayed(task[0], shape=(int(n), k), dtype=query.dtype))
        out_i.append(da.from_delayed(task[1], shape=(int(n), k), dtype=np.int64))
    if not out_d:
        return da.zeros((0, k), dtype=query.dtype), da.zeros((0, k), dtype=np.int64)
    return da.concatenate(out_d, axis=0), da.concatenate(out_i, axis=0)


# -- AccuracyCalculator ------------------------------------------------------------------------------
def _rank_chunk(block: Array, offset: int, ctx: ChunkContext, job: RankJob, finite: bool = True) -> RankOutput:
    xp, _ = namespace_and_device(block)
    if finite:
        check_finite(block, "query", xp, where="AccuracyCalculator.get_accuracy", row_offset=offset)
    out = run_rank_job(block, offset, ctx, job, xp)
    if out.knn_indices is not None:
        out.knn_distances = np.asarray(to_numpy(out.knn_distances))
        out.knn_indices = np.asarray(to_numpy(out.knn_indices))
    return out


def _fnmr_chunk(block: Array, offset: int, ctx: ChunkContext, job: FnmrPass, finite: bool = True) -> Any:
    xp, _ = namespace_and_device(block)
    return run_fnmr_pass(block, offset, ctx, job, xp)


class DaskRunner:
    """Runs the calculator's passes over the chunks of a Dask query (as
    :class:`agnostic_ml.accuracy._local.LocalRunner` does in memory)."""

    def __init__(self, query: Any, check_finite: bool = True) -> None:
        self.query = query
        self.check_finite = check_finite  # each query chunk is checked by the rank pass
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
        tasks = [
            dask.delayed(fn, pure=True)(b, off, shared, job, self.check_finite) for b, off in zip(self.blocks, self.offsets)
        ]
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
        return merge_parts(job, self._run(_fnmr_chunk, ctx, job))

    def gather_labels(self, reference_labels: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.take(reference_labels, idx, axis=0)


def accuracy_inputs(
    query: Any, query_labels: Any, reference: Any, reference_labels: Any, ref_includes_query: bool,
    check_finite: bool = True,
) -> tuple[DaskRunner, Any, np.ndarray, np.ndarray, np.ndarray, Any]:
    """Checked inputs of ``AccuracyCalculator.get_accuracy`` for a Dask ``query``.

    Returns ``(runner, query, reference, query_labels, reference_labels, xp)``: the reference
    and the labels computed into host NumPy arrays (``xp`` is the compat NumPy namespace).
    """
    import dask.array as da

    check_embeddings(query, "query")
    same = reference is query
    xnp = host_namespace()
    ref = np.asarray(to_numpy(materialize(reference)))
    check_embeddings(ref, "reference", xp=xnp)
    check_accuracy_shapes(query, ref, ref_includes_query)
    if check_finite:
        check_finite_(ref, "reference", xnp, where="AccuracyCalculator.get_accuracy")
    ql = np.asarray(to_numpy(materialize(query_labels)))
    rl = ql if (same and reference_labels is query_labels) else np.asarray(to_numpy(materialize(reference_labels)))
    qlab = prepare_accuracy_labels(ql, int(query.shape[0]), xnp, "cpu", name="query_labels")
    rlab = prepare_accuracy_labels(rl, ref.shape[0], xnp, "cpu", name="reference_labels")
    if ref_includes_query and not same:
        n = int(query.shape[0])
        head = ref[:n]
        close = bool(da.all(da.abs(query - head) <= 1e-8 + 1e-5 * np.abs(head)).compute())
        if not close or not np.array_equal(qlab, rlab[:n]):
            raise ValueError(PREFIX_MISMATCH)
    return DaskRunner(query, check_finite), query, ref, qlab, rlab, xnp
