"""Property-testing kit for miners: ours and the ones users write.

- :func:`check_miner_output`, :func:`check_miner`, :func:`check_deterministic`,
  :func:`check_backend_consistency` (:mod:`.invariants`): invariant checks that raise
  ``AssertionError`` with a precise message.
- :class:`MinerBatch`: one miner input (embeddings, labels, optional reference set).
- :func:`labels`, :func:`miner_batches` (:mod:`.strategies`): hypothesis strategies. They
  are imported lazily, so ``import agnostic_ml.testing`` does not need hypothesis.

See ``docs/testing-miners.md``.
"""

from __future__ import annotations

from typing import Any

from .batch import MinerBatch
from .invariants import check_backend_consistency, check_deterministic, check_miner, check_miner_output

__all__ = [
    "MinerBatch",
    "check_backend_consistency",
    "check_deterministic",
    "check_miner",
    "check_miner_output",
    "labels",
    "miner_batches",
    "strategies",
]

_LAZY = {"labels", "miner_batches", "strategies"}


def __getattr__(name: str) -> Any:
    # PEP 562: the strategies (and hypothesis) load on first use only.
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(".strategies", __name__)
        return mod if name == "strategies" else getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
