"""ProxyAnchorLoss: each proxy is an anchor; soft positives and negatives over the batch."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device
from ..distances import BaseDistance, CosineSimilarity
from ..reducers import BaseReducer, DivisorReducer
from ..tuples import logsumexp
from ._classification import (
    check_feature_size,
    check_positive_int,
    class_labels,
    miner_weights,
    one_hot,
    ref_not_supported,
    regularize_class_weights,
    to_work_dtype,
    weight_and_embeddings,
)
from .base import BaseMetricLossFunction, WeightRegularizerMixin

Array = Any

__all__ = ["ProxyAnchorLoss", "proxy_anchor_terms"]


def proxy_anchor_terms(
    mat: Array, pos_mask: Array, miner_weights: Array, margin: float, alpha: float, distance: BaseDistance
) -> tuple[Array, Array]:
    """Per proxy ``c``: ``log(1 + sum_{i in P_c} exp(alpha (m - s_ic) + v_i))`` and the negative term.

    ``mat`` is ``(batch, num_classes)`` (``s_ic``: similarity of embedding ``i`` to proxy
    ``c``; for a distance the signs flip through ``distance.margin``), ``pos_mask[i, c]``
    is ``y_i == c``, and ``v_i = miner_weight_i - 1`` (PML adds the miner weights in log
    space: 0 for fully weighted samples). The negative term is
    ``log(1 + sum_{i not in P_c} exp(alpha (s_ic + m) + v_i))``. A proxy without positives
    has a positive term of 0. Returns ``(pos_term, neg_term)``, each ``(num_classes,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import CosineSimilarity
    >>> pos, neg = proxy_anchor_terms(np.array([[0.5, -0.5]]), np.array([[True, False]]), np.ones(1), 0.1, 2.0, CosineSimilarity())
    >>> pos.round(4).tolist(), neg.round(4).tolist()
    ([0.3711, 0.0], [0.0, 0.3711])
    """
    xp, _ = namespace_and_device(mat)
    v = xp.expand_dims(miner_weights, axis=1) - 1
    pos_exp = distance.margin(mat, margin)
    neg_exp = distance.margin(-margin, mat)
    pos_term = logsumexp(alpha * pos_exp + v, keep_mask=pos_mask, add_one=True, dim=0)
    neg_term = logsumexp(alpha * neg_exp + v, keep_mask=xp.logical_not(pos_mask), add_one=True, dim=0)
    return xp.squeeze(pos_term, axis=0), xp.squeeze(neg_term, axis=0)


class ProxyAnchorLoss(WeightRegularizerMixin, BaseMetricLossFunction):
    """Proxy-Anchor (Kim et al. 2020), PML's ``ProxyAnchorLoss(num_classes, embedding_size, margin=0.1, alpha=32)``.

    Two sub-losses over the learnable proxies (``(num_classes, embedding_size)``,
    ``kaiming_normal_(mode="fan_out")`` init as PML, or ``weight_init_func``):
    ``pos_loss = sum_c log(1 + sum_{i: y_i = c} exp(-alpha (s_ic - m))) / |classes in batch|``
    and ``neg_loss = sum_c log(1 + sum_{i: y_i != c} exp(alpha (s_ic + m))) / num_classes``
    (see :func:`proxy_anchor_terms`, which also adds the miner weights as PML does).
    Default distance :class:`CosineSimilarity`, default reducer :class:`DivisorReducer`
    (the loss dict carries the two divisors).

    Parameters
    ----------
    num_classes, embedding_size : int
    margin : float, default 0.1
    alpha : float, default 32
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ... (:class:`BaseMetricLossFunction`).

    Other Parameters
    ----------------
    weight_regularizer : BaseRegularizer, optional
        PML's ``weight_regularizer``: it sees the proxies.
    weight_reg_weight : float, default 1
        ``weight_reg_loss = weight_regularizer(...) * weight_reg_weight``.
    weight_init_func : callable, optional
        Initialises the weights in place (PML's ``weight_init_func``); default: this loss's own
        initialisation (above).

    Notes
    -----
    The log-sum-exps are computed in float32 or wider (``alpha = 32`` overflows float16's
    ``exp``); the proxies are never cast in place (PML#309); a wrong embedding width or a
    label outside ``[0, num_classes)`` raises a ``ValueError`` naming the argument.
    Memory: a few ``(batch, num_classes)`` matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ProxyAnchorLoss
    >>> loss = ProxyAnchorLoss(2, 2, alpha=4)
    >>> loss.proxies = np.eye(2, dtype=np.float32)
    >>> round(float(loss(np.array([[1.0, 0.0], [0.0, 2.0]]), [0, 1])), 4)
    0.94
    """

    _learnable = ("proxies",)

    def __init__(self, num_classes: int, embedding_size: int, margin: float = 0.1, alpha: float = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.num_classes = check_positive_int(num_classes, "num_classes", owner)
        self.embedding_size = check_positive_int(embedding_size, "embedding_size", owner)
        self.margin = margin
        self.alpha = alpha
        self.proxies = self.make_weight((self.num_classes, self.embedding_size))

    def default_weight_init(self) -> Any:
        return "kaiming_normal_fan_out"

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def get_default_reducer(self) -> BaseReducer:
        return DivisorReducer()

    def _sub_loss_names(self) -> list[str]:
        return ["pos_loss", "neg_loss"]

    def get_logits(self, embeddings: Array) -> Array:
        """``distance(embeddings, proxies)`` (PML's ``get_logits``)."""
        check_feature_size(self, embeddings, self.proxies.shape[1])
        p, emb = weight_and_embeddings(self, self.proxies, embeddings)
        return self.distance(emb, p)

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        lab = class_labels(self, labels, self.num_classes, embeddings)
        ref_not_supported(self, embeddings, labels, ref_emb, ref_labels)
        xp, device = namespace_and_device(embeddings)
        mat = to_work_dtype(self.get_logits(embeddings))
        weights = miner_weights(indices_tuple, lab, mat)
        pos_mask = one_hot(lab, self.num_classes, mat)
        with_pos = xp.sum(xp.astype(xp.any(pos_mask, axis=0), index_dtype(xp, device)))
        pos_term, neg_term = proxy_anchor_terms(mat, pos_mask, weights, self.margin, self.alpha, self.distance)
        idx = xp.arange(self.num_classes, dtype=lab.dtype, device=device)
        loss_dict = {
            "pos_loss": {"losses": pos_term, "indices": idx, "reduction_type": "element", "divisor": with_pos},
            "neg_loss": {"losses": neg_term, "indices": idx, "reduction_type": "element", "divisor": self.num_classes},
        }
        regularize_class_weights(self, loss_dict, self.proxies, embeddings, classes_on_rows=True)
        return loss_dict
