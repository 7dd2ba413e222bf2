"""agnostic_ml_torch: the torch adapter of agnostic-ml (needs the ``[torch]`` extra).

The core (``agnostic_ml``) already accepts torch tensors on CPU or CUDA: miners, distances,
tuple utilities, reducers and accuracy run on them unchanged. This package adds what only
torch has. It provides PML's module layout, so that switching from
``pytorch_metric_learning`` is an import change::

    from agnostic_ml_torch import distances, losses, miners, reducers, regularizers, samplers, testers, trainers
    from agnostic_ml_torch.utils import accuracy_calculator, inference, logging_presets

``distances``, ``miners``, ``reducers``, ``regularizers`` and ``losses`` are ``nn.Module`` shells
generated from the core classes (``_shell.py``); ``samplers``, ``trainers``, ``testers`` (retrieval
accuracy without faiss), ``inference`` (``InferenceModel``, ``MatchFinder``), ``distributed``
(``DistributedLossWrapper``, ``DistributedMinerWrapper``) and ``utils`` (PML's ``utils`` paths,
including the ``logging_presets`` hooks that record to CSV and checkpoint atomically) add what
only torch has. The mathematics is the core's; nothing here re-implements it.
"""

from __future__ import annotations

import os as _os
import sys as _sys

if "torch" not in _sys.modules:
    # Transparent huge pages for torch's CPU allocator (as NumPy does by default): without them,
    # on kernels whose THP mode is "madvise", every fresh large tensor is faulted in 4 KiB pages;
    # measured 1.7x on DistanceWeighted/UniformHistogram miners at N = 4096 (torch 2.13, 1 thread).
    # torch reads the variable once, at its first allocation, so this only helps when this package
    # is imported before torch; otherwise export THP_MEM_ALLOC_ENABLE=1 (docs/benchmarks.md).
    # An explicit setting, 0 included, is kept.
    _os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "agnostic_ml_torch needs torch: install it with `pip install agnostic-ml[torch]` "
        "(on CPU-only machines, install a CPU build of torch first)"
    ) from exc

from . import distances, inference, losses, miners, reducers, regularizers, samplers, testers, trainers, utils

__all__ = [
    "distances",
    "inference",
    "losses",
    "miners",
    "reducers",
    "regularizers",
    "samplers",
    "testers",
    "trainers",
    "utils",
]
