"""agnostic_ml_torch: the torch adapter of agnostic-ml (needs the ``[torch]`` extra).

The core (``agnostic_ml``) already accepts torch tensors on CPU or CUDA: miners, distances,
tuple utilities, reducers and accuracy run on them unchanged. This package adds what only
torch has. Today it provides PML's module layout, so that switching from
``pytorch_metric_learning`` is an import change::

    from agnostic_ml_torch import distances, miners, reducers, regularizers

Losses as ``nn.Module`` shells, samplers, trainers, testers and the distributed wrappers
come here next; they call the core math, never re-implement it.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "agnostic_ml_torch needs torch: install it with `pip install agnostic-ml[torch]` "
        "(on CPU-only machines, install a CPU build of torch first)"
    ) from exc

from . import distances, losses, miners, reducers, regularizers, samplers, trainers

__all__ = ["distances", "losses", "miners", "reducers", "regularizers", "samplers", "trainers"]
