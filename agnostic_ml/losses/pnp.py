"""PNPLoss: ranking-based loss on the smoothed number of negatives ranked above each positive."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import namespace_and_device, requires_grad, to_numpy
from ..distances import BaseDistance, CosineSimilarity
from ..tuples import get_matches_and_diffs
from ._linearize import linearized
from ._soft_rank import PNP_BOUND, class_members, soft_rank_vjp, soft_ranks
from ._unsupported import indices_tuple_not_supported, labels_required, ref_not_supported
from .base import BaseMetricLossFunction

Array = Any

VARIANTS = ("Ds", "Dq", "Iu", "Ib", "O")


def pnp_transform(r: Array, variant: str, *, b: float = 2, alpha: float = 1) -> tuple[Array, Array]:
    """PNP's transform ``f(R)`` of the smoothed negative count ``R`` and its derivative ``f'(R)``.

    ``O``: ``R``; ``Ds``: ``log(1 + R)``; ``Dq``: ``(1 + R)^-alpha``;
    ``Iu``: ``(1 + R) log(1 + R)``; ``Ib``: ``(b R - log(1 + b R)) / b^2``.

    Examples
    --------
    >>> import numpy as np
    >>> f, df = pnp_transform(np.array([0.0, 1.0]), "Ds")
    >>> f.round(4).tolist(), df.tolist()
    ([0.0, 0.6931], [1.0, 0.5])
    """
    xp, _ = namespace_and_device(r)
    if variant == "O":
        return r, xp.ones_like(r)
    if variant == "Ds":
        return xp.log1p(r), 1 / (1 + r)
    if variant == "Dq":
        return (1 + r) ** (-alpha), -alpha * (1 + r) ** (-alpha - 1)
    if variant == "Iu":
        lg = xp.log1p(r)
        return (1 + r) * lg, lg + 1
    if variant == "Ib":
        return (b * r - xp.log1p(b * r)) / b**2, r / (1 + b * r)
    raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")


def pnp_loss(
    sim: Array, labels: Array, *, variant: str = "O", b: float = 2, alpha: float = 1, anneal: float = 0.01
) -> Array | None:
    """PNP loss (Li et al. 2022) of a batch's similarity matrix; None when no row has a positive.

    For query ``i`` with positives ``P_i`` (same label, ``j != i``) and negatives ``N_i``,
    let ``I_i = P_i + {i}`` and, for ``j`` in ``I_i``,
    ``R_ij = sum_{k in N_i} sigmoid((s_ik - s_ij) / anneal)`` (the sigmoid's exponent
    clipped to [-50, 50], as PML). Then

        ``loss = mean_{i: P_i nonempty} mean_{j in I_i} f(R_ij)``

    with ``f`` of :func:`pnp_transform` (``Dq``: ``1 - loss``).

    Memory: O(N^2) plus a bounded block (:mod:`agnostic_ml.losses._soft_rank`); PML
    holds several N^3 tensors. Time O(N^2 * J) for the largest class size J (PML: N^3). The gradient is exact (first order):
    the returned value is linearised in ``sim`` (:mod:`agnostic_ml.losses._linearize`).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.3], [0.1, 0.3, 1.0]])
    >>> round(float(pnp_loss(s, np.array([0, 0, 1]))), 4)
    0.0
    """
    xp, _ = namespace_and_device(sim)
    matches, diffs = get_matches_and_diffs(labels, like=sim)
    has_pos = xp.any(matches, axis=1)
    n_safe = xp.sum(xp.astype(has_pos, sim.dtype))
    if not bool(to_numpy(n_safe > 0)):
        return None
    # PML's I_pos: the positives plus the query itself, for rows that have a positive. Only
    # those columns are items (idx: each row's class members, padded to the largest class).
    idx, valid = class_members(labels, sim)
    items = xp.take_along_axis(sim, idx, axis=1)
    use = xp.logical_and(valid, has_pos[:, None])
    usef = xp.astype(use, sim.dtype)
    n_items = xp.sum(usef, axis=1)
    row_w = xp.where(has_pos, 1 / xp.where(has_pos, n_items, xp.ones_like(n_items)), xp.zeros_like(n_items)) / n_safe
    r = soft_ranks(items, sim, diffs, anneal, bound=PNP_BOUND)
    f, df = pnp_transform(r, variant, b=b, alpha=alpha)
    zero = xp.zeros_like(f)
    value = xp.sum(xp.where(use, f, zero) * row_w[:, None])
    if variant == "Dq":
        value = 1 - value
    if not requires_grad(sim):
        return value
    sign = -1.0 if variant == "Dq" else 1.0
    upstream = sign * xp.where(use, df, zero) * row_w[:, None]
    g_items, g_sim = soft_rank_vjp(items, sim, diffs, upstream, anneal, bound=PNP_BOUND)
    return linearized(value, [(g_items, items), (g_sim, sim)])


class PNPLoss(BaseMetricLossFunction):
    """PNP loss, PML's ``PNPLoss(b=2, alpha=1, anneal=0.01, variant="O")``.

    See :func:`pnp_loss` for the formula. Requires :class:`CosineSimilarity` (default),
    labels; no ``indices_tuple`` and no ``ref_emb`` (as PML). The loss is already reduced.

    **Memory.** PML builds several N x N x N tensors (the repeated similarities, their
    differences, the sigmoid and the negative mask, all kept by autograd); this
    implementation keeps O(N^2) arrays plus a bounded block of the difference tensor, and
    computes the exact gradient in a second blockwise pass. Only first-order gradients are
    available (no double backward through this loss).

    Parameters
    ----------
    b : float, default 2
        The ``Ib`` variant's parameter.
    alpha : float, default 1
        The ``Dq`` variant's exponent.
    anneal : float, default 0.01
        The sigmoid's temperature.
    variant : {"O", "Ds", "Dq", "Iu", "Ib"}, default "O"

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import PNPLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(PNPLoss(variant="Ds")(emb, [0, 1, 0, 1])), 4)
    0.4479
    """

    VARIANTS = list(VARIANTS)

    def __init__(self, b: float = 2, alpha: float = 1, anneal: float = 0.01, variant: str = "O", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_distance(CosineSimilarity)
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} but must be one of {list(VARIANTS)}")
        if not (isinstance(anneal, (int, float)) and not isinstance(anneal, bool) and anneal > 0 and math.isfinite(anneal)):
            raise ValueError(f"anneal must be a positive number, got {anneal!r}")
        self.b = b
        self.alpha = alpha
        self.anneal = anneal
        self.variant = variant

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        indices_tuple_not_supported(indices_tuple, owner)
        labels_required(labels, owner)
        ref_not_supported(embeddings, ref_emb, owner)
        if self.variant not in VARIANTS:
            raise ValueError(f"variant={self.variant!r} but must be one of {list(VARIANTS)}")
        sim = self.distance(embeddings)
        loss = pnp_loss(sim, labels, variant=self.variant, b=self.b, alpha=self.alpha, anneal=self.anneal)
        if loss is None:
            return self.zero_losses()
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}
