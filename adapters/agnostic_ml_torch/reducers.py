"""PML's ``pytorch_metric_learning.reducers`` import path, served by the core.

The core reducers accept torch tensors directly (CPU or CUDA) and return torch tensors on the
same device; this module re-exports them so that
``from pytorch_metric_learning import reducers`` becomes
``from agnostic_ml_torch import reducers``.
"""

from agnostic_ml.reducers import *  # noqa: F401,F403
from agnostic_ml.reducers import __all__  # noqa: F401
