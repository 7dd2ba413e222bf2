"""agnostic-ml: deep metric learning written once against the Python array API standard.

The same distances, tuple utilities, reducers, regularizers, miners and retrieval metrics run on NumPy,
CuPy, torch (CPU or CUDA) and array-api-strict. This package never imports torch or cupy;
the torch adapter lives in ``agnostic_ml_torch``.
"""

__version__ = "0.1.0"

from ._budget import DEFAULT_OUTPUT_BUDGET, OutputTooLargeError
from . import distances
from . import accuracy
from . import reducers, regularizers, tuples

__all__ = [
    "DEFAULT_OUTPUT_BUDGET",
    "OutputTooLargeError",
    "accuracy",
    "distances",
    "reducers",
    "regularizers",
    "tuples",
    "__version__",
]
