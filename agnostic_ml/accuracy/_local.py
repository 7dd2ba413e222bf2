"""``get_accuracy`` on in-memory arrays: checked inputs, and the runner of the passes.

The counterpart of :mod:`agnostic_ml.accuracy.dask_support` (a Dask query): both return
``(runner, query, reference, query_labels, reference_labels, xp)`` for
``AccuracyCalculator._evaluate``, and both runners offer ``rank``, ``fnmr`` and
``gather_labels`` over all queries, with ``query`` and ``key_dtype`` (the distances' dtype
as NumPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import namespace_and_device, to_numpy
from .._checks import check_all_finite, check_embeddings
from ._backend_extras import to_device
from ._inputs import PREFIX_MISMATCH, check_accuracy_shapes, check_same_device
from .fnmr import FnmrPass, run_fnmr_pass
from .labels import prepare_accuracy_labels
from .ranking import ChunkContext, RankJob, RankOutput, run_rank_job

__all__ = ["LocalRunner", "in_memory_inputs"]

Array = Any


def in_memory_inputs(
    query: Array, query_labels: Any, reference: Array, reference_labels: Any, ref_includes_query: bool, device: Any,
    check_finite: bool = True,
) -> tuple["LocalRunner", Array, Array, Array, Array, Any]:
    """Checked inputs of ``get_accuracy`` for in-memory arrays, moved to ``device`` if given.

    Returns ``(runner, query, reference, query_labels, reference_labels, xp)``; the labels are
    converted once to the embeddings' namespace and device. ``check_finite``: the non-finite
    policy on ``query`` and ``reference`` (one reduction over both, one host sync).
    """
    same = reference is query
    if device is not None:
        query = to_device(query, device)
        reference = query if same else to_device(reference, device)
    xp, device = namespace_and_device(query, reference)
    check_embeddings(query, "query", xp=xp)
    check_embeddings(reference, "reference", xp=xp)
    check_accuracy_shapes(query, reference, ref_includes_query)
    check_same_device(reference, device)
    qlab = prepare_accuracy_labels(query_labels, query.shape[0], xp, device, name="query_labels")
    rlab = qlab if (same and reference_labels is query_labels) else prepare_accuracy_labels(
        reference_labels, reference.shape[0], xp, device, name="reference_labels"
    )
    if check_finite:
        check_all_finite(
            {"query": query, "reference": None if same else reference}, xp=xp, where="AccuracyCalculator.get_accuracy"
        )
    if ref_includes_query and not same:
        n = query.shape[0]
        head = reference[:n, ...]
        close = xp.all(xp.abs(query - head) <= 1e-8 + 1e-5 * xp.abs(head))
        same_lab = xp.all(qlab == rlab[:n, ...])
        if not (bool(to_numpy(close)) and bool(to_numpy(same_lab))):
            raise ValueError(PREFIX_MISMATCH)
    return LocalRunner(query, xp), query, reference, qlab, rlab, xp


class LocalRunner:
    """Runs passes over an in-memory query array (blocks are made inside each pass)."""

    def __init__(self, query: Array, xp: Any) -> None:
        self.query = query
        self.xp = xp
        # dtype of the distances (BaseDistance returns the embeddings' dtype), as NumPy
        self.key_dtype = np.asarray(to_numpy(query[:1, :1])).dtype

    def rank(self, ctx: ChunkContext, job: RankJob) -> RankOutput:
        return run_rank_job(self.query, 0, ctx, job, self.xp)

    def fnmr(self, ctx: ChunkContext, job: FnmrPass) -> Any:
        return run_fnmr_pass(self.query, 0, ctx, job, self.xp)

    def gather_labels(self, reference_labels: Array, idx: Array) -> Array:
        xp = self.xp
        n, k = idx.shape
        lab = xp.take(reference_labels, xp.reshape(idx, (n * k,)), axis=0)
        return xp.reshape(lab, (n, k) + tuple(reference_labels.shape[1:]))
