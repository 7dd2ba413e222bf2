"""BatchEasyHardMiner: one positive and one negative per anchor, by strategy."""

from __future__ import annotations

from typing import Any

from .._array_api import empty_indices, namespace_and_device, nonzero, nonzero_2d
from .._typing import Array
from ..distances import BaseDistance
from .._validate import check_choice, check_range
from ._pair_mining import (
    RowBest,
    flat_gather,
    masked_row_best,
    matrix_and_masks,
)
from .base import BaseMiner

HARD = "hard"
SEMIHARD = "semihard"
EASY = "easy"
ALL = "all"
STRATEGIES = (HARD, SEMIHARD, EASY, ALL)


class BatchEasyHardMiner(BaseMiner):
    """Per anchor, the positive and the negative picked by a strategy (PML's ``BatchEasyHardMiner``).

    Strategies (``d`` a distance; for a similarity the order is reversed):

    - positives: ``"hard"`` = farthest positive (``argmax_p d(a, p)``), ``"easy"`` =
      closest, ``"semihard"`` = the farthest positive strictly closer than the negative
      chosen for that anchor (``d(a, p) < d(a, n*)``), ``"all"`` = every positive pair;
    - negatives: ``"hard"`` = closest negative (``argmin_n d(a, n)``), ``"easy"`` =
      farthest, ``"semihard"`` = the closest negative strictly farther than the chosen
      positive (``d(a, n) > d(a, p*)``), ``"all"`` = every negative pair.

    If the positive strategy is ``"semihard"`` the negatives are chosen first, otherwise
    the positives are. ``allowed_pos_range=(lo, hi)`` keeps only candidates with
    ``lo <= value <= hi`` (inclusive), likewise ``allowed_neg_range``. An anchor without a
    candidate on a side that is not ``"all"`` is dropped from both sides (when neither side
    is ``"all"``); so the output is ``(a, p, a, n)`` with one pair per kept anchor.

    Restrictions (``ValueError``, as in PML): unknown strategies; both ``"semihard"``;
    ``"semihard"`` together with ``"all"``.

    Deviations from PML: ties (several candidates with the same value in a row) go to the
    lowest reference index (``argmax``/``argmin`` first occurrence; ``torch.max(dim=1)``
    does the same on CPU); an allowed range is also applied to a side whose strategy is
    ``"all"`` (PML ignores it there, contrary to its documentation "If None, then a range
    is not applied"). PML's ``N x N`` index scatter and clones are replaced by masked
    row reductions: O(N^2) memory, no index arrays of all pairs.

    Parameters
    ----------
    pos_strategy, neg_strategy : {"hard", "semihard", "easy", "all"}, default "easy", "semihard"
    allowed_pos_range, allowed_neg_range : (float, float) or None
        Inclusive ranges ``lo <= hi`` (infinities allowed).
    collect_stats : bool, default False
        Record, as 0-D arrays (0 when there is nothing to measure, as after PML's reset):
        ``easiest_triplet``/``hardest_triplet`` (min/max of ``d_ap - d_an`` over kept
        anchors, swapped for similarities; only when neither side is ``"all"``),
        ``easiest_pos_pair``/``hardest_pos_pair``, ``easiest_neg_pair``/``hardest_neg_pair``.
    distance : BaseDistance, optional
        Default ``LpDistance()``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import BatchEasyHardMiner
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> miner = BatchEasyHardMiner(pos_strategy="hard", neg_strategy="hard")
    >>> [x.tolist() for x in miner(emb, [0, 0, 1, 1])]
    [[0, 1, 2, 3], [1, 0, 3, 2], [0, 1, 2, 3], [2, 2, 1, 1]]
    """

    HARD = HARD
    SEMIHARD = SEMIHARD
    EASY = EASY
    ALL = ALL
    all_batch_mining_strategies = list(STRATEGIES)

    def __init__(
        self,
        pos_strategy: str = EASY,
        neg_strategy: str = SEMIHARD,
        allowed_pos_range: tuple[float, float] | None = None,
        allowed_neg_range: tuple[float, float] | None = None,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        check_choice(pos_strategy, "pos_strategy", STRATEGIES)
        check_choice(neg_strategy, "neg_strategy", STRATEGIES)
        if pos_strategy == neg_strategy == SEMIHARD:
            raise ValueError('pos_strategy and neg_strategy cannot both be "semihard"')
        if SEMIHARD in (pos_strategy, neg_strategy) and ALL in (pos_strategy, neg_strategy):
            raise ValueError(
                f'"semihard" cannot be combined with "all" (got pos_strategy={pos_strategy!r}, '
                f"neg_strategy={neg_strategy!r})"
            )
        self.pos_strategy = pos_strategy
        self.neg_strategy = neg_strategy
        self.allowed_pos_range = check_range(allowed_pos_range, "allowed_pos_range")
        self.allowed_neg_range = check_range(allowed_neg_range, "allowed_neg_range")

    # -- which extreme each side takes (in raw matrix values) ------------------------------------
    def _pos_largest(self) -> bool:
        hard = self.pos_strategy in (HARD, SEMIHARD)
        return hard != self.distance.is_inverted

    def _neg_largest(self) -> bool:
        hard = self.neg_strategy in (HARD, SEMIHARD)
        return hard == self.distance.is_inverted

    @staticmethod
    def _in_range(mat: Array, mask: Array, rng: tuple[float, float] | None, xp: Any) -> Array:
        if rng is None:
            return mask
        lo, hi = rng
        return xp.logical_and(mask, xp.logical_and(mat >= lo, mat <= hi))

    @staticmethod
    def _pick(mat: Array, valid: Array, largest: bool, thresholds: Array | None, xp: Any) -> RowBest:
        if thresholds is not None:
            # PML's semihard rule: a "max" pick keeps values strictly below the other
            # side's choice, a "min" pick values strictly above it.
            cond = mat < thresholds[:, None] if largest else mat > thresholds[:, None]
            valid = xp.logical_and(valid, cond)
        return masked_row_best(mat, valid, largest=largest, xp=xp)

    def _mine_pairs(
        self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array
    ) -> tuple[Array, ...]:
        """(a1, p, a2, n); shared with :class:`BatchHardMiner`."""
        xp, device = namespace_and_device(embeddings)
        if embeddings.shape[0] == 0 or ref_emb.shape[0] == 0:
            return empty_indices(4, xp=xp, device=device)
        mat, pos, neg = matrix_and_masks(self.distance, embeddings, labels, ref_emb, ref_labels, xp=xp, device=device)
        pos = self._in_range(mat, pos, self.allowed_pos_range, xp)
        neg = self._in_range(mat, neg, self.allowed_neg_range, xp)
        ps, ns = self.pos_strategy, self.neg_strategy
        pos_pick = neg_pick = None
        if ps == SEMIHARD:
            neg_pick = self._pick(mat, neg, self._neg_largest(), None, xp)
            pos_pick = self._pick(mat, pos, self._pos_largest(), neg_pick.values, xp)
        elif ns == SEMIHARD:
            pos_pick = self._pick(mat, pos, self._pos_largest(), None, xp)
            neg_pick = self._pick(mat, neg, self._neg_largest(), pos_pick.values, xp)
        else:
            if ps != ALL:
                pos_pick = self._pick(mat, pos, self._pos_largest(), None, xp)
            if ns != ALL:
                neg_pick = self._pick(mat, neg, self._neg_largest(), None, xp)

        if pos_pick is not None and neg_pick is not None:
            (a,) = nonzero(xp.logical_and(pos_pick.has_any, neg_pick.has_any), xp=xp)
            p = xp.take(pos_pick.cols, a, axis=0)
            n = xp.take(neg_pick.cols, a, axis=0)
            if self.collect_stats:
                self._set_stats(xp.take(pos_pick.values, a, axis=0), xp.take(neg_pick.values, a, axis=0), mat, xp)
            return a, p, a, n
        if pos_pick is None:
            a1, p = nonzero_2d(pos, xp=xp)
        else:
            (a1,) = nonzero(pos_pick.has_any, xp=xp)
            p = xp.take(pos_pick.cols, a1, axis=0)
        if neg_pick is None:
            a2, n = nonzero_2d(neg, xp=xp)
        else:
            (a2,) = nonzero(neg_pick.has_any, xp=xp)
            n = xp.take(neg_pick.cols, a2, axis=0)
        if self.collect_stats:
            self._set_stats(flat_gather(mat, a1, p, xp=xp), flat_gather(mat, a2, n, xp=xp), mat, xp)
        return a1, p, a2, n

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        return self._mine_pairs(embeddings, labels, ref_emb, ref_labels)

    def _set_stats(self, pos_vals: Array, neg_vals: Array, mat: Array, xp: Any) -> None:
        """PML's stats, as 0-D arrays (no host sync); 0 where there is nothing to measure."""
        inv = self.distance.is_inverted
        zero = xp.zeros((), dtype=mat.dtype, device=namespace_and_device(mat)[1])

        def lo(x: Array) -> Array:
            return xp.min(x) if x.shape[0] > 0 else zero

        def hi(x: Array) -> Array:
            return xp.max(x) if x.shape[0] > 0 else zero

        # "easy" = small distance / large similarity, as PML's get_func_for_stats.
        easy, hard = (hi, lo) if inv else (lo, hi)
        stats = {
            "easiest_pos_pair": easy(pos_vals),
            "hardest_pos_pair": hard(pos_vals),
            "easiest_neg_pair": hard(neg_vals),
            "hardest_neg_pair": easy(neg_vals),
            "easiest_triplet": zero,
            "hardest_triplet": zero,
        }
        if ALL not in (self.pos_strategy, self.neg_strategy) and pos_vals.shape[0] > 0:
            diff = pos_vals - neg_vals
            stats["easiest_triplet"] = easy(diff)
            stats["hardest_triplet"] = hard(diff)
        self.record(**stats)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pos_strategy={self.pos_strategy!r}, neg_strategy={self.neg_strategy!r}, "
            f"allowed_pos_range={self.allowed_pos_range}, allowed_neg_range={self.allowed_neg_range})"
        )
