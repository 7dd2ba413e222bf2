"""DistanceWeightedMiner: negatives sampled with weights 1 / q(d) ("Sampling matters")."""

from __future__ import annotations

import math

import numpy as np

from .._array_api import floating_work_dtype, namespace_and_device
from .._random import as_generator
from .._typing import Array
from .._validate import is_real
from ..distances import BaseDistance
from ..tuples import get_random_triplet_indices
from ._distance_checks import require_normalized_euclidean
from .base import BaseMiner


class DistanceWeightedMiner(BaseMiner):
    """Distance-weighted negative sampling (Wu et al., 2017; PML's ``DistanceWeightedMiner``).

    On the unit sphere in ``D`` dimensions, pairwise distances have density
    ``q(d) ~ d^(D-2) (1 - d^2/4)^((D-3)/2)``. Negatives are drawn with weight ``1/q``:

    ``log w(a, n) = (2 - D) log d - ((D - 3) / 2) log(1 - d^2 / 4)``,  ``d = max(d_an, cutoff)``

    restricted to negatives with ``d < nonzero_loss_cutoff`` (non-finite log-weights get
    weight 0, as in PML). Triplets are then drawn as PML's
    ``get_random_triplet_indices(weights=w)`` does: per anchor, as many positives as its
    class has members (uniformly, with replacement), each with one negative drawn
    according to ``w[a, :]``; anchors whose weights are all 0 are skipped.

    Differences from PML 2.9
    ------------------------
    - **Fixed:** PML multiplies same-class log-weights by 0 instead of masking them, so
      its stabilising maximum is at least 0, and it subtracts one *global* maximum, so a
      whole row can underflow to zero weights and its anchor silently gets no triplets
      (PML#276). Here same-class entries are masked out and each row is stabilised by
      its own maximum over its eligible negatives; the normalised weights (hence the
      sampling distribution) are mathematically the same, without the underflow.
    - Randomness comes only from ``rng`` (``numpy.random.Generator``, int seed or None):
      same seed, same triplets on every backend. The draws are therefore not PML's
      (PML uses torch's global RNG): outputs agree in distribution, not element by element.
    - Non-finite embeddings raise ``ValueError`` (the library's policy, see :class:`BaseMiner`);
      ``cutoff >= nonzero_loss_cutoff``, ``cutoff >= 2`` and ``nonzero_loss_cutoff <= 0``, which
      could never select a negative, raise ``ValueError`` (PML accepts them and returns nothing).

    Parameters
    ----------
    cutoff : float, default 0.5
        Distances below it are raised to it before weighting (variance control).
    nonzero_loss_cutoff : float, default 1.4
        Negatives at this distance or farther get weight 0.
    rng : numpy.random.Generator, int or None
        Source of randomness.
    distance : BaseDistance, optional
        Must be ``LpDistance(p=2, power=1, normalize_embeddings=True)`` (the default).
    collect_stats : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import DistanceWeightedMiner
    >>> emb = np.random.default_rng(0).normal(size=(8, 4))
    >>> a, p, n = DistanceWeightedMiner(rng=0)(emb, [0, 0, 1, 1, 2, 2, 3, 3])
    >>> len(a), bool(np.all(np.array([0, 0, 1, 1, 2, 2, 3, 3])[n] != np.array([0, 0, 1, 1, 2, 2, 3, 3])[a]))
    (16, True)
    """

    def __init__(
        self,
        cutoff: float = 0.5,
        nonzero_loss_cutoff: float = 1.4,
        rng: np.random.Generator | int | None = None,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        require_normalized_euclidean(self)
        for name, v in (("cutoff", cutoff), ("nonzero_loss_cutoff", nonzero_loss_cutoff)):
            if not is_real(v) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite real number, got {v!r}")
        # d = max(d_an, cutoff) must satisfy 0 < d < nonzero_loss_cutoff and d < 2 (the weight's
        # log(1 - d^2 / 4)): settings outside these bounds could never select a negative.
        if cutoff >= nonzero_loss_cutoff:
            raise ValueError(
                f"cutoff ({cutoff!r}) must be smaller than nonzero_loss_cutoff ({nonzero_loss_cutoff!r}): "
                "distances are raised to cutoff and only those below nonzero_loss_cutoff are kept, so no "
                "negative could ever be selected"
            )
        if cutoff >= 2:
            raise ValueError(
                f"cutoff must be < 2 (the largest normalised Euclidean distance), got {cutoff!r}: "
                "no negative could ever be selected"
            )
        if nonzero_loss_cutoff <= 0:
            raise ValueError(f"nonzero_loss_cutoff must be > 0 (distances are >= 0), got {nonzero_loss_cutoff!r}")
        self.cutoff = float(cutoff)
        self.nonzero_loss_cutoff = float(nonzero_loss_cutoff)
        self.rng = as_generator(rng)

    def weights(self, embeddings: Array, labels: Array, ref_emb: Array | None = None, ref_labels: Array | None = None) -> Array:
        """The unnormalised sampling weights ``w`` (shape ``(N, R)``), 0 outside eligible negatives.

        Each row is scaled so that its largest weight is 1 (rows without an eligible
        negative are all 0). ``labels``/``ref_labels`` must already be arrays of the
        embeddings' namespace; ``ref_emb=None`` means the batch itself.
        """
        xp, device = namespace_and_device(embeddings)
        ref = embeddings if ref_emb is None else ref_emb
        rlab = labels if ref_labels is None else ref_labels
        mat = self.distance(embeddings, ref)
        work = floating_work_dtype(mat.dtype, xp=xp)
        if mat.dtype != work:
            mat = xp.astype(mat, work)
        dim = float(embeddings.shape[1])
        one = xp.asarray(1.0, dtype=work, device=device)
        d = xp.maximum(mat, xp.asarray(self.cutoff, dtype=work, device=device))
        rest = one - 0.25 * (d * d)
        # log(0) and log(<0) would give inf/NaN, which PML zeroes afterwards; mask them first
        # (same weights, no floating-point warnings).
        finite_logs = xp.logical_and(d > 0, rest > 0)
        log_w = (2.0 - dim) * xp.log(xp.where(finite_logs, d, one)) - ((dim - 3.0) / 2.0) * xp.log(
            xp.where(finite_logs, rest, one)
        )
        neg = xp.expand_dims(labels, axis=1) != xp.expand_dims(rlab, axis=0)
        eligible = xp.logical_and(
            xp.logical_and(neg, xp.logical_and(finite_logs, xp.isfinite(log_w))),
            d < xp.asarray(self.nonzero_loss_cutoff, dtype=work, device=device),
        )
        neg_inf = xp.asarray(-float("inf"), dtype=work, device=device)
        zero = xp.asarray(0.0, dtype=work, device=device)
        masked = xp.where(eligible, log_w, neg_inf)
        if masked.shape[1] == 0:
            return masked
        row_max = xp.max(masked, axis=1, keepdims=True)
        row_max = xp.where(xp.isfinite(row_max), row_max, zero)  # rows without eligible negatives
        return xp.where(eligible, xp.exp(masked - row_max), zero)

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        # finite inputs: checked by BaseMiner.forward
        w = self.weights(embeddings, labels, ref_emb, ref_labels)
        return get_random_triplet_indices(labels, ref_labels, weights=w, rng=self.rng, like=embeddings)

    def __repr__(self) -> str:
        return f"DistanceWeightedMiner(cutoff={self.cutoff}, nonzero_loss_cutoff={self.nonzero_loss_cutoff})"
