"""PML's ``pytorch_metric_learning.distances`` import path, served by the core.

The core distances accept torch tensors directly (CPU or CUDA) and return torch tensors on the
same device; this module re-exports them so that
``from pytorch_metric_learning import distances`` becomes
``from agnostic_ml_torch import distances``.
"""

from agnostic_ml.distances import *  # noqa: F401,F403
from agnostic_ml.distances import __all__  # noqa: F401
