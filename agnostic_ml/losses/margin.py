"""MarginLoss: positives inside ``beta - margin``, negatives beyond ``beta + margin``, with a learnable ``beta``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import index_dtype, namespace_and_device, to_numpy
from ..distances import BaseDistance
from .._random import as_generator
from ..reducers import BaseReducer, DivisorReducer, MeanReducer, MultipleReducers, SumReducer, ThresholdReducer
from ..tuples import convert_to_triplets, get_matches_and_diffs
from ._math import gather_pairs, relu
from ._unsupported import setting
from .base import BaseMetricLossFunction, zero_loss_entry
from .generic_pair import labels_or_indices_tuple_required

Array = Any


def margin_losses(ap: Array, an: Array, beta: Array, margin: Any, distance: BaseDistance) -> tuple[Array, Array]:
    """Per triplet: ``relu(d_ap - beta + margin)`` and ``relu(beta - d_an + margin)`` (Wu et al. 2017).

    For similarities the differences are flipped (``distance.margin``). ``beta`` broadcasts
    (one value, or one per triplet).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> pos, neg = margin_losses(np.array([1.3, 0.5]), np.array([1.0, 2.0]), np.array([1.2]), 0.2, LpDistance())
    >>> pos.round(4).tolist(), neg.round(4).tolist()
    ([0.3, 0.0], [0.4, 0.0])
    """
    return relu(distance.margin(ap, beta) + margin), relu(distance.margin(beta, an) + margin)


def all_triplets_margin_sums(mat: Array, pos_mask: Array, neg_mask: Array, beta: Array, margin: Any, distance: BaseDistance) -> dict[str, Array]:
    """Sums over *all* triplets of :func:`margin_losses`, without listing the triplets.

    Every triplet ``(a, p, n)``'s loss is ``u[a, p] + v[a, n]`` (``u`` the positive term,
    ``v`` the negative one), so with ``P_a`` / ``N_a`` the numbers of positives / negatives
    of anchor ``a`` (rows of the masks; ``beta`` per row or one value):

    - ``sum = sum_a N_a sum_p u[a, p] + P_a sum_n v[a, n]``;
    - ``divisor`` (the non-zero terms, PML's ``DivisorReducer`` count)
      ``= sum_a N_a #{p: u > 0} + P_a #{n: v > 0}``;
    - ``nonzero`` (triplets with a non-zero loss) ``= sum_a P_a N_a - (P_a - #{u > 0})(N_a - #{v > 0})``;
    - ``count = sum_a P_a N_a`` and ``per_anchor = P_a N_a``.

    O(N*M) memory (PML lists the O(N*M^2) triplets) and differentiable.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> d = np.array([[0.0, 1.3, 1.0], [1.3, 0.0, 2.0], [1.0, 2.0, 0.0]])
    >>> pos = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    >>> neg = np.array([[0, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=bool)
    >>> out = all_triplets_margin_sums(d, pos, neg, np.array([1.2]), 0.2, LpDistance())
    >>> round(float(out["sum"]), 4), float(out["divisor"]), float(out["count"])
    (1.0, 3.0, 2.0)
    """
    xp, _ = namespace_and_device(mat)
    posf = xp.astype(pos_mask, mat.dtype)
    negf = xp.astype(neg_mask, mat.dtype)
    u, v = margin_losses(mat, mat, beta, margin, distance)
    u = u * posf
    v = v * negf
    n_pos = xp.sum(posf, axis=1)
    n_neg = xp.sum(negf, axis=1)
    nz_u = xp.sum(xp.astype(u > 0, mat.dtype), axis=1)
    nz_v = xp.sum(xp.astype(v > 0, mat.dtype), axis=1)
    per_anchor = n_pos * n_neg
    return {
        "sum": xp.sum(n_neg * xp.sum(u, axis=1) + n_pos * xp.sum(v, axis=1)),
        "divisor": xp.sum(n_neg * nz_u + n_pos * nz_v),
        "nonzero": xp.sum(per_anchor - (n_pos - nz_u) * (n_neg - nz_v)),
        "count": xp.sum(per_anchor),
        "per_anchor": per_anchor,
    }


#: Reducer classes whose result the streamed path reproduces (unless a method is overridden).
_STREAMABLE = (DivisorReducer, ThresholdReducer, MeanReducer, SumReducer)
_METHODS = ("forward", "unpack_loss_info", "reduce_the_loss", "element_reduction", "triplet_reduction", "already_reduced_reduction")


def _reducer_kind(reducer: Any) -> type | None:
    if reducer is None or getattr(reducer, "collect_stats", False):
        return None
    for cls in _STREAMABLE:
        if isinstance(reducer, cls) and all(getattr(type(reducer), m) is getattr(cls, m) for m in _METHODS):
            return cls
    return None


def _safe_div(num: Array, den: Array, xp: Any) -> Array:
    """``num / den``, 0 where ``den == 0`` (NumPy reductions may be scalars: ``xp`` is passed)."""
    den = xp.astype(den, num.dtype)
    ok = den != 0
    return xp.where(ok, num / xp.where(ok, den, xp.ones_like(den)), xp.zeros_like(num))


def _already(value: Array) -> dict[str, Any]:
    return {"losses": value, "indices": None, "reduction_type": "already_reduced"}


class MarginLoss(BaseMetricLossFunction):
    """Margin loss (Wu et al. 2017), PML's ``MarginLoss(margin=0.2, nu=0, beta=1.2,
    triplets_per_anchor="all", learn_beta=False, num_classes=None)``.

    Per triplet: ``relu(d_ap - beta + margin) + relu(beta - d_an + margin)``
    (:func:`margin_losses`); the default :class:`DivisorReducer` divides the sum by the
    number of non-zero terms. With ``learn_beta``, ``beta`` is a learnable array
    (``nn.Parameter`` in the torch adapter, float32, PML's name and shape: ``(1,)``, or
    ``(num_classes,)`` indexed by each anchor's label) and the sub-loss
    ``beta_reg_loss = beta * nu`` is added (per triplet with per-class ``beta``).

    Triplets come from ``indices_tuple`` (pairs are combined per anchor), else all
    triplets (``triplets_per_anchor="all"``) or that many random ones per anchor, drawn
    from ``rng`` (PML uses torch's global generator).

    **All triplets in O(N*M) memory.** With no tuple and ``"all"`` (the default), the
    triplets are never listed: the loss of a triplet is a positive-pair term plus a
    negative-pair term, so the sum, the non-zero count (DivisorReducer), the triplet count
    (MeanReducer), the count of non-zero triplets (AvgNonZeroReducer) and the sum
    (SumReducer) are exact sums over the N x M matrix (:func:`all_triplets_margin_sums`).
    A ThresholdReducer with ``high`` or ``low > 0``, a reducer that records statistics or
    a custom reducer lists the triplets instead.

    The 0.9-era ``learnable_param_names=["beta"], num_class_per_param=C`` means
    ``learn_beta=True, num_classes=C`` (with a ``FutureWarning``).

    Parameters
    ----------
    margin : float, default 0.2
    nu : float, default 0
        Weight of the ``beta`` regulariser (with ``learn_beta``).
    beta : float, default 1.2
        Initial boundary between positives and negatives.
    triplets_per_anchor : int or "all", default "all"
    learn_beta : bool, default False
    num_classes : int, optional
        One ``beta`` per class (labels must then be in ``[0, num_classes)``).
    rng : numpy.random.Generator, int or None
        For random triplets (an int ``triplets_per_anchor``).
    **kwargs
        ``distance``, ``reducer``, ``embedding_regularizer``, ... (see :class:`BaseMetricLossFunction`).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import MarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(MarginLoss()(emb, [0, 1, 0, 1])), 4)
    0.5282
    """

    _learnable = ("beta",)
    _per_class_params = ("beta",)

    def __init__(
        self,
        margin: float = 0.2,
        nu: float = 0,
        beta: float = 1.2,
        triplets_per_anchor: int | str = "all",
        learn_beta: bool = False,
        num_classes: int | None = None,
        rng: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        legacy = self._legacy_learnable
        if legacy is not None and "beta" in legacy[0]:
            # 0.9's learnable_param_names=["beta"], num_class_per_param=C is today's
            # learn_beta=True, num_classes=C; any other names stay for make_learnable.
            names, per_class = legacy
            learn_beta = True
            num_classes = per_class if per_class is not None else num_classes
            rest = [n for n in names if n != "beta"]
            self._legacy_learnable = (rest, per_class) if rest else None
        tpa = triplets_per_anchor
        if not (tpa == "all" or (isinstance(tpa, (int, np.integer)) and not isinstance(tpa, bool) and tpa > 0)):
            raise ValueError(f"triplets_per_anchor must be 'all' or a positive int, got {tpa!r}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        self.margin = margin
        self.nu = nu
        self.learn_beta = bool(learn_beta)
        self.triplets_per_anchor = tpa
        self.rng = as_generator(rng)
        self.initialize_beta(beta, num_classes)

    def initialize_beta(self, beta: float, num_classes: int | None) -> None:
        """``beta`` of shape ``(1,)`` or ``(num_classes,)``, float32; learnable with ``learn_beta``."""
        shape = (int(num_classes),) if num_classes else (1,)
        if self.learn_beta:
            self._learnable = ("beta",)
            self.beta = self.new_parameter(shape, value=float(beta))
        else:
            self._learnable = ()  # a fixed beta is a plain array (not in state_dict, as PML's tensor)
            self.beta = np.full(shape, float(beta), dtype=np.float32)

    def get_default_reducer(self) -> BaseReducer:
        return DivisorReducer()

    def _sub_loss_names(self) -> list[str]:
        return ["margin_loss", "beta_reg_loss"]

    # -- the call -----------------------------------------------------------------------
    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        owner = type(self).__name__
        labels_or_indices_tuple_required(labels, indices_tuple, owner)
        if indices_tuple is None and ref_emb is not embeddings and ref_labels is None:
            raise ValueError(f"{owner}: ref_emb was given without ref_labels; pass ref_labels (or an indices_tuple)")
        beta = self.param_like(self.beta, embeddings)
        per_class = beta.shape[0] != 1
        if per_class:
            self._check_labels_for_beta(labels, beta.shape[0])
        if indices_tuple is None and self.triplets_per_anchor == "all":
            streamed = self._streamed(embeddings, labels, ref_emb, ref_labels, beta, per_class)
            if streamed is not None:
                return streamed
        a, p, n = convert_to_triplets(
            indices_tuple, labels, ref_labels, t_per_anchor=self.triplets_per_anchor, rng=self.rng, like=embeddings
        )
        if a.shape[0] == 0:
            return self.zero_losses()
        xp, _ = namespace_and_device(embeddings)
        b = xp.take(beta, xp.take(labels, a)) if per_class else beta
        mat = self.distance(embeddings, ref_emb)
        pos, neg = margin_losses(gather_pairs(mat, a, p), gather_pairs(mat, a, n), b, setting(self.margin, self, mat), self.distance)
        idt = index_dtype(xp, namespace_and_device(embeddings)[1])
        divisor = xp.sum(xp.astype(pos > 0, idt)) + xp.sum(xp.astype(neg > 0, idt))
        return {
            "margin_loss": {"losses": pos + neg, "indices": (a, p, n), "reduction_type": "triplet", "divisor": divisor},
            "beta_reg_loss": self.compute_reg_loss(b, a, divisor),
        }

    def compute_reg_loss(self, beta: Array, anchor_idx: Array, divisor: Any) -> dict:
        """``beta * nu`` (PML's hook): already reduced for one ``beta``, per triplet otherwise."""
        if not self.learn_beta:
            return zero_loss_entry()
        loss = beta * setting(self.nu, self, beta)
        if self.beta.shape[0] == 1:
            return _already(loss)
        return {"losses": loss, "indices": anchor_idx, "reduction_type": "element", "divisor": divisor}

    def _check_labels_for_beta(self, labels: Array, num_classes: int) -> None:
        if labels is None:
            raise ValueError(f"{type(self).__name__} with one beta per class (num_classes={num_classes}) needs labels")
        xp, _ = namespace_and_device(labels)
        if labels.shape[0] and bool(to_numpy(xp.logical_or(xp.min(labels) < 0, xp.max(labels) >= num_classes))):
            lo, hi = to_numpy(xp.min(labels)).item(), to_numpy(xp.max(labels)).item()
            raise ValueError(
                f"labels must be in [0, num_classes) = [0, {num_classes}) to index the per-class beta, got values in [{lo}, {hi}]"
            )

    # -- all triplets without listing them --------------------------------------------------
    def _sub_reducer(self, name: str) -> Any:
        r = self.reducer
        if not isinstance(r, MultipleReducers):
            return None
        return r.reducers.get(name, r.default_reducer)

    def _streamed(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array, beta: Array, per_class: bool) -> dict | None:
        kind = _reducer_kind(self._sub_reducer("margin_loss"))
        r = self._sub_reducer("margin_loss")
        if kind is None or (kind is ThresholdReducer and (r.high is not None or (r.low is not None and r.low > 0))):
            return None
        reg_kind = _reducer_kind(self._sub_reducer("beta_reg_loss"))
        if self.learn_beta and per_class and reg_kind is None:
            return None
        xp, _ = namespace_and_device(embeddings)
        matches, diffs = get_matches_and_diffs(labels, None if ref_labels is labels else ref_labels, like=embeddings)
        if not bool(to_numpy(xp.any(xp.logical_and(xp.any(matches, axis=1), xp.any(diffs, axis=1))))):
            return self.zero_losses()
        mat = self.distance(embeddings, ref_emb)
        b = xp.reshape(xp.take(beta, labels), (-1, 1)) if per_class else beta
        sums = all_triplets_margin_sums(mat, matches, diffs, b, setting(self.margin, self, mat), self.distance)
        if kind is DivisorReducer:
            value = _safe_div(sums["sum"], sums["divisor"], xp)
        elif kind is SumReducer:
            value = sums["sum"]
        elif kind is ThresholdReducer and r.low is not None and r.low == 0:
            value = _safe_div(sums["sum"], sums["nonzero"], xp)
        else:  # MeanReducer, or a ThresholdReducer with low < 0 (keeps every loss)
            value = sums["sum"] / sums["count"]
        out = {"margin_loss": _already(value)}
        if not self.learn_beta:
            out["beta_reg_loss"] = zero_loss_entry()
        elif not per_class:
            out["beta_reg_loss"] = _already(beta * setting(self.nu, self, beta))
        else:
            out["beta_reg_loss"] = _already(self._streamed_reg(b[:, 0], sums, reg_kind, self._sub_reducer("beta_reg_loss")))
        return out

    def _streamed_reg(self, beta_rows: Array, sums: dict, kind: type, reducer: Any) -> Array:
        """The per-class ``beta * nu`` term of every triplet, each anchor's value ``P_a N_a`` times."""
        xp, _ = namespace_and_device(beta_rows)
        r = beta_rows * setting(self.nu, self, beta_rows)
        mult = xp.astype(sums["per_anchor"], r.dtype)
        if kind is DivisorReducer:
            return _safe_div(xp.sum(mult * r), sums["divisor"], xp)
        if kind is SumReducer:
            return xp.sum(mult * r)
        if kind is MeanReducer:
            return xp.sum(mult * r) / sums["count"]
        keep = xp.ones(r.shape, dtype=xp.bool, device=namespace_and_device(r)[1])
        if reducer.low is not None:
            keep = xp.logical_and(keep, r > reducer.low)
        if reducer.high is not None:
            keep = xp.logical_and(keep, r < reducer.high)
        m = xp.where(keep, mult, xp.zeros_like(mult))
        return _safe_div(xp.sum(m * r), xp.sum(m), xp)
