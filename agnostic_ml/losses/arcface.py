"""ArcFaceLoss and SubCenterArcFaceLoss: an additive angular margin on the target class."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import index_dtype, namespace_and_device, no_grad, nonzero
from .._checks import check_embeddings, prepare_labels
from ._classification import check_feature_size, check_positive_int, class_labels, one_hot, weight_and_embeddings
from .large_margin_softmax import LargeMarginSoftmaxLoss

Array = Any

__all__ = ["ArcFaceLoss", "SubCenterArcFaceLoss", "arcface_target", "subcenter_outliers"]


def arcface_target(angles: Array, margin: float) -> Array:
    """ArcFace's target logit ``cos(theta + m)``, continued as ``cos(theta) - m sin(m)`` past ``theta = pi - m``.

    The continuation keeps the logit monotonically decreasing in ``theta`` (``margin`` in
    radians, ``angles = acos(clip(cos, -1, 1))``), as PML.

    Examples
    --------
    >>> import numpy as np
    >>> arcface_target(np.array([0.0, 3.0]), 0.5).round(4).tolist()
    [0.8776, -1.2297]
    """
    xp, _ = namespace_and_device(angles)
    return xp.where(
        angles <= math.pi - margin,
        xp.cos(angles + margin),
        xp.cos(angles) - margin * math.sin(margin),
    )


def subcenter_outliers(
    cosine: Array, labels: Array, num_classes: int, sub_centers: int, cos_threshold: float
) -> tuple[Array, Array]:
    """Outliers and dominant sub-centres of Sub-center ArcFace (section 3.2 of the paper).

    ``cosine`` is ``(N, num_classes * sub_centers)`` (class-major columns). For each
    class, the *dominant* sub-centre is the one that is the nearest sub-centre of the most
    of the class's samples (ties: the lowest index, as ``argmax(bincount)``); a sample is
    an outlier when its cosine to its class's dominant sub-centre is below
    ``cos_threshold``. Returns ``(is_outlier, dominant)``: a boolean ``(N,)`` mask and the
    ``(num_classes,)`` dominant sub-centre index of each class (0 for a class without
    samples). O(N * num_classes * sub_centers) memory, no loop over classes.

    Examples
    --------
    >>> import numpy as np
    >>> cos = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.3]])  # one class, two sub-centres
    >>> mask, dom = subcenter_outliers(cos, np.array([0, 0, 0]), 1, 2, 0.5)
    >>> mask.tolist(), dom.tolist()
    ([False, False, True], [0])
    """
    xp, device = namespace_and_device(cosine)
    idt = index_dtype(xp, device)
    lab = xp.astype(labels, idt)
    cols = xp.expand_dims(lab * sub_centers, axis=1) + xp.expand_dims(xp.arange(sub_centers, dtype=idt, device=device), axis=0)
    own = xp.take_along_axis(cosine, cols, axis=1)  # (N, sub_centers): each sample's class's sub-centres
    nearest = xp.argmax(own, axis=1)
    cls = xp.astype(one_hot(lab, num_classes, cosine), cosine.dtype)
    sub = xp.astype(one_hot(xp.astype(nearest, idt), sub_centers, cosine), cosine.dtype)
    counts = xp.matmul(xp.matrix_transpose(cls), sub)  # (num_classes, sub_centers)
    dominant = xp.astype(xp.argmax(counts, axis=1), idt)
    dom_of_sample = xp.take(dominant, lab)
    dom_cos = xp.squeeze(xp.take_along_axis(own, xp.expand_dims(dom_of_sample, axis=1), axis=1), axis=1)
    return dom_cos < cos_threshold, dominant


class ArcFaceLoss(LargeMarginSoftmaxLoss):
    """ArcFace (Deng et al. 2019), PML's ``ArcFaceLoss(num_classes, embedding_size, margin=28.6, scale=64)``.

    ``logits_ij = s * (cos(theta_iy + m) if j == y_i else cos_ij)`` (the target logit is
    continued as ``cos(theta) - m sin(m)`` beyond ``theta = pi - m``), then the
    cross-entropy weighted by the miner weights (see :class:`LargeMarginSoftmaxLoss`).
    https://arxiv.org/abs/1801.07698

    Parameters
    ----------
    num_classes, embedding_size : int
        Learnable ``W`` of shape ``(embedding_size, num_classes)`` (``normal_`` init).
    margin : float, default 28.6
        In degrees; ``self.margin`` holds it in radians after construction (as PML).
    scale : float, default 64
    **kwargs
        As :class:`LargeMarginSoftmaxLoss`.

    Notes
    -----
    With ``scale=64`` the logits reach 64: the cross-entropy is computed in float32 or
    wider, so bfloat16/float16 autocast does not overflow. ``W`` is never cast in place.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ArcFaceLoss
    >>> loss = ArcFaceLoss(num_classes=3, embedding_size=2, scale=8)
    >>> loss.W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.1], [0.1, 1.0]]), [0, 1])), 4)
    0.0033
    """

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 28.6, scale: float = 64, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, embedding_size=embedding_size, margin=margin, scale=scale, **kwargs)

    def init_margin(self) -> None:
        self.margin = math.radians(self.margin)

    def modify_cosine_of_target_classes(self, cosine_of_target_classes: Array) -> Array:
        return arcface_target(self.get_angles(cosine_of_target_classes), self.margin)

    def scale_logits(self, logits: Array, *_: Any) -> Array:
        return logits * self.scale


class SubCenterArcFaceLoss(ArcFaceLoss):
    """Sub-center ArcFace (Deng et al. 2020), PML's ``SubCenterArcFaceLoss(num_classes, embedding_size, margin=28.6, scale=64, sub_centers=3)``.

    Each class has ``sub_centers`` learnable centres: ``W`` has shape
    ``(embedding_size, num_classes * sub_centers)`` (class-major columns) and the cosine
    to a class is the maximum over its sub-centres; the rest is :class:`ArcFaceLoss`.
    ``get_outliers`` finds the samples far from their class's dominant sub-centre (to
    drop noisy labels and retrain, as in the paper).
    https://www.ecva.net/papers/eccv_2020/papers_ECCV/papers/123560715.pdf

    Differences from PML: ``num_classes`` and ``embedding_size`` may be given by position
    or keyword (PML reads them from ``**kwargs`` only); ``get_outliers(...,
    return_dominant_centers=False)`` returns the outliers alone (PML returns the tuple
    either way, an operator-precedence slip), the dominant centre of a class without
    samples in the batch is its sub-centre 0 (PML leaves that column uninitialised), and
    ``get_outliers`` works in one vectorised pass instead of a Python loop over classes.
    Like PML 2.9, every other keyword (``reducer``, ``distance``, ``weight_regularizer``,
    ``embedding_regularizer``, ...) is honoured.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import SubCenterArcFaceLoss
    >>> loss = SubCenterArcFaceLoss(num_classes=2, embedding_size=2, sub_centers=2)
    >>> loss.W.shape
    (2, 4)
    >>> loss.W = np.array([[1.0, 0.8, 0.0, -0.1], [0.0, 0.6, 1.0, 1.0]], dtype=np.float32)
    >>> outliers, centers = loss.get_outliers(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.0]]), [0, 0, 1, 1])
    >>> outliers.tolist(), centers.round(1).tolist()
    ([3], [[1.0, 0.0], [0.0, 1.0]])
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: float = 28.6,
        scale: float = 64,
        sub_centers: int = 3,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        sub_centers = check_positive_int(sub_centers, "sub_centers", owner)
        num_classes = check_positive_int(num_classes, "num_classes", owner)
        super().__init__(
            num_classes=num_classes * sub_centers, embedding_size=embedding_size, margin=margin, scale=scale, **kwargs
        )
        self.sub_centers = sub_centers
        self.num_classes = num_classes

    def get_cosine(self, embeddings: Array) -> Array:
        xp, _ = namespace_and_device(embeddings)
        cosine = super().get_cosine(embeddings)
        cosine = xp.reshape(cosine, (-1, self.num_classes, self.sub_centers))
        return xp.max(cosine, axis=2)

    def get_outliers(
        self, embeddings: Array, labels: Any, threshold: float = 75, return_dominant_centers: bool = True
    ) -> Any:
        """Indices of samples whose angle to their class's dominant sub-centre exceeds ``threshold`` degrees.

        Returns ``(outliers, dominant_centers)`` (``return_dominant_centers=True``) or
        ``outliers``: a 1-D index array ordered by class, then by index (PML's order), and
        the ``(embedding_size, num_classes)`` dominant sub-centres. No gradient is taken.
        """
        check_embeddings(embeddings, "embeddings")
        xp, device = namespace_and_device(embeddings)
        lab = prepare_labels(labels, embeddings.shape[0], xp=xp, device=device, name="labels")
        lab = class_labels(self, lab, self.num_classes, embeddings)
        check_feature_size(self, embeddings, self.W.shape[0])
        cos_threshold = math.cos(math.radians(threshold))
        with no_grad(xp):
            w, emb = weight_and_embeddings(self, self.W, embeddings)
            cosine = self.distance(emb, xp.matrix_transpose(w))
            is_out, dominant = subcenter_outliers(cosine, lab, self.num_classes, self.sub_centers, cos_threshold)
            (idx,) = nonzero(is_out, xp=xp)
            order = xp.argsort(xp.take(lab, idx), stable=True)
            outliers = xp.take(idx, order)
            if not return_dominant_centers:
                return outliers
            cols = xp.arange(self.num_classes, dtype=dominant.dtype, device=device) * self.sub_centers + dominant
            centers = xp.take(w, cols, axis=1)
        return outliers, centers
