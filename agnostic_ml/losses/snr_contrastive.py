"""SignalToNoiseRatioContrastiveLoss (Yuan et al. 2019): ContrastiveLoss on the SNR distance."""

from __future__ import annotations

from typing import Any

from ..distances import BaseDistance, SNRDistance
from .contrastive import ContrastiveLoss


class SignalToNoiseRatioContrastiveLoss(ContrastiveLoss):
    """PML's ``SignalToNoiseRatioContrastiveLoss(pos_margin=0, neg_margin=1)``.

    :class:`ContrastiveLoss` whose distance must be :class:`SNRDistance`
    (``Var(x_a - x_b) / Var(x_a)``, the default); another distance raises ``ValueError``
    (PML asserts). Sub-losses ``pos_loss`` and ``neg_loss``, default reducer
    :class:`AvgNonZeroReducer` each. O(N*M + P + N2) memory.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SignalToNoiseRatioContrastiveLoss
    >>> emb = np.array([[1.0, 0.0, 2.0], [0.8, 0.6, 2.1], [0.0, 1.0, -1.0], [-0.6, 0.8, -0.9]])
    >>> round(float(SignalToNoiseRatioContrastiveLoss()(emb, [0, 0, 1, 1])), 4)
    0.1769
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(SNRDistance)

    def get_default_distance(self) -> BaseDistance:
        return SNRDistance()
