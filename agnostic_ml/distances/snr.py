"""SNRDistance: signal-to-noise ratio distance (Yuan et al., 2019)."""

from __future__ import annotations

from typing import Any

from .._array_api import gram, namespace_and_device
from .._typing import Array
from .base import BaseDistance


class SNRDistance(BaseDistance):
    """``d(q, r) = Var(q - r) / Var(q)`` with the unbiased variance over features.

    PML builds an ``Nq x Nr x D`` difference tensor; here the identity
    ``(D-1) Var(q - r) = |q_c|^2 + |r_c|^2 - 2 q_c . r_c`` (``_c``: mean-centred rows)
    turns it into one GEMM, O(Nq * Nr) memory.

    A constant query row (``Var(q) = 0``) gives ``0 / 0 = nan`` (or ``inf`` against a
    non-constant row), as PML's division does; those entries are constants here, so they
    pass no gradient back (a plain division would send ``nan`` to every row through the
    masks downstream, where PML's indexing sends 0).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import SNRDistance
    >>> x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]])
    >>> SNRDistance(normalize_embeddings=False)(x).round(4)
    array([[0.    , 0.3333],
           [0.1429, 0.    ]])
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("is_inverted", False):
            raise ValueError("SNRDistance is a distance: is_inverted must be False")
        super().__init__(**kwargs)

    def compute_mat(self, query_emb: Array, ref_emb: Array) -> Array:
        xp, device = namespace_and_device(query_emb)
        qc = query_emb - xp.mean(query_emb, axis=1, keepdims=True)
        same = ref_emb is query_emb
        rc = qc if same else ref_emb - xp.mean(ref_emb, axis=1, keepdims=True)
        qq = xp.sum(qc * qc, axis=1)
        rr = qq if same else xp.sum(rc * rc, axis=1)
        num = qq[:, None] + rr[None, :] - 2 * gram(qc, rc, xp=xp)
        num = xp.maximum(num, xp.zeros_like(num))
        if same and query_emb.shape[0] > 0:
            eye = xp.eye(query_emb.shape[0], dtype=xp.bool, device=device)
            num = xp.where(eye, xp.zeros_like(num), num)
        return _safe_ratio(num, qq[:, None], xp)

    def pairwise_distance(self, query_emb: Array, ref_emb: Array) -> Array:
        """Row-wise ``Var(q_i - r_i) / Var(q_i)`` (no normalisation, as in PML)."""
        xp, _ = namespace_and_device(query_emb, ref_emb)
        return _safe_ratio(_var(query_emb - ref_emb, xp), _var(query_emb, xp), xp)


def _safe_ratio(num: Array, den: Array, xp: Any) -> Array:
    """``num / den`` where ``den > 0``; elsewhere the constant ``nan`` (``num == 0``) or
    ``inf``, the values of the plain division, without its ``nan`` gradient (double ``where``)."""
    ok = den > 0
    one = xp.ones_like(den)
    ratio = num / xp.where(ok, den, one)
    nan = xp.full_like(num, float("nan"))
    inf = xp.full_like(num, float("inf"))
    return xp.where(ok, ratio, xp.where(num > 0, inf, nan))


def _var(x: Array, xp: Any) -> Array:
    c = x - xp.mean(x, axis=-1, keepdims=True)
    return xp.sum(c * c, axis=-1) / (x.shape[-1] - 1)
