"""``MPerClassSampler``: batches of ``m`` items per class (PML's semantics, seedable, resumable)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import check_int, group_labels, host_labels
from ._m_per_class_plan import cover_all_num_batches, plan_batches, plan_cover_all, plan_passes
from ._resumable import ResumableSampler

__all__ = ["MPerClassSampler"]


class MPerClassSampler(ResumableSampler):
    """Indices such that every batch holds ``m`` items of each of its classes.

    PML 2.9's ``MPerClassSampler(labels, m, batch_size=None, length_before_new_iter=100000)``
    with the same draws, plus a seed, exact lengths, a covering mode, rank shares and
    resumable state. Pass it as a DataLoader's ``sampler`` with the DataLoader's
    ``batch_size`` equal to ``batch_size`` (``batch_size // num_replicas`` per rank).

    **With** ``batch_size`` (``k = batch_size // m`` classes per batch): the epoch is
    ``length_before_new_iter // batch_size`` batches; each draws ``k`` distinct classes
    uniformly at random, then ``m`` items of each class, without replacement when the class
    has at least ``m`` items and with replacement otherwise. Indices come class by class
    (``m`` consecutive indices share a label), as in PML.

    **Without** ``batch_size``: the epoch is ``max(1, length_before_new_iter // (m C))``
    passes (``C`` classes); each pass visits every class once in a random order, ``m``
    items each. A DataLoader batch then holds ``m`` per class only when its size is a
    multiple of ``m`` and cuts passes anywhere, as in PML.

    **cover_all=True** (needs ``batch_size``; ``length_before_new_iter`` is then unused):
    each epoch is one pass over the data, a permutation of every class cut into chunks of
    ``m``. Guarantees, for every epoch:

    - every index is yielded at least once;
    - every batch holds exactly ``m`` items of each of ``k`` distinct classes;
    - no index repeats within a class's ``m`` items when the class has at least ``m``
      items (a smaller class contributes all its items plus draws with replacement);
    - the epoch has ``max(ceil(K / k), max_c q_c)`` batches, where ``q_c = ceil(n_c / m)``
      and ``K = sum_c q_c``: the fewest batches that can hold every chunk. The slots left
      over are filled with extra chunks of classes drawn uniformly among the free
      (class, batch) slots, so an item appears more than once only through its class's
      overlapping last chunk or an extra chunk.

    **Rank shares** (``num_replicas``, ``rank``): every rank plans the same global batches
    of ``batch_size`` items (same seed, same epoch) and yields its own
    ``batch_size // num_replicas`` of each: whole classes ``[rank k / W, (rank + 1) k / W)``
    of the batch's ``k``, so each rank's share also holds ``m`` per class, shares are
    disjoint and their union (in rank order) is exactly the batch that ``num_replicas=1``
    yields. :class:`DistributedMPerClassSampler` reads ``num_replicas`` and ``rank`` from
    ``torch.distributed``.

    **Randomness**: the epoch's draws are a function of ``(base seed, epoch)``; the base
    seed is ``seed``, or drawn once from ``generator`` (a ``torch.Generator`` or NumPy
    ``Generator``), or from torch's global generator (so ``torch.manual_seed`` before
    construction makes runs repeat). Epochs advance after each full pass, so every epoch
    draws afresh, as in PML; ``set_epoch`` jumps to an epoch.

    **State**: ``state_dict()`` / ``load_state_dict()`` hold the base seed, epoch and
    position (see :mod:`agnostic_ml_torch.samplers._resumable`): a run resumed from a
    checkpoint yields the same remaining indices as an uninterrupted one.

    Differences from PML (fixes):

    - ``len()`` is what iteration yields. Without ``batch_size`` and with
      ``length_before_new_iter < m C``, PML's ``len()`` is ``length_before_new_iter`` but it
      yields ``m C`` indices; here both are ``m C``.
    - Bad arguments raise ``ValueError`` naming them (PML: bare ``assert``); so do empty
      labels and ``m < 1``.

    Parameters
    ----------
    labels : sequence, NumPy array or tensor, shape (N,)
        The label of every dataset item (any device; copied to the host once).
    m : int
        Items per class in a batch (``>= 1``).
    batch_size : int, optional
        The (global) batch size; a multiple of ``m`` with ``m C >= batch_size``.
    length_before_new_iter : int
        The epoch length in indices, rounded down to whole batches (or passes).
    seed : int, optional
        Base seed (``>= 0``).
    generator : torch.Generator or numpy.random.Generator, optional
        Source of the base seed (one number is drawn from it at construction).
    cover_all : bool
        One covering pass per epoch (see above).
    num_replicas, rank : int
        Number of ranks sharing each batch, and this rank (default: no sharing).
        ``num_replicas > 1`` needs ``batch_size``, ``(batch_size // m) % num_replicas == 0``
        and a ``seed`` or ``generator`` that every rank passes alike.

    Examples
    --------
    >>> labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    >>> s = MPerClassSampler(labels, m=2, batch_size=4, length_before_new_iter=12, seed=0)
    >>> idx = list(s)
    >>> len(s) == len(idx) == 12
    True
    >>> batches = [[labels[i] for i in idx[b:b + 4]] for b in range(0, 12, 4)]
    >>> all(sorted(b)[0] == sorted(b)[1] and sorted(b)[2] == sorted(b)[3] != sorted(b)[0] for b in batches)
    True
    >>> s2 = MPerClassSampler(labels, m=2, batch_size=4, length_before_new_iter=12, seed=0)
    >>> list(s2) == idx  # same seed, same epoch
    True
    """

    _kind = "MPerClassSampler"

    def __init__(
        self,
        labels: Any,
        m: int,
        batch_size: int | None = None,
        length_before_new_iter: int = 100000,
        *,
        seed: int | None = None,
        generator: Any = None,
        cover_all: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        lab = host_labels(labels)
        self.m_per_class = check_int(m, "m", minimum=1)
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
        self.length_before_new_iter = check_int(length_before_new_iter, "length_before_new_iter", minimum=1)
        self.cover_all = bool(cover_all)
        self.num_replicas = check_int(num_replicas, "num_replicas", minimum=1)
        self.rank = check_int(rank, "rank", minimum=0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas = {self.num_replicas}), got {self.rank}")
        self._groups = group_labels(lab)
        self.labels = self._groups.classes.tolist()
        self.length_of_single_pass = self.m_per_class * self._groups.num_classes
        self._validate(seed, generator)
        self._num_batches, self._num_passes = self._epoch_shape()
        self.list_size = (
            self._num_batches * self.batch_size if self.batch_size is not None else self._num_passes * self.length_of_single_pass
        )
        super().__init__(seed, generator)

    # -- configuration ------------------------------------------------------------------
    def _validate(self, seed: Any, generator: Any) -> None:
        m, bs, c = self.m_per_class, self.batch_size, self._groups.num_classes
        if bs is None:
            if self.cover_all:
                raise ValueError("cover_all=True needs batch_size: the guarantee is m items per class in every batch")
            if self.num_replicas > 1:
                raise ValueError("num_replicas > 1 needs batch_size: ranks share whole batches")
            return
        if bs % m:
            raise ValueError(
                f"batch_size ({bs}) must be a multiple of m ({m}): every batch holds m items of each of batch_size // m classes"
            )
        if m * c < bs:
            raise ValueError(
                f"m * (number of classes) = {m} * {c} = {m * c} is smaller than batch_size ({bs}): "
                f"a batch needs batch_size // m = {bs // m} distinct classes"
            )
        if self.length_before_new_iter < bs:
            raise ValueError(f"length_before_new_iter ({self.length_before_new_iter}) must be >= batch_size ({bs})")
        k = bs // m
        if k % self.num_replicas:
            raise ValueError(
                f"batch_size // m = {k} classes per batch must be divisible by num_replicas ({self.num_replicas}), "
                "so that every rank gets whole classes of m items"
            )
        if self.num_replicas > 1 and seed is None and generator is None:
            raise ValueError(
                "num_replicas > 1 needs seed= (or generator=), the same on every rank, so that all ranks "
                "draw the same global batches"
            )

    def _epoch_shape(self) -> tuple[int, int]:
        """(batches, passes) of an epoch; exactly one of them is nonzero."""
        bs, single, length = self.batch_size, self.length_of_single_pass, self.length_before_new_iter
        if bs is None:
            return 0, max(1, length // single)
        if self.cover_all:
            return cover_all_num_batches(self._groups, self.m_per_class, bs), 0
        return length // bs, 0

    @property
    def local_batch_size(self) -> int | None:
        """This rank's share of a batch: ``batch_size // num_replicas`` (the DataLoader's batch_size)."""
        return None if self.batch_size is None else self.batch_size // self.num_replicas

    @property
    def num_batches(self) -> int:
        """Batches per epoch (0 without ``batch_size``)."""
        return self._num_batches

    @property
    def labels_to_indices(self) -> dict[Any, np.ndarray]:
        """PML's attribute: each label's item indices."""
        g = self._groups
        return {lab: g.items_of(c) for c, lab in enumerate(self.labels)}

    def calculate_num_iters(self) -> int:
        """PML's method: batches (with ``batch_size``) or passes (without) per epoch."""
        return self._num_batches if self.batch_size is not None else self._num_passes

    # -- the plan -----------------------------------------------------------------------
    def _global_plan(self, rng: np.random.Generator) -> np.ndarray:
        """The epoch's global indices: ``(batches, batch_size)``, or flat without batch_size."""
        g, m, bs = self._groups, self.m_per_class, self.batch_size
        if bs is None:
            return plan_passes(rng, g, m, self._num_passes)
        if self.cover_all:
            return plan_cover_all(rng, g, m, bs)
        return plan_batches(rng, g, m, bs, self._num_batches)

    def _local_plan(self, rng: np.random.Generator) -> np.ndarray:
        plan = self._global_plan(rng)
        if self.num_replicas == 1:
            return plan
        lb = self.local_batch_size
        return plan[:, self.rank * lb : (self.rank + 1) * lb]

    def _build_plan(self, rng: np.random.Generator) -> list[int]:
        return self._local_plan(rng).reshape(-1).tolist()

    def _num_units(self) -> int:
        return self.list_size // self.num_replicas

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(m={self.m_per_class}, batch_size={self.batch_size}, "
            f"length_before_new_iter={self.length_before_new_iter}, cover_all={self.cover_all}, "
            f"num_replicas={self.num_replicas}, rank={self.rank}, classes={self._groups.num_classes}, len={len(self)})"
        )
