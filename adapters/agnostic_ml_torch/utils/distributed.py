"""PML's ``utils.distributed`` path: the wrappers of :mod:`agnostic_ml_torch.distributed`."""

from .. import distributed as _distributed
from ..distributed import *  # noqa: F401,F403

__all__ = list(_distributed.__all__)
