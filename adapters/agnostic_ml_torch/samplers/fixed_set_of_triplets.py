"""``FixedSetOfTriplets``: a fixed set of (anchor, positive, negative) triplets, reshuffled per epoch."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import check_int, epoch_rng, group_labels, host_labels
from ._resumable import ResumableSampler

__all__ = ["FixedSetOfTriplets"]


class FixedSetOfTriplets(ResumableSampler):
    """Yields a fixed set of triplets, flattened ``a, p, n, a, p, n, ...``, in a new order each epoch.

    PML 2.9's ``FixedSetOfTriplets(labels, num_triplets)``, for experiments where the only
    ground truth is a set of triplets. The set is drawn once per base seed: for each
    triplet, an anchor class and a different negative class uniformly, then anchor and
    positive as two distinct items of the anchor class (the same item when the class has
    only one) and a negative item, uniformly. Every epoch shuffles the triplets (rows) and
    yields them flattened, so ``len()`` is ``3 * num_triplets``. The set is in
    ``fixed_set_of_triplets``, an ``(num_triplets, 3)`` int array, as in PML (PML reorders
    it in place every epoch; here it keeps the order it was drawn in).

    ``seed`` / ``generator`` (keyword only) fix both the set and the epochs' orders; the
    state holds the base seed, so loading a state rebuilds the same set. Raises
    ``ValueError`` for ``num_triplets < 1`` or fewer than two classes (PML: a bare assert,
    or NumPy's "Cannot take a larger sample than population").

    Examples
    --------
    >>> labels = [0, 0, 1, 1, 2]
    >>> s = FixedSetOfTriplets(labels, num_triplets=4, seed=0)
    >>> idx = list(s)
    >>> len(s) == len(idx) == 12
    True
    >>> all(labels[a] == labels[p] != labels[n] for a, p, n in zip(idx[0::3], idx[1::3], idx[2::3]))
    True
    """

    _kind = "FixedSetOfTriplets"

    def __init__(self, labels: Any, num_triplets: int, *, seed: int | None = None, generator: Any = None) -> None:
        lab = host_labels(labels)
        self.num_triplets = check_int(num_triplets, "num_triplets", minimum=1)
        self._groups = group_labels(lab)
        if self._groups.num_classes < 2:
            raise ValueError(f"labels has {self._groups.num_classes} class; a triplet needs two")
        super().__init__(seed, generator)
        self._after_base_seed()

    @property
    def labels_to_indices(self) -> dict[Any, np.ndarray]:
        """PML's attribute: each label's item indices."""
        g = self._groups
        return {lab: g.items_of(c) for c, lab in enumerate(g.classes.tolist())}

    def _after_base_seed(self) -> None:
        self.fixed_set_of_triplets = self.create_fixed_set_of_triplets()

    def create_fixed_set_of_triplets(self) -> np.ndarray:
        """The ``(num_triplets, 3)`` triplets of this sampler's base seed (vectorised draws)."""
        rng = epoch_rng(self._base_seed, 0, stream=1)
        g, t = self._groups, self.num_triplets
        anchor_cls = rng.integers(0, g.num_classes, size=t)
        neg_cls = rng.integers(0, g.num_classes - 1, size=t)
        neg_cls = neg_cls + (neg_cls >= anchor_cls)  # uniform over the other classes
        n = g.sizes[anchor_cls]
        a = rng.integers(0, n)
        p = rng.integers(0, np.maximum(n - 1, 1))
        p = np.where(n > 1, p + (p >= a), a)  # distinct from a when the class allows it
        neg = rng.integers(0, g.sizes[neg_cls])
        start_a, start_n = g.starts[anchor_cls], g.starts[neg_cls]
        return np.stack([g.members[start_a + a], g.members[start_a + p], g.members[start_n + neg]], axis=1)

    def _build_plan(self, rng: np.random.Generator) -> list[int]:
        return self.fixed_set_of_triplets[rng.permutation(self.num_triplets)].reshape(-1).tolist()

    def _num_units(self) -> int:
        return 3 * self.num_triplets
