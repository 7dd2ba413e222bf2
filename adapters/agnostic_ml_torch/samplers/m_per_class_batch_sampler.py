"""``MPerClassBatchSampler``: the batch-sampler form of MPerClassSampler (PML#612)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .m_per_class_sampler import MPerClassSampler

__all__ = ["MPerClassBatchSampler"]


class MPerClassBatchSampler(MPerClassSampler):
    """:class:`MPerClassSampler` that yields whole batches: ``DataLoader(ds, batch_sampler=...)``.

    Same arguments, draws and guarantees, but ``batch_size`` is required and each item is a
    list of ``batch_size // num_replicas`` indices (this rank's share of one batch), so the
    DataLoader needs no ``batch_size`` of its own and cannot be given a different one
    (the confusion of PML#258). ``len()`` is the number of batches; the state's position
    counts batches. With the same seed, its batches are the consecutive ``batch_size``
    chunks of what :class:`MPerClassSampler` yields.

    Examples
    --------
    >>> s = MPerClassBatchSampler([0, 0, 1, 1, 2, 2], m=2, batch_size=4, length_before_new_iter=8, seed=1)
    >>> batches = list(s)  # one epoch
    >>> len(s), [len(b) for b in batches]
    (2, [4, 4])
    >>> flat = MPerClassSampler([0, 0, 1, 1, 2, 2], m=2, batch_size=4, length_before_new_iter=8, seed=1)
    >>> sum(batches, []) == list(flat)
    True
    """

    yields_batches = True  # iteration yields whole batches: ``DataLoader(batch_sampler=...)``

    _kind = "MPerClassBatchSampler"

    def __init__(
        self,
        labels: Any,
        m: int,
        batch_size: int,
        length_before_new_iter: int = 100000,
        *,
        seed: int | None = None,
        generator: Any = None,
        cover_all: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size is None:
            raise ValueError("MPerClassBatchSampler needs batch_size (use MPerClassSampler without one)")
        super().__init__(
            labels,
            m,
            batch_size,
            length_before_new_iter,
            seed=seed,
            generator=generator,
            cover_all=cover_all,
            num_replicas=num_replicas,
            rank=rank,
        )

    def _build_plan(self, rng: np.random.Generator) -> list[list[int]]:
        return self._local_plan(rng).tolist()

    def _num_units(self) -> int:
        return self._num_batches
