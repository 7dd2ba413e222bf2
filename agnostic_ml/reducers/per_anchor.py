"""PerAnchorReducer: average each anchor's pair losses, then reduce over anchors."""

from __future__ import annotations

from typing import Any, Callable

from .._array_api import index_dtype, namespace_and_device, weighted_bincount
from .._checks import check_index_range
from .._typing import Array
from .base import BaseReducer
from .mean import MeanReducer


def mean_over_present(sums: Array, counts: Array) -> Array:
    """PML's default aggregation: ``sums / counts`` per anchor, 0 for anchors without tuples.

    Examples
    --------
    >>> import numpy as np
    >>> mean_over_present(np.asarray([3.0, 0.0, 4.0]), np.asarray([2.0, 0.0, 1.0])).tolist()
    [1.5, 0.0, 4.0]
    """
    xp, _ = namespace_and_device(sums)
    present = counts > 0
    return xp.where(present, sums / xp.where(present, counts, xp.ones_like(counts)), xp.zeros_like(sums))


class PerAnchorReducer(BaseReducer):
    """Aggregate tuple losses per anchor, then reduce the per-anchor values (PML's ``PerAnchorReducer``).

    For ``pos_pair``/``neg_pair`` (and ``triplet``) losses ``L_k`` with anchors ``a_k``:
    ``v_i = aggregation_func(S_i, C_i)`` with ``S_i = sum_{a_k = i} L_k`` and
    ``C_i = #{k : a_k = i}`` for every batch row ``i < len(embeddings)`` (by default the
    mean over the anchor's tuples, 0 without any), then ``reducer`` reduces ``v`` as
    ``element`` losses with indices ``arange(B)``. ``element`` losses go to ``reducer``
    unchanged.

    Fixes and differences from PML:

    - PML scatters the losses into a B x B matrix indexed by ``(anchor, other)``, which
      raises IndexError when the reference set is larger than the batch (CrossBatchMemory,
      ``ref_emb``) and costs O(B^2). Here the aggregation is a segment sum over anchors:
      O(#tuples), any reference size.
    - An anchor outside ``[0, len(embeddings))`` raises ``ValueError`` naming the anchors
      (PML: a bare IndexError, or a CUDA device-side assert); one host sync per call.
    - A pair that occurs twice counts twice (PML's scatter keeps one of them, which one is
      unspecified on CUDA).
    - ``triplet`` losses are aggregated per anchor in the same way (PML raises
      NotImplementedError).
    - ``aggregation_func(sums, counts)`` receives the per-anchor sums and counts (arrays of
      shape (B,)) instead of PML's B x B matrix; the default is :func:`mean_over_present`.

    Parameters
    ----------
    reducer : BaseReducer, optional
        Default :class:`MeanReducer`.
    aggregation_func : callable ``(sums, counts) -> values``, optional

    Examples
    --------
    >>> import numpy as np
    >>> d = {"l": {"losses": np.asarray([1.0, 3.0, 4.0]), "indices": (np.asarray([0, 0, 1]), np.asarray([5, 6, 7])),
    ...            "reduction_type": "pos_pair"}}
    >>> PerAnchorReducer()(d, np.zeros((3, 2)), None).item()  # mean of (2, 4, 0)
    2.0
    """

    def __init__(
        self,
        reducer: BaseReducer | None = None,
        aggregation_func: Callable[[Array, Array], Array] = mean_over_present,
        collect_stats: bool = False,
    ) -> None:
        super().__init__(collect_stats=collect_stats)
        if not callable(aggregation_func):
            raise TypeError(f"aggregation_func must be callable, got {aggregation_func!r}")
        self.reducer = MeanReducer() if reducer is None else reducer
        self.aggregation_func = aggregation_func

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self.reducer({"loss": {"losses": losses, "indices": loss_indices, "reduction_type": "element"}}, embeddings, labels)

    def _per_anchor(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        xp, device = namespace_and_device(losses)
        b = embeddings.shape[0]
        anchors = loss_indices[0]
        check_index_range(anchors, b, "loss indices[0] (anchors)", xp=xp, what="rows of embeddings")
        sums = weighted_bincount(anchors, losses, b, xp=xp)
        counts = weighted_bincount(anchors, xp.ones_like(losses), b, xp=xp)
        values = self.aggregation_func(sums, counts)
        idx = xp.arange(b, dtype=index_dtype(xp, device), device=device)
        return self.reducer({"loss": {"losses": values, "indices": idx, "reduction_type": "element"}}, embeddings, labels)

    pos_pair_reduction = _per_anchor
    neg_pair_reduction = _per_anchor
    triplet_reduction = _per_anchor

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reducer={self.reducer!r})"
