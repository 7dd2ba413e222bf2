"""TripletMarginLoss: ``relu(d_ap - d_an + margin)`` over triplets, all of them in O(N*M) memory."""

from __future__ import annotations

from typing import Any

from .._array_api import index_dtype, namespace_and_device, searchsorted, to_numpy
from ..distances import BaseDistance
from .._random import as_generator
from ..reducers import AvgNonZeroReducer, BaseReducer, MeanReducer, MultipleReducers, SumReducer, ThresholdReducer
from ..tuples import convert_to_triplets, get_matches_and_diffs
from ._math import gather_pairs, relu, softplus
from .base import BaseMetricLossFunction
from .generic_pair import labels_or_indices_tuple_required

Array = Any


def triplet_margin_losses(
    ap: Array, an: Array, margin: float, distance: BaseDistance, *, smooth_loss: bool = False
) -> Array:
    """Per triplet: ``relu(distance.margin(d_ap, d_an) + margin)``, or ``softplus`` with ``smooth_loss``.

    ``distance.margin(x, y)`` is ``x - y`` for distances and ``y - x`` for similarities.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> triplet_margin_losses(np.array([0.5, 0.1]), np.array([0.4, 1.0]), 0.05, LpDistance()).round(4).tolist()
    [0.15, 0.0]
    """
    violation = distance.margin(ap, an) + margin
    return softplus(violation) if smooth_loss else relu(violation)


def all_triplets_margin_reduction(
    mat: Array,
    pos_mask: Array,
    neg_mask: Array,
    margin: float,
    *,
    is_inverted: bool,
    low: float | None,
    high: float | None,
    divide: bool,
) -> tuple[Array, Array]:
    """Reduce ``L = relu(sigma*(x_ap - x_an) + margin)`` over *all* triplets without listing them.

    For every anchor ``a`` (row of ``mat``), positive ``p`` (``pos_mask[a, p]``) and negative
    ``n`` (``neg_mask[a, n]``), with ``sigma = -1`` for similarities. Only losses with
    ``low < L < high`` are kept (``low``/``high`` None: no bound); returns
    ``(S / max(C, 1) if divide else S, C)`` where ``S`` is the sum and ``C`` the count of the
    kept losses. That is exactly what ``SumReducer`` (no bounds, no division), ``MeanReducer``
    (no bounds), ``AvgNonZeroReducer`` (``low = 0``) and ``ThresholdReducer`` compute from the
    list of all triplet losses.

    The trick: write ``L = relu(u_ap - w_an)`` with ``u = sigma*x + margin`` and
    ``w = sigma*x``. Per anchor, sort the negatives' ``w`` once and take its cumulative sum;
    for each positive, ``searchsorted`` gives how many negatives fall in the window
    ``u - high < w < u - max(low, 0)``, and the window's sum of ``u - w`` is ``count * u``
    minus a difference of two cumulative sums. O(N*M log M) time and O(N*M) memory instead
    of the O(N*M^2) triplet list, and differentiable (the sort, cumulative sum and gathers
    carry autograd on torch; the gradient is the same as that of the listed losses).
    """
    xp, device = namespace_and_device(mat)
    idt = index_dtype(xp, device)
    sign = -1.0 if is_inverted else 1.0
    w = mat * sign
    u = w + margin
    inf = xp.asarray(float("inf"), dtype=mat.dtype, device=device)
    zero = xp.zeros((), dtype=mat.dtype, device=device)
    ws = xp.sort(xp.where(neg_mask, w, inf), axis=1)
    n_neg = xp.sum(xp.astype(neg_mask, idt), axis=1)
    cols = xp.arange(mat.shape[1], dtype=idt, device=device)
    ws0 = xp.where(cols[None, :] < n_neg[:, None], ws, zero)
    cs = xp.cumulative_sum(ws0, axis=1, include_initial=True)
    t_lo = 0.0 if low is None else max(float(low), 0.0)
    k_sum = searchsorted(ws, u - t_lo, side="left", xp=xp)
    if high is None:
        k_hi = xp.zeros_like(k_sum)
    else:
        k_hi = xp.minimum(searchsorted(ws, u - high, side="right", xp=xp), k_sum)
    k_sum, k_hi = xp.astype(k_sum, idt), xp.astype(k_hi, idt)
    if low is None or low < 0:
        k_cnt = xp.broadcast_to(n_neg[:, None], k_sum.shape)
    else:
        k_cnt = k_sum
    posf = xp.astype(pos_mask, mat.dtype)
    n_in = xp.astype(k_sum - k_hi, mat.dtype)
    window = n_in * u - (xp.take_along_axis(cs, k_sum, axis=1) - xp.take_along_axis(cs, k_hi, axis=1))
    total = xp.sum(window * posf)
    count = xp.sum(xp.where(pos_mask, xp.maximum(k_cnt - k_hi, xp.zeros_like(k_hi)), xp.zeros_like(k_hi)))
    if not divide:
        return total, count
    return total / xp.astype(xp.maximum(count, xp.ones_like(count)), mat.dtype), count


#: Reducers whose result on the list of all triplet losses the streamed path reproduces exactly.
_STREAMABLE = (ThresholdReducer, MeanReducer, SumReducer)  # AvgNonZeroReducer is a ThresholdReducer
_REDUCTION_METHODS = ("forward", "reduce_the_loss", "element_reduction", "triplet_reduction", "already_reduced_reduction")


def _streamable_kind(reducer: Any) -> type | None:
    """The core reducer class whose exact computation ``reducer`` performs, or None.

    Subclasses (and the torch adapter's shells) qualify only if they override none of the
    reduction methods; a reducer that records statistics needs the list of losses.
    """
    if getattr(reducer, "collect_stats", False):
        return None
    for cls in _STREAMABLE:
        if isinstance(reducer, cls) and all(getattr(type(reducer), m) is getattr(cls, m) for m in _REDUCTION_METHODS):
            return cls
    return None


class TripletMarginLoss(BaseMetricLossFunction):
    """Triplet margin loss, PML's ``TripletMarginLoss(margin=0.05, swap=False, smooth_loss=False, triplets_per_anchor="all")``.

    Per triplet ``(a, p, n)``: ``L = relu(d_ap - d_an + margin)`` (``softplus`` with
    ``smooth_loss``; ``s_an - s_ap`` for similarities). With ``swap``, ``d_an`` is replaced by
    ``min(d_an, d_pn)`` (the closer of the anchor and the positive to the negative). Default
    reducer :class:`AvgNonZeroReducer`.

    Triplets come from ``indices_tuple`` (pairs are combined per anchor, as PML does), or,
    without one, are all triplets (``triplets_per_anchor="all"``) or ``triplets_per_anchor``
    random ones per anchor drawn from ``rng``.

    **All triplets in O(N*M) memory.** With no tuple, ``"all"``, no ``swap``, no
    ``smooth_loss`` and a Mean, Sum, AvgNonZero or Threshold reducer (the defaults), the
    loss is reduced without listing the triplets (:func:`all_triplets_margin_reduction`):
    N = 4096 takes a few N x N matrices where PML builds an N^3 cube. Other settings list
    the triplets (O(number of triplets) memory).

    ``swap`` with a separate ``ref_emb``: ``d_pn`` is computed from the reference rows of
    ``p`` and ``n`` (PML indexes the batch x reference matrix with two reference indices and
    fails, PML#748).

    Parameters
    ----------
    margin : float, default 0.05
    swap : bool, default False
    smooth_loss : bool, default False
    triplets_per_anchor : int or "all", default "all"
    rng : numpy.random.Generator, int or None
        For random triplets (``triplets_per_anchor`` an int without a tuple); PML uses
        torch's global generator.
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ... (see :class:`BaseMetricLossFunction`).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import TripletMarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(TripletMarginLoss(margin=0.5)(emb, [0, 0, 1, 1])), 4)
    0.238
    """

    def __init__(
        self,
        margin: float = 0.05,
        swap: bool = False,
        smooth_loss: bool = False,
        triplets_per_anchor: int | str = "all",
        rng: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not (triplets_per_anchor == "all" or (isinstance(triplets_per_anchor, int) and not isinstance(triplets_per_anchor, bool) and triplets_per_anchor > 0)):
            raise ValueError(f"triplets_per_anchor must be 'all' or a positive int, got {triplets_per_anchor!r}")
        self.margin = margin
        self.swap = bool(swap)
        self.smooth_loss = bool(smooth_loss)
        self.triplets_per_anchor = triplets_per_anchor
        self.rng = as_generator(rng)

    def get_default_reducer(self) -> BaseReducer:
        return AvgNonZeroReducer()

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_or_indices_tuple_required(labels, indices_tuple, owner)
        if indices_tuple is None and ref_emb is not embeddings and ref_labels is None:
            raise ValueError(f"{owner}: ref_emb was given without ref_labels; pass ref_labels (or an indices_tuple)")
        if indices_tuple is None and self.triplets_per_anchor == "all" and not (self.swap or self.smooth_loss):
            streamed = self._streamed(embeddings, labels, ref_emb, ref_labels)
            if streamed is not None:
                return streamed
        a, p, n = convert_to_triplets(
            indices_tuple, labels, ref_labels, t_per_anchor=self.triplets_per_anchor, rng=self.rng, like=embeddings,
            output_budget=self.output_budget,
        )
        if a.shape[0] == 0:
            return self.zero_losses()
        mat = self.distance(embeddings, ref_emb)
        ap = gather_pairs(mat, a, p)
        an = gather_pairs(mat, a, n)
        if self.swap:
            an = self.distance.smallest_dist(an, self._pn_dists(mat, embeddings, ref_emb, p, n))
        losses = triplet_margin_losses(ap, an, self.margin, self.distance, smooth_loss=self.smooth_loss)
        return {"loss": {"losses": losses, "indices": (a, p, n), "reduction_type": "triplet"}}

    def _pn_dists(self, mat: Array, embeddings: Array, ref_emb: Array, p: Array, n: Array) -> Array:
        if ref_emb is embeddings:
            return gather_pairs(mat, p, n)
        xp, _ = namespace_and_device(ref_emb)
        d = self.distance
        rp = d.maybe_normalize(xp.take(ref_emb, p, axis=0))
        rn = d.maybe_normalize(xp.take(ref_emb, n, axis=0))
        out = d.pairwise_distance(rp, rn)
        return out**d.power if d.power != 1 else out

    def _loss_reducer(self) -> BaseReducer:
        r = self.reducer
        if isinstance(r, MultipleReducers):
            r = r.reducers["loss"] if "loss" in r.reducers else r.default_reducer
        return r

    def _streamed(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> dict | None:
        kind = _streamable_kind(self._loss_reducer())
        if kind is None:
            return None
        r = self._loss_reducer()
        if kind is ThresholdReducer:
            low, high, divide = r.low, r.high, True
        elif kind is SumReducer:
            low, high, divide = None, None, False
        else:  # MeanReducer
            low, high, divide = None, None, True
        matches, diffs = get_matches_and_diffs(labels, None if ref_labels is labels else ref_labels, like=embeddings)
        xp, _ = namespace_and_device(embeddings)
        n_pos = xp.sum(xp.astype(matches, index_dtype(xp, namespace_and_device(embeddings)[1])), axis=1)
        n_neg = xp.sum(xp.astype(diffs, n_pos.dtype), axis=1)
        if not bool(to_numpy(xp.any(xp.logical_and(n_pos > 0, n_neg > 0)))):
            return self.zero_losses()
        mat = self.distance(embeddings, ref_emb)
        value, _ = all_triplets_margin_reduction(
            mat, matches, diffs, self.margin, is_inverted=self.distance.is_inverted, low=low, high=high, divide=divide
        )
        return {"loss": {"losses": value, "indices": None, "reduction_type": "already_reduced"}}
