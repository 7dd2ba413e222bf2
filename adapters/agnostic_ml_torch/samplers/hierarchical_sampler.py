"""``HierarchicalSampler``: batches drawn from a few super-classes at a time (PML's semantics)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ._common import check_int, host_labels
from ._resumable import ResumableSampler

__all__ = ["HierarchicalSampler"]


class HierarchicalSampler(ResumableSampler):
    """A BatchSampler: each batch mixes ``super_classes_per_batch`` super-classes.

    PML 2.9's ``HierarchicalSampler`` (after Kun He's Deep-Metric-Learning-Baselines), with
    a seed and resumable state. ``labels`` is ``(N, levels)``: column ``inner_label`` holds
    the class, column ``outer_label`` the super-class. For every combination of
    ``X = super_classes_per_batch`` super-classes (``itertools.combinations`` of the sorted
    super labels) the epoch makes ``batches_per_super_tuple`` batches. Each super-class of
    the combination fills ``batch_size / X`` slots: its classes are shuffled and taken in
    turn, ``samples_per_class`` items each (without replacement when the class has that
    many, else with replacement; ``"all"`` takes the whole class), skipping a class whose
    items would not fit in the slots left. Each batch is shuffled, then the batches.

    ``len()`` = ``C(S, X) * batches_per_super_tuple`` batches (``S`` super-classes). A batch
    is shorter than ``batch_size`` when a super-class has too few items or classes to fill
    its slots, as in PML. A class is a (super label, label) pair, as in PML.

    Parameters
    ----------
    labels : array or tensor, shape (N, levels)
    batch_size : int
        A multiple of ``super_classes_per_batch``; ``batch_size / X`` a multiple of
        ``samples_per_class``.
    samples_per_class : int or "all"
    batches_per_super_tuple, super_classes_per_batch : int
    inner_label, outer_label : int
        The columns of the class and of the super-class.
    seed, generator
        As in :class:`MPerClassSampler` (keyword only; PML has none).

    Notes
    -----
    Raises ``ValueError`` (PML: bare ``assert``) for the divisibility conditions, a
    ``samples_per_class`` that is not positive or ``"all"``, columns out of range, and fewer
    than ``super_classes_per_batch`` super-classes (PML then yields no batch at all).

    Examples
    --------
    >>> labels = [[c, c // 2] for c in range(8) for _ in range(3)]  # 8 classes in 4 super-classes
    >>> s = HierarchicalSampler(labels, batch_size=8, samples_per_class=2, seed=0)
    >>> len(s)  # C(4, 2) pairs of super-classes, 4 batches each
    24
    >>> batch = next(iter(s))
    >>> len(batch), len({labels[i][1] for i in batch})
    (8, 2)
    """

    yields_batches = True  # iteration yields whole batches: ``DataLoader(batch_sampler=...)``

    _kind = "HierarchicalSampler"

    def __init__(
        self,
        labels: Any,
        batch_size: int,
        samples_per_class: int | str,
        batches_per_super_tuple: int = 4,
        super_classes_per_batch: int = 2,
        inner_label: int = 0,
        outer_label: int = 1,
        *,
        seed: int | None = None,
        generator: Any = None,
    ) -> None:
        lab = host_labels(labels, ndim=2)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.batches_per_super_tuple = check_int(batches_per_super_tuple, "batches_per_super_tuple", minimum=1)
        self.super_classes_per_batch = check_int(super_classes_per_batch, "super_classes_per_batch", minimum=1)
        levels = lab.shape[1]
        for name, col in (("inner_label", inner_label), ("outer_label", outer_label)):
            col = check_int(col, name)
            if not -levels <= col < levels:
                raise ValueError(f"{name} = {col} is not a column of labels, which has {levels}")
        if self.batch_size % self.super_classes_per_batch:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of super_classes_per_batch "
                f"({self.super_classes_per_batch})"
            )
        self.sub_batch_len = self.batch_size // self.super_classes_per_batch
        if samples_per_class == "all":
            self.samples_per_class: int | str = "all"
        else:
            if isinstance(samples_per_class, str):
                raise ValueError(f"samples_per_class must be a positive int or 'all', got {samples_per_class!r}")
            self.samples_per_class = check_int(samples_per_class, "samples_per_class", minimum=1)
            if self.sub_batch_len % self.samples_per_class:
                raise ValueError(
                    f"batch_size / super_classes_per_batch = {self.sub_batch_len} must be a multiple of "
                    f"samples_per_class ({self.samples_per_class})"
                )
        supers, sup_inv = np.unique(lab[:, outer_label], return_inverse=True)
        inners, inn_inv = np.unique(lab[:, inner_label], return_inverse=True)
        sup_inv, inn_inv = sup_inv.reshape(-1), inn_inv.reshape(-1)
        if supers.shape[0] < self.super_classes_per_batch:
            raise ValueError(
                f"labels has {supers.shape[0]} super-classes (column {outer_label}), fewer than "
                f"super_classes_per_batch ({self.super_classes_per_batch}): no batch can be formed"
            )
        # classes of each super-class: (super, inner) pairs in sorted order, items in index order
        pair = sup_inv.astype(np.int64) * inners.shape[0] + inn_inv
        order = np.argsort(pair, kind="stable")
        keys, starts, counts = np.unique(pair[order], return_index=True, return_counts=True)
        self._classes_of_super: list[list[np.ndarray]] = [[] for _ in range(supers.shape[0])]
        for key, s, n in zip(keys.tolist(), starts.tolist(), counts.tolist()):
            self._classes_of_super[key // inners.shape[0]].append(order[s : s + n])
        self.super_labels = supers.tolist()
        self.super_pairs = list(itertools.combinations(range(supers.shape[0]), self.super_classes_per_batch))
        super().__init__(seed, generator)

    def _sub_batch(self, rng: np.random.Generator, classes: list[np.ndarray]) -> list[int]:
        out: list[int] = []
        for c in rng.permutation(len(classes)).tolist():
            if len(out) >= self.sub_batch_len:
                break
            items = classes[c]
            size = items.shape[0] if self.samples_per_class == "all" else self.samples_per_class
            if len(out) + size > self.sub_batch_len:
                continue
            out.extend(rng.choice(items, size=size, replace=items.shape[0] < size).tolist())
        return out

    def _build_plan(self, rng: np.random.Generator) -> list[list[int]]:
        batches = []
        for combo in self.super_pairs:
            for _ in range(self.batches_per_super_tuple):
                batch: list[int] = []
                for s in combo:
                    batch.extend(self._sub_batch(rng, self._classes_of_super[s]))
                batches.append([batch[i] for i in rng.permutation(len(batch)).tolist()])
        return [batches[i] for i in rng.permutation(len(batches)).tolist()]

    def _num_units(self) -> int:
        return len(self.super_pairs) * self.batches_per_super_tuple
