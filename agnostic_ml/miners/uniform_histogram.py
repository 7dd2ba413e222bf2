"""UniformHistogramMiner: pairs sampled uniformly across a histogram of their distances."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._array_api import empty_indices, from_host_indices, namespace_and_device, to_numpy
from .._random import as_generator
from .._typing import Array
from ..distances import BaseDistance
from .._validate import check_int
from ._pair_mining import extreme, matrix_and_masks
from .base import BaseMiner


class UniformHistogramMiner(BaseMiner):
    """Sample pairs so that their distances are spread evenly (PML's ``UniformHistogramMiner``).

    Separately for positive and negative pairs: split ``[min, max]`` of the pair values
    into ``num_bins`` equal bins and draw ``pos_per_bin`` (``neg_per_bin``) pairs from every
    non-empty bin, uniformly *with replacement* (so a pair can appear several times, and
    a bin with fewer pairs than requested repeats some).

    Bin of a value ``v``: ``min(floor((v - lo) * num_bins / (hi - lo)), num_bins - 1)``
    (all values in bin 0 when ``hi == lo``). PML compares against ``linspace`` edges
    instead; the two can differ only for a value within a rounding error of an edge. PML
    loops over the bins in Python (about ``num_bins`` passes over all pairs); here there is
    one bucketing pass, one stable sort of the small-integer bin keys (a radix sort on
    NumPy and torch CPU) to group the pairs by bin, and all draws are made at once on the
    host from ``rng`` and turned into indices with one ``take``. Randomness comes only
    from ``rng``: the same seed gives the same pairs on every backend (given the same bin
    counts).

    Output: pairs ``(a1, p, a2, n)`` grouped by bin in increasing value order, draws in
    order within a bin, like PML's (whose draws come from torch's global generator).

    Parameters
    ----------
    num_bins : int, default 100
        >= 1.
    pos_per_bin, neg_per_bin : int, default 10
        Draws per non-empty bin, >= 0 (0 gives no pairs of that kind).
    rng : numpy.random.Generator, int or None
        Source of randomness, normalised once with :func:`agnostic_ml._random.as_generator`; every call
        advances it.
    collect_stats : bool, default False
        Nothing beyond the pair counts is recorded (as in PML).
    distance : BaseDistance, optional
        Default ``LpDistance()``.

    Examples
    --------
    Points on a line, L1 distance: positive distances 1, 1, 2, 2, 2, 2, 3, 3 fall in the
    bins [1, 2) and [2, 3]; negative ones 0.5 (x6), 1.5 (x2), 2.5 (x4) in [0.5, 1.5), [1.5, 2.5].

    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> from agnostic_ml.miners import UniformHistogramMiner
    >>> emb = np.array([[0.0], [1.0], [3.0], [0.5], [2.5]])
    >>> miner = UniformHistogramMiner(num_bins=2, pos_per_bin=3, neg_per_bin=2, rng=0,
    ...                               distance=LpDistance(p=1, normalize_embeddings=False))
    >>> a1, p, a2, n = miner(emb, [0, 0, 0, 1, 1])
    >>> np.abs(emb[a1, 0] - emb[p, 0]).tolist(), np.abs(emb[a2, 0] - emb[n, 0]).tolist()
    ([1.0, 1.0, 1.0, 2.0, 2.0, 3.0], [0.5, 0.5, 1.5, 2.5])
    """

    def __init__(
        self,
        num_bins: int = 100,
        pos_per_bin: int = 10,
        neg_per_bin: int = 10,
        rng: np.random.Generator | int | None = None,
        *,
        collect_stats: bool = False,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=distance)
        self.num_bins = check_int(num_bins, "num_bins", minimum=1)
        self.pos_per_bin = check_int(pos_per_bin, "pos_per_bin", minimum=0)
        self.neg_per_bin = check_int(neg_per_bin, "neg_per_bin", minimum=0)
        self.rng = as_generator(rng)

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        xp, device = namespace_and_device(embeddings)
        n, m = embeddings.shape[0], ref_emb.shape[0]
        if n == 0 or m == 0:
            return empty_indices(4, xp=xp, device=device)
        nb = self.num_bins
        mat, pos, neg = matrix_and_masks(self.distance, embeddings, labels, ref_emb, ref_labels, xp=xp, device=device)
        # One small-integer key per matrix entry: positive bins [0, nb), negative bins
        # [nb, 2 nb), anything else (the self diagonal) 2 nb.
        n_keys = 2 * nb + 1
        kdt = xp.uint8 if n_keys <= 256 else xp.int16 if n_keys <= 32767 else xp.int32
        other = xp.asarray(2 * nb, dtype=kdt, device=device)
        key = xp.where(pos, self._bins(mat, pos, kdt, xp), xp.where(neg, self._bins(mat, neg, kdt, xp) + nb, other))
        flat = xp.reshape(key, (-1,))
        # Group the entries by key: a stable sort of small integers (radix sort on NumPy
        # and torch), then the start of each key's run with one searchsorted.
        order = xp.argsort(flat, stable=True)
        starts_dev = xp.searchsorted(
            xp.take(flat, order, axis=0), xp.arange(n_keys, dtype=kdt, device=device), side="left"
        )
        starts = to_numpy(starts_dev).astype(np.int64)
        counts = np.diff(np.append(starts, flat.shape[0]))
        pos_t = self._draw(starts[:nb], counts[:nb], self.pos_per_bin)
        neg_t = self._draw(starts[nb : 2 * nb], counts[nb : 2 * nb], self.neg_per_bin)
        t = np.concatenate([pos_t, neg_t])
        if t.size == 0:
            return empty_indices(4, xp=xp, device=device)
        idx = xp.take(order, from_host_indices(t, xp=xp, device=device), axis=0)
        rows, cols = idx // m, idx % m
        k = pos_t.size
        return rows[:k], cols[:k], rows[k:], cols[k:]

    def _bins(self, mat: Array, mask: Array, kdt: Any, xp: Any) -> Array:
        """Bin numbers in ``[0, num_bins - 1]`` (dtype ``kdt``) of every entry, from the range over ``mask``.

        ``floor`` is the truncation of the integer cast once the value is clamped to
        ``[0, num_bins - 1]``.
        """
        nb = self.num_bins
        _, device = namespace_and_device(mat)
        lo = xp.min(xp.where(mask, mat, extreme(mat, xp=xp, largest=True)))
        hi = xp.max(xp.where(mask, mat, extreme(mat, xp=xp, largest=False)))
        zero = xp.zeros((), dtype=mat.dtype, device=device)
        one = xp.ones((), dtype=mat.dtype, device=device)
        nonempty = hi >= lo
        lo = xp.where(nonempty, lo, zero)
        width = xp.where(nonempty, hi, zero) - lo
        scale = xp.where(width > zero, nb / xp.where(width > zero, width, one), zero)
        top = xp.asarray(nb - 1, dtype=mat.dtype, device=device)
        # maximum/minimum rather than clip: NumPy's clip is several times slower
        return xp.astype(xp.minimum(xp.maximum((mat - lo) * scale, zero), top), kdt)

    def _draw(self, starts: np.ndarray, counts: np.ndarray, per_bin: int) -> np.ndarray:
        """Host draws: ``per_bin`` uniform positions (with replacement) in every non-empty bin."""
        nonempty = np.flatnonzero(counts)
        if per_bin == 0 or nonempty.size == 0:
            return np.zeros(0, dtype=np.int64)
        r = self.rng.integers(0, counts[nonempty][:, None], size=(nonempty.size, per_bin))
        return (starts[nonempty][:, None] + r).reshape(-1)

    def __repr__(self) -> str:
        return (
            f"UniformHistogramMiner(num_bins={self.num_bins}, pos_per_bin={self.pos_per_bin}, "
            f"neg_per_bin={self.neg_per_bin})"
        )
