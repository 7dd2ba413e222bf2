"""CosFaceLoss: an additive cosine margin on the target class (large-margin cosine loss)."""

from __future__ import annotations

from typing import Any

from .large_margin_softmax import LargeMarginSoftmaxLoss

Array = Any

__all__ = ["CosFaceLoss", "cosface_target"]


def cosface_target(cos: Array, margin: float) -> Array:
    """CosFace's target logit ``cos(theta) - m``.

    Examples
    --------
    >>> import numpy as np
    >>> cosface_target(np.array([0.9, 0.1]), 0.35).round(2).tolist()
    [0.55, -0.25]
    """
    return cos - margin


class CosFaceLoss(LargeMarginSoftmaxLoss):
    """CosFace (Wang et al. 2018), PML's ``CosFaceLoss(num_classes, embedding_size, margin=0.35, scale=64)``.

    ``logits_ij = s * (cos_iy - m if j == y_i else cos_ij)``, then the cross-entropy
    weighted by the miner weights (see :class:`LargeMarginSoftmaxLoss`; learnable ``W`` of
    shape ``(embedding_size, num_classes)``). https://arxiv.org/abs/1801.09414

    Parameters
    ----------
    num_classes, embedding_size : int
    margin : float, default 0.35
    scale : float, default 64
    **kwargs
        As :class:`LargeMarginSoftmaxLoss` (``collect_stats`` records ``avg_angle``).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import CosFaceLoss
    >>> loss = CosFaceLoss(3, 2, scale=8)
    >>> loss.W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.1], [0.1, 1.0]]), [0, 1])), 4)
    0.0139
    """

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.35, scale: float = 64, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, embedding_size=embedding_size, margin=margin, scale=scale, **kwargs)

    def init_margin(self) -> None:
        pass

    def modify_cosine_of_target_classes(self, cosine_of_target_classes: Array) -> Array:
        if self.collect_stats:
            self.get_angles(cosine_of_target_classes)  # records avg_angle
        return cosface_target(cosine_of_target_classes, self.margin)

    def scale_logits(self, logits: Array, *_: Any) -> Array:
        return logits * self.scale
