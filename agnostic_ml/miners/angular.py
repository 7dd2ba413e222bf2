"""AngularMiner: triplets whose angle at the negative exceeds a threshold, from the Gram matrix."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import empty_indices, floating_work_dtype, namespace_and_device, nonzero, take_nonneg
from .._label_masks import label_masks
from .._typing import Array
from .._validate import is_real
from ..distances import BaseDistance
from ._distance_checks import require_normalized_euclidean
from ._triplet_blocks import anchor_block_rows
from .base import BaseMiner


class AngularMiner(BaseMiner):
    """Triplets ``(a, p, n)`` whose angle at the negative exceeds ``angle`` (PML's ``AngularMiner``).

    With ``c = (a + p) / 2`` the angle of the angular loss (Wang et al., 2017) is

    ``angle(a, p, n) = atan(||a - p|| / (2 ||n - c||))``

    and a triplet is kept when ``angle(a, p, n) > radians(angle)`` (strict), which for
    ``0 <= angle < 90`` is ``||a - p||^2 > 4 tan^2(angle) ||n - c||^2`` with ``||a - p|| > 0``.
    Both squared norms are combinations of dot products (``||n - c||^2 = |n|^2 - n.a -
    n.p + |a + p|^2 / 4``), so everything comes from the Gram matrix: no ``T x D``
    tensor, ``O(N R)`` memory plus the output, ``O(P R)`` time over the ``P`` positive
    pairs (PML gathers four ``T x D`` float tensors and runs out of memory at N = 1024).

    Differences from PML 2.9
    ------------------------
    - The angle is computed on the **L2-normalised** embeddings, which the required
      distance ``LpDistance(normalize_embeddings=True)`` and ``AngularLoss`` use. PML's
      miner measures it on the raw embeddings (``pairwise_distance`` does not
      normalise), so its selection depends on the embeddings' norms while its loss does
      not. For unit-norm inputs both agree.
    - PML's ``pairwise_distance`` adds ``eps = 1e-6`` to the difference, so with
      ``angle=0`` it also keeps pairs of identical anchor and positive; here such a pair
      has ``||a - p|| = 0`` and no angle above 0.
    - ``angle`` is validated: a real number in ``[0, 90)`` degrees (the angle lies in
      ``[0, 90)``, so a larger threshold could never select anything).
    - Non-finite embeddings raise ``ValueError`` (the library's policy, see :class:`BaseMiner`).
    - Output order is PML's: ``(a, p, n)`` lexicographic.
    - Stats (``collect_stats=True``, all in degrees, 0-D arrays; over all triplets as in
      PML): ``average_angle``, ``min_angle``, ``max_angle``, ``std_of_angle``
      (unbiased), ``average_angle_above_threshold``, ``average_angle_below_threshold``
      (0 where undefined instead of PML's missing value). They cost one ``atan2`` per
      triplet and are computed only when asked for.

    Parameters
    ----------
    angle : float, default 20
        Threshold in degrees.
    distance : BaseDistance, optional
        Must be ``LpDistance(p=2, power=1, normalize_embeddings=True)`` (the default).
    collect_stats : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import AngularMiner
    >>> t = np.radians([0.0, 20.0, 100.0, 200.0])
    >>> emb = np.stack([np.cos(t), np.sin(t)], axis=1)
    >>> [x.tolist() for x in AngularMiner(angle=20)(emb, [0, 0, 1, 1])]
    [[2, 2, 3, 3], [3, 3, 2, 2], [0, 1, 0, 1]]
    """

    def __init__(self, angle: float = 20, collect_stats: bool = False, distance: BaseDistance | None = None) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        require_normalized_euclidean(self)
        if not is_real(angle) or not (0 <= angle < 90):
            raise ValueError(f"angle must be a number of degrees in [0, 90), got {angle!r}")
        self.angle = float(angle)

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        xp, device = namespace_and_device(embeddings)  # finite inputs: checked by BaseMiner.forward
        exclude_self = ref_labels is labels
        dtype = floating_work_dtype(xp.result_type(embeddings.dtype, ref_emb.dtype), xp=xp)  # half -> float32
        q = self.distance.normalize(embeddings if embeddings.dtype == dtype else xp.astype(embeddings, dtype))
        r = q if exclude_self and ref_emb is embeddings else self.distance.normalize(
            ref_emb if ref_emb.dtype == dtype else xp.astype(ref_emb, dtype)
        )
        n, m = q.shape[0], r.shape[0]
        if n == 0 or m == 0:
            self._record_stats(None, xp, device, dtype)
            return empty_indices(3, xp=xp, device=device)  # type: ignore[return-value]
        g_qr = xp.matmul(q, xp.matrix_transpose(r))  # a.p and a.n
        g_rr = g_qr if r is q else xp.matmul(r, xp.matrix_transpose(r))  # p.n
        sq_q = xp.sum(q * q, axis=1)
        sq_r = sq_q if r is q else xp.sum(r * r, axis=1)
        pos, neg = label_masks(labels, ref_labels, exclude_self=exclude_self, stop=n, xp=xp, device=device)
        pa, pp = nonzero(pos, xp=xp)
        n_pairs = pa.shape[0]
        tan2x4 = xp.asarray(4.0 * math.tan(math.radians(self.angle)) ** 2, dtype=dtype, device=device)
        quarter = xp.asarray(0.25, dtype=dtype, device=device)
        two = xp.asarray(2.0, dtype=dtype, device=device)
        zero = xp.asarray(0.0, dtype=dtype, device=device)
        neg_inf = xp.asarray(-float("inf"), dtype=dtype, device=device)
        step = anchor_block_rows(m)  # positive pairs per chunk: (step, R) temporaries
        parts: list[tuple[Array, Array, Array]] = []
        acc = _AngleStats(xp, dtype, device) if self.collect_stats else None
        for s in range(0, n_pairs, step):
            e = min(s + step, n_pairs)
            a, p = pa[s:e], pp[s:e]
            ap_dot = take_nonneg(xp.reshape(g_qr, (-1,)), a * m + p, xp=xp)
            sa, sp = take_nonneg(sq_q, a, xp=xp), take_nonneg(sq_r, p, xp=xp)
            ap2 = sa + sp - two * ap_dot  # ||a - p||^2
            c2 = (sa + sp + two * ap_dot) * quarter  # ||(a + p) / 2||^2
            # ||n - c||^2 = |n|^2 - (a.n + p.n) + |c|^2, for every reference n (chunk x R)
            nc2 = (xp.expand_dims(sq_r, axis=0) + xp.expand_dims(c2, axis=1)) - (
                take_nonneg(g_qr, a, xp=xp) + take_nonneg(g_rr, p, xp=xp)
            )
            nc2 = xp.maximum(nc2, zero)
            lhs = xp.where(ap2 > zero, ap2, neg_inf)  # ||a - p|| = 0: no angle above any threshold
            is_neg = take_nonneg(neg, a, xp=xp)
            keep = xp.logical_and(is_neg, xp.expand_dims(lhs, axis=1) > tan2x4 * nc2)
            rows, cols = nonzero(keep, xp=xp)
            if rows.shape[0]:
                parts.append((take_nonneg(a, rows, xp=xp), take_nonneg(p, rows, xp=xp), cols))
            if acc is not None:
                acc.add(xp.maximum(ap2, zero), nc2, is_neg, math.radians(self.angle))
        self._record_stats(acc, xp, device, dtype)
        if not parts:
            return empty_indices(3, xp=xp, device=device)  # type: ignore[return-value]
        if len(parts) == 1:
            return parts[0]
        # one component at a time, dropping its parts: peak 4x (not 6x) one output array
        columns = [[pt[k] for pt in parts] for k in range(3)]
        del parts
        out = []
        for k in range(3):
            out.append(xp.concat(columns[k]))
            columns[k] = []
        return out[0], out[1], out[2]

    def _record_stats(self, acc: "_AngleStats | None", xp: Any, device: Any, dtype: Any) -> None:
        if not self.collect_stats:
            return
        acc = acc or _AngleStats(xp, dtype, device)
        self.record(**acc.result())

    def __repr__(self) -> str:
        return f"AngularMiner(angle={self.angle})"


class _AngleStats:
    """Running sums for PML's angle statistics (degrees), without keeping the angles."""

    def __init__(self, xp: Any, dtype: Any, device: Any) -> None:
        self.xp = xp
        z = xp.asarray(0.0, dtype=dtype, device=device)
        self.count = self.total = self.total_sq = self.above = self.n_above = z
        self.lo = xp.asarray(float("inf"), dtype=dtype, device=device)
        self.hi = xp.asarray(-float("inf"), dtype=dtype, device=device)

    def add(self, ap2: Array, nc2: Array, is_neg: Array, threshold: float) -> None:
        xp = self.xp
        ang = xp.atan2(xp.expand_dims(xp.sqrt(ap2), axis=1), 2 * xp.sqrt(nc2))
        w = xp.astype(is_neg, ang.dtype)
        z = xp.zeros_like(ang)
        up = xp.astype(xp.logical_and(is_neg, ang > threshold), ang.dtype)
        self.count = self.count + xp.sum(w)
        self.total = self.total + xp.sum(ang * w)
        self.total_sq = self.total_sq + xp.sum(ang * ang * w)
        self.above = self.above + xp.sum(ang * up)
        self.n_above = self.n_above + xp.sum(up)
        self.lo = xp.minimum(self.lo, xp.min(xp.where(is_neg, ang, z + float("inf"))))
        self.hi = xp.maximum(self.hi, xp.max(xp.where(is_neg, ang, z - float("inf"))))

    def result(self) -> dict[str, Array]:
        xp = self.xp
        one = xp.ones_like(self.count)
        zero = xp.zeros_like(self.count)
        deg = 180.0 / math.pi
        n = self.count
        mean = self.total / xp.maximum(n, one)
        var = (self.total_sq - n * mean * mean) / xp.maximum(n - one, one)
        below_n = n - self.n_above
        has = n > zero
        return {
            "average_angle": mean * deg,
            "min_angle": xp.where(has, self.lo, zero) * deg,
            "max_angle": xp.where(has, self.hi, zero) * deg,
            "std_of_angle": xp.sqrt(xp.maximum(var, zero)) * deg,
            "average_angle_above_threshold": self.above / xp.maximum(self.n_above, one) * deg,
            "average_angle_below_threshold": (self.total - self.above) / xp.maximum(below_n, one) * deg,
        }
