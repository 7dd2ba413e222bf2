"""ThresholdConsistentMarginLoss (TCM): hinges that keep positives above ``margin_plus`` and negatives below ``margin_minus``."""

from __future__ import annotations

from typing import Any

from .._array_api import namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ._math import gather_pairs
from .base import BaseMetricLossFunction
from .generic_pair import tuple_pairs

Array = Any


def tcm_loss(
    pos_sims: Array, neg_sims: Array, *, lambda_plus: float, lambda_minus: float, margin_plus: float, margin_minus: float
) -> Array:
    """``lambda_plus * mean_{s+ <= m+}(m+ - s+) + lambda_minus * mean_{s- >= m-}(s- - m-)``.

    An empty selection contributes 0 (with a zero gradient). Zhang et al. 2023.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(tcm_loss(np.array([0.95, 0.7]), np.array([0.1, 0.6]), lambda_plus=1, lambda_minus=1,
    ...                      margin_plus=0.9, margin_minus=0.5)), 4)
    0.3
    """
    xp, _ = namespace_and_device(pos_sims, neg_sims)

    def part(values: Array, keep: Array, gap: Array) -> Array:
        keepf = xp.astype(keep, values.dtype)
        count = xp.sum(keepf)
        return xp.sum(gap * keepf) / xp.maximum(count, xp.ones_like(count))

    pos = part(pos_sims, pos_sims <= margin_plus, margin_plus - pos_sims)
    neg = part(neg_sims, neg_sims >= margin_minus, neg_sims - margin_minus)
    return lambda_plus * pos + lambda_minus * neg


class ThresholdConsistentMarginLoss(BaseMetricLossFunction):
    """TCM loss (Zhang et al. 2023), PML's ``ThresholdConsistentMarginLoss(lambda_plus=1.0,
    lambda_minus=1.0, margin_plus=0.9, margin_minus=0.5)``.

    :func:`tcm_loss` over the cosine similarities of the positive and negative pairs: the
    miner's pairs (triplets become pairs) or all pairs. Requires :class:`CosineSimilarity`
    (default). Already reduced. O(N*M) memory.

    **Difference from PML (a bug fix).** PML reads the positives and negatives from
    ``embeddings`` with indices that refer to the reference set, so with a separate
    ``ref_emb`` it uses the wrong rows or raises IndexError (PML#748). Here anchors come
    from ``embeddings`` and positives/negatives from ``ref_emb``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ThresholdConsistentMarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(ThresholdConsistentMarginLoss()(emb, [0, 1, 0, 1])), 4)
    1.1333
    """

    def __init__(
        self,
        lambda_plus: float = 1.0,
        lambda_minus: float = 1.0,
        margin_plus: float = 0.9,
        margin_minus: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check_distance(CosineSimilarity)
        self.lambda_plus = lambda_plus
        self.lambda_minus = lambda_minus
        self.margin_plus = margin_plus
        self.margin_minus = margin_minus

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        a1, p, a2, n = tuple_pairs(self, embeddings, labels, indices_tuple, ref_emb, ref_labels)
        if all(t.shape[0] == 0 for t in (a1, p, a2, n)):
            return self.zero_losses()
        sim = self.distance(embeddings, ref_emb)
        loss = tcm_loss(
            gather_pairs(sim, a1, p),
            gather_pairs(sim, a2, n),
            lambda_plus=self.lambda_plus,
            lambda_minus=self.lambda_minus,
            margin_plus=self.margin_plus,
            margin_minus=self.margin_minus,
        )
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}
