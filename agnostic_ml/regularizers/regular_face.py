"""RegularFaceRegularizer: each class weight should be far from its nearest other class weight."""

from __future__ import annotations

from typing import Any

from .._array_api import eye_mask, namespace_and_device, no_grad
from ..distances import BaseDistance, CosineSimilarity
from .base import BaseRegularizer

Array = Any

__all__ = ["RegularFaceRegularizer", "regular_face_regularization"]


def regular_face_regularization(sim: Array) -> Array:
    """Per row ``max_{j != i} sim_ij``: the similarity of each class weight to its nearest other one.

    ``sim`` is the ``(C, C)`` similarity of the class weights (RegularFace, Zhao et al.
    2019, exclusive regularization). The nearest neighbour is chosen without a gradient;
    the gradient flows through the chosen similarity only (as PML).

    Examples
    --------
    >>> import numpy as np
    >>> regular_face_regularization(np.array([[1.0, 0.2, 0.5], [0.2, 1.0, -0.1], [0.5, -0.1, 1.0]])).tolist()
    [0.5, 0.2, 0.5]
    """
    xp, device = namespace_and_device(sim)
    c = sim.shape[0]
    with no_grad(xp):
        low = xp.asarray(xp.finfo(sim.dtype).min, dtype=sim.dtype, device=device)
        nearest = xp.argmax(xp.where(eye_mask(c, c, xp=xp, device=device), low, sim), axis=1)
    return xp.squeeze(xp.take_along_axis(sim, xp.expand_dims(nearest, axis=1), axis=1), axis=1)


class RegularFaceRegularizer(BaseRegularizer):
    """PML's ``RegularFaceRegularizer()``: the mean of :func:`regular_face_regularization`.

    Meant as a ``weight_regularizer`` (one row per class). The distance must be a
    similarity (default :class:`CosineSimilarity`; another raises ``ValueError``, PML asserts).
    Memory: one ``(C, C)`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(RegularFaceRegularizer()(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))), 4)
    0.7071
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.distance.is_inverted:
            raise ValueError(f"RegularFaceRegularizer requires a similarity (distance.is_inverted), got {type(self.distance).__name__}")

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, weights: Array) -> dict:
        return self.element_loss_dict(regular_face_regularization(self.distance(weights)))
