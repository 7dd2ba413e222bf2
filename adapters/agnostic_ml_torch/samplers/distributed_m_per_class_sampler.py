"""``DistributedMPerClassSampler``: each DDP rank's share of every M-per-class batch (PML#546, #336)."""

from __future__ import annotations

from typing import Any

import torch

from .m_per_class_sampler import MPerClassSampler

__all__ = ["DistributedMPerClassSampler"]


def _from_process_group(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    if num_replicas is not None and rank is not None:
        return num_replicas, rank
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        raise ValueError(
            "num_replicas and rank default to torch.distributed's world size and rank, but no process "
            "group is initialised: call torch.distributed.init_process_group first or pass both"
        )
    if num_replicas is None:
        num_replicas = torch.distributed.get_world_size()
    if rank is None:
        rank = torch.distributed.get_rank()
    return num_replicas, rank


class DistributedMPerClassSampler(MPerClassSampler):
    """:class:`MPerClassSampler` for ``torch.distributed``: this rank's share of every batch.

    Every rank plans the same global batches of ``batch_size`` items (``m`` per class, from
    the same ``seed`` and epoch) and yields its ``batch_size // num_replicas`` of each batch:
    whole classes, so every rank's batch has ``m`` items per class, ranks never share an
    index of the same batch, and the union over ranks (in rank order) is the batch that a
    single-process ``MPerClassSampler`` with the same seed yields. Give each rank's
    DataLoader ``batch_size=sampler.local_batch_size``. ``cover_all=True`` works as in
    :class:`MPerClassSampler` (the covering holds for the union over ranks).

    As ``torch.utils.data.DistributedSampler``: ``num_replicas`` and ``rank`` default to the
    process group's, ``seed`` defaults to 0 (unless a ``generator`` is given), and
    ``set_epoch(epoch)`` selects the epoch's draws; calling it is optional here, since the
    epoch also advances after every full pass (in step on every rank).

    Examples
    --------
    >>> labels = [0, 0, 1, 1, 2, 2, 3, 3]
    >>> ranks = [DistributedMPerClassSampler(labels, 2, 8, 16, num_replicas=2, rank=r) for r in (0, 1)]
    >>> [len(r) for r in ranks]
    [8, 8]
    >>> a, b = (list(r) for r in ranks)
    >>> whole = list(MPerClassSampler(labels, 2, 8, 16, seed=0))
    >>> a[:4] + b[:4] + a[4:] + b[4:] == whole
    True
    """

    _kind = "DistributedMPerClassSampler"

    def __init__(
        self,
        labels: Any,
        m: int,
        batch_size: int,
        length_before_new_iter: int = 100000,
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
        generator: Any = None,
        cover_all: bool = False,
    ) -> None:
        if batch_size is None:
            raise ValueError("DistributedMPerClassSampler needs batch_size: ranks share whole batches")
        num_replicas, rank = _from_process_group(num_replicas, rank)
        if seed is None and generator is None:
            seed = 0
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
