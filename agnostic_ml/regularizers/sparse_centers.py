"""SparseCentersRegularizer: the centres of a class should spread apart (SoftTriple's regularizer)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import from_host_indices, namespace_and_device, no_grad
from .._checks import check_embeddings
from ..distances import BaseDistance, CosineSimilarity
from ..reducers import BaseReducer, DivisorReducer
from .base import BaseRegularizer

Array = Any

__all__ = ["SparseCentersRegularizer", "sparse_centers_regularization"]


def sparse_centers_regularization(sim: Array, rows: Array, cols: Array) -> Array:
    """Per same-class centre pair ``(r, c)``: ``sqrt(2 + tiny - min(2 sim_rc, 2))``.

    ``sqrt(2 - 2 cos)`` is the Euclidean distance of unit vectors; ``tiny`` (the dtype's
    smallest normal number) keeps the square root differentiable at ``cos = 1``. The
    pairs ``(rows[k], cols[k])`` are the upper-triangular pairs of centres of one class.

    Examples
    --------
    >>> import numpy as np
    >>> sparse_centers_regularization(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([0]), np.array([1])).tolist()
    [1.0]
    """
    xp, _ = namespace_and_device(sim)
    tiny = float(xp.finfo(sim.dtype).smallest_normal)
    pair_sim = xp.take(xp.reshape(sim, (-1,)), rows * sim.shape[1] + cols)
    s = xp.clip(2.0 * pair_sim, None, 2)
    return xp.sqrt(2.0 + tiny - s)


class SparseCentersRegularizer(BaseRegularizer):
    """PML's ``SparseCentersRegularizer(num_classes, centers_per_class)`` (SoftTriple, Qian et al. 2019).

    Meant as ``SoftTripleLoss``'s ``weight_regularizer`` (rows: the
    ``num_classes * centers_per_class`` centres, class-major). The penalty is
    :func:`sparse_centers_regularization` over the pairs of centres of the same class,
    summed and divided by ``2 * (number of pairs)`` (default :class:`DivisorReducer`).
    ``collect_stats`` records ``same_class_center_sim`` and ``diff_class_center_sim``
    (mean similarities, 0-D arrays). The distance must be :class:`CosineSimilarity`
    (PML asserts); ``centers_per_class`` must be at least 2.

    Examples
    --------
    >>> import numpy as np
    >>> reg = SparseCentersRegularizer(num_classes=1, centers_per_class=2)
    >>> round(float(reg(np.array([[1.0, 0.0], [0.0, 1.0]]))), 4)
    0.7071
    """

    def __init__(self, num_classes: int, centers_per_class: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(centers_per_class, bool) or not isinstance(centers_per_class, (int, np.integer)) or centers_per_class <= 1:
            raise ValueError(f"SparseCentersRegularizer: centers_per_class must be an int > 1, got {centers_per_class!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"SparseCentersRegularizer: num_classes must be a positive int, got {num_classes!r}")
        self.check_distance(CosineSimilarity)
        self.num_classes = int(num_classes)
        self.centers_per_class = int(centers_per_class)
        self.set_class_masks(self.num_classes, self.centers_per_class)

    def set_class_masks(self, num_classes: int, centers_per_class: int) -> None:
        """Host (NumPy) masks of the same-class upper-triangular pairs and the different-class pairs."""
        total = num_classes * centers_per_class
        block = np.repeat(np.arange(num_classes), centers_per_class)
        same_block = block[:, None] == block[None, :]
        self.diff_class_mask = ~same_block
        self.same_class_mask = np.logical_and(same_block, np.triu(np.ones((total, total), dtype=bool), k=1))
        self._same_rows, self._same_cols = np.nonzero(self.same_class_mask)

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_default_reducer(self) -> BaseReducer:
        return DivisorReducer()

    def compute_loss(self, weights: Array) -> dict:
        check_embeddings(weights, "weights")
        total = self.num_classes * self.centers_per_class
        if weights.shape[0] != total:
            raise ValueError(
                f"SparseCentersRegularizer was built for num_classes * centers_per_class = {total} centres "
                f"but got {weights.shape[0]} rows"
            )
        xp, device = namespace_and_device(weights)
        sim = self.distance(weights)
        rows = from_host_indices(self._same_rows, xp, device)
        cols = from_host_indices(self._same_cols, xp, device)
        reg = sparse_centers_regularization(sim, rows, cols)
        self.set_stats(sim)
        return self.element_loss_dict(reg, divisor=2 * int(self._same_rows.shape[0]))

    def set_stats(self, center_similarities: Array) -> None:
        if not self.collect_stats:
            return
        xp, device = namespace_and_device(center_similarities)
        with no_grad(xp):
            same = xp.asarray(self.same_class_mask, device=device)
            diff = xp.asarray(self.diff_class_mask, device=device)
            zero = xp.zeros_like(center_similarities)
            for name, mask in (("same_class_center_sim", same), ("diff_class_center_sim", diff)):
                count = xp.sum(xp.astype(mask, center_similarities.dtype))
                self.record(**{name: xp.sum(xp.where(mask, center_similarities, zero)) / count})
