"""PML's ``pytorch_metric_learning.samplers`` import path, seedable and resumable.

``from pytorch_metric_learning import samplers`` becomes ``from agnostic_ml_torch import samplers``:

- :class:`MPerClassSampler` (PML's draws; exact ``len()``; ``cover_all=True`` epochs that
  visit every item; rank shares), its batch form :class:`MPerClassBatchSampler` and
  :class:`DistributedMPerClassSampler` for ``torch.distributed``;
- :class:`HierarchicalSampler`, :class:`TuplesToWeightsSampler`, :class:`FixedSetOfTriplets`.

Every sampler takes ``seed=`` or ``generator=`` (keyword only; by default one number is
drawn from torch's global generator at construction), has ``set_epoch(epoch)``, and has
``state_dict()`` / ``load_state_dict()`` so that a run resumed from a checkpoint yields the
same remaining indices (the rules are in :mod:`agnostic_ml_torch.samplers._resumable`).
Bad arguments raise ``ValueError`` / ``TypeError`` naming them.
"""

from .distributed_m_per_class_sampler import DistributedMPerClassSampler
from .fixed_set_of_triplets import FixedSetOfTriplets
from .hierarchical_sampler import HierarchicalSampler
from .m_per_class_batch_sampler import MPerClassBatchSampler
from .m_per_class_sampler import MPerClassSampler
from .tuples_to_weights_sampler import TuplesToWeightsSampler

__all__ = [
    "DistributedMPerClassSampler",
    "FixedSetOfTriplets",
    "HierarchicalSampler",
    "MPerClassBatchSampler",
    "MPerClassSampler",
    "TuplesToWeightsSampler",
]
