"""HDCMiner: the hardest fraction of the positive and negative pairs (Hard-Aware Deeply Cascaded)."""

from __future__ import annotations

import math
from typing import Any

from .._array_api import compress, empty_indices, index_dtype, kth_smallest, namespace_and_device, nonzero, nonzero_2d, to_numpy
from .._typing import Array
from .._validate import is_real
from ..distances import BaseDistance
from ..tuples import convert_to_pairs
from ._pair_mining import distance_matrix, extreme, flat_gather, matrix_and_masks
from .base import BaseMiner


class HDCMiner(BaseMiner):
    """Keep the hardest ``filter_percentage`` of the positive and of the negative pairs (PML's).

    From the candidate pairs (all pairs of the batch, or the pairs given with
    :meth:`set_idx_externally`), it keeps the ``k_pos = ceil(filter_percentage * P)``
    hardest positive pairs and the ``k_neg = ceil(filter_percentage * N)`` hardest
    negative pairs, chosen over the whole batch (not per anchor). Hardest positive =
    largest distance (smallest similarity); hardest negative = smallest distance (largest
    similarity).

    Selection is linear time: the k-th value is found with a partition
    (:func:`agnostic_ml._array_api.kth_smallest`), then one comparison pass keeps every
    strictly harder pair. PML calls ``torch.topk`` with k ~ N^2 / 2, effectively a sort.

    Ties and order (deviations from PML): when several pairs share the k-th value, PML's
    ``topk`` keeps an arbitrary subset of them; here the tied pairs that come first in
    candidate order are kept (row-major for all pairs, i.e. lowest anchor then lowest
    reference index; input order for external pairs). Exactly ``k`` pairs are returned
    either way. Outputs are in candidate order (row-major), PML's in order of hardness.
    Distance matrices are usually symmetric, so ties at the boundary are common: the set
    returned can differ from PML's only in which of the tied pairs are kept.

    External pairs stay set until :meth:`reset_idx`; each call filters the pairs that were
    set, whereas PML overwrites its stored pairs with the filtered ones, so that a second
    call without a new :meth:`set_idx_externally` filters an already filtered set.

    Parameters
    ----------
    filter_percentage : float, default 0.5
        Fraction of pairs kept, in ``(0, 1]``.
    collect_stats : bool, default False
        Nothing beyond the pair counts is recorded (as in PML).
    distance : BaseDistance, optional
        Default ``LpDistance()``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import HDCMiner
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> a1, p, a2, n = HDCMiner(filter_percentage=0.25)(emb, [0, 0, 1, 1])
    >>> a1.tolist(), p.tolist(), a2.tolist(), n.tolist()  # the 4 positive pairs tie: the first is kept
    ([0], [1], [1, 2], [2, 1])
    """

    def __init__(
        self,
        filter_percentage: float = 0.5,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        if not is_real(filter_percentage):
            raise TypeError(f"filter_percentage must be a real number in (0, 1], got {filter_percentage!r}")
        if not 0 < float(filter_percentage) <= 1:
            raise ValueError(f"filter_percentage must be in (0, 1], got {filter_percentage!r}")
        self.filter_percentage = float(filter_percentage)
        self.reset_idx()

    # -- external candidate pairs (PML's CascadedEmbeddings) ---------------------------------
    def set_idx_externally(self, external_indices_tuple: Any, labels: Any) -> None:
        """Mine from these pairs (or triplets ``(a, p, n)``, used as ``(a, p, a, n)``) instead of all pairs.

        ``None`` means all pairs of the labels given at the next call. ``labels`` is
        accepted for PML compatibility. The tuple is validated and converted to the
        embeddings' namespace at the next call; it stays set until :meth:`reset_idx`.
        """
        if external_indices_tuple is not None:
            if not isinstance(external_indices_tuple, (tuple, list)) or len(external_indices_tuple) not in (3, 4):
                got = type(external_indices_tuple).__name__
                if isinstance(external_indices_tuple, (tuple, list)):
                    got += f" of length {len(external_indices_tuple)}"
                raise ValueError(
                    "external_indices_tuple must be None, a 3-tuple (a, p, n) or a 4-tuple (a1, p, a2, n), "
                    f"got a {got}"
                )
            external_indices_tuple = tuple(external_indices_tuple)
        self._external = external_indices_tuple
        self.was_set_externally = True

    def reset_idx(self) -> None:
        """Forget pairs set with :meth:`set_idx_externally`: mine from all pairs again."""
        self._external = None
        self.was_set_externally = False

    # -- mining -------------------------------------------------------------------------------
    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        xp, device = namespace_and_device(embeddings)
        n, m = embeddings.shape[0], ref_emb.shape[0]
        pos_largest = not self.distance.is_inverted
        if self._external is None:
            if n == 0 or m == 0:
                return empty_indices(4, xp=xp, device=device)
            mat, pos, neg = matrix_and_masks(self.distance, embeddings, labels, ref_emb, ref_labels, xp=xp, device=device)
            keep_pos = self._keep_hardest(mat, pos, largest=pos_largest, xp=xp)
            keep_neg = self._keep_hardest(mat, neg, largest=not pos_largest, xp=xp)
            a1, p = nonzero_2d(keep_pos, xp=xp)
            a2, n_ = nonzero_2d(keep_neg, xp=xp)
            return a1, p, a2, n_
        try:
            a1, p, a2, n_ = convert_to_pairs(self._external, labels, ref_labels, like=embeddings)
        except ValueError as exc:
            raise ValueError(f"external indices (set with set_idx_externally): {exc}") from None
        _check_in_range((a1, a2), n, "anchor", xp)
        _check_in_range((p, n_), m, "reference", xp)
        if a1.shape[0] == 0 and a2.shape[0] == 0:
            return a1, p, a2, n_
        mat = distance_matrix(self.distance, embeddings, ref_emb)
        out = []
        for anchors, others, largest in ((a1, p, pos_largest), (a2, n_, not pos_largest)):
            if anchors.shape[0] == 0:
                out += [anchors, others]
                continue
            vals = flat_gather(mat, anchors, others, xp=xp)[None, :]
            valid = xp.ones(vals.shape, dtype=xp.bool, device=device)
            (sel,) = nonzero(self._keep_hardest(vals, valid, largest=largest, xp=xp)[0, :], xp=xp)
            out += [xp.take(anchors, sel, axis=0), xp.take(others, sel, axis=0)]
        return tuple(out)

    def _keep_hardest(self, values: Array, valid: Array, *, largest: bool, xp: Any) -> Array:
        """Mask of exactly ``ceil(fraction * count)`` valid entries of a 2-D array with the largest
        (smallest) values.

        The k-th value is found by a partition (linear time), then one comparison pass
        over the matrix keeps every strictly better entry. The partition runs on the
        matrix with invalid entries set to the worst value when most entries are valid,
        else on the compacted valid values (a selection degrades on a mostly constant
        array). Ties at the k-th value are broken by position: the first tied entries in
        row-major order are kept.
        """
        _, device = namespace_and_device(values)
        idt = index_dtype(xp, device)
        count = int(to_numpy(xp.count_nonzero(valid)))
        if count == 0:
            return valid
        k = int(math.ceil(self.filter_percentage * count))
        if k >= count:
            return valid
        flat_vals, flat_valid = xp.reshape(values, (-1,)), xp.reshape(valid, (-1,))
        total = flat_vals.shape[0]
        if 2 * count >= total:
            cand = xp.where(flat_valid, flat_vals, extreme(values, xp=xp, largest=not largest))
            kth = kth_smallest(cand, total - k + 1 if largest else k, xp=xp)
        else:
            cand = compress(flat_vals, flat_valid, xp=xp)
            kth = kth_smallest(cand, count - k + 1 if largest else k, xp=xp)
        better = xp.logical_and(valid, values > kth if largest else values < kth)
        tied = xp.logical_and(valid, values == kth)
        n_better, n_tied = (int(v) for v in to_numpy(xp.stack([xp.count_nonzero(better), xp.count_nonzero(tied)])))
        need = k - n_better
        if need >= n_tied:
            return xp.logical_or(better, tied)
        # Keep the first `need` tied entries: those at or before the need-th one (r*, c*).
        tr, tc = nonzero_2d(tied, xp=xp)
        r_star, c_star = tr[need - 1], tc[need - 1]
        rows = xp.arange(values.shape[0], dtype=idt, device=device)[:, None]
        cols = xp.arange(values.shape[1], dtype=idt, device=device)[None, :]
        upto = xp.logical_or(rows < r_star, xp.logical_and(rows == r_star, cols <= c_star))
        return xp.logical_or(better, xp.logical_and(tied, upto))

    def __repr__(self) -> str:
        return f"HDCMiner(filter_percentage={self.filter_percentage})"


def _check_in_range(arrays: tuple[Array, ...], size: int, what: str, xp: Any) -> None:
    """External indices must index the batch (anchors) / the reference set (others)."""
    parts = [a for a in arrays if a.shape[0] > 0]
    if not parts:
        return
    allv = parts[0] if len(parts) == 1 else xp.concat(parts)
    lo, hi = (int(v) for v in to_numpy(xp.stack([xp.min(allv), xp.max(allv)])))
    if lo < 0 or hi >= size:
        raise ValueError(
            f"external {what} indices must be in [0, {size}), got values in [{lo}, {hi}] "
            "(set with set_idx_externally)"
        )
