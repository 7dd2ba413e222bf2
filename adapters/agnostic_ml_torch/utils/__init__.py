"""PML's ``utils`` import paths.

``from pytorch_metric_learning.utils import accuracy_calculator, common_functions as c_f,
inference, logging_presets, loss_and_miner_utils as lmu, distributed`` works with
``agnostic_ml_torch`` in place of ``pytorch_metric_learning``. The submodules are imported
on first use (as attributes of this package, too), so ``import agnostic_ml_torch.utils``
stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "accuracy_calculator",
    "common_functions",
    "distributed",
    "inference",
    "logging_presets",
    "loss_and_miner_utils",
    "record_keeper",
)

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
