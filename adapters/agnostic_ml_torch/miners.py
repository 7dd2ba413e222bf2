"""PML's ``pytorch_metric_learning.miners`` import path, served by the core.

The core miners accept torch tensors directly (CPU or CUDA) and return torch tensors on the
same device; this module re-exports them so that
``from pytorch_metric_learning import miners`` becomes
``from agnostic_ml_torch import miners``.
"""

from agnostic_ml.miners import *  # noqa: F401,F403
from agnostic_ml.miners import __all__  # noqa: F401
