"""Property-testing kit for miners: ours and the ones users write.

- :func:`property_test_miner` (:mod:`.property_test`): the whole property test of a miner
  in one call (hypothesis batches, every installed backend, the contract, the miner's
  own selection rule, determinism, the same tuples on every backend), reporting the
  shrunk minimal failing batch readably (:class:`MinerPropertyError`).
- :func:`check_miner_output`, :func:`check_miner`, :func:`check_deterministic`,
  :func:`check_backend_consistency` (:mod:`.invariants`): single-batch invariant checks
  that raise :class:`InvariantViolation` (an ``AssertionError``) with a precise message.
- :class:`MinerBatch`: one miner input (embeddings, labels, optional reference set).
- :mod:`.backends`: the backends the kit and the test suite run on (names, namespace and
  device, availability).
- :func:`labels`, :func:`miner_batches` (:mod:`.strategies`): hypothesis strategies.

The parts that need hypothesis (:mod:`.strategies`, :mod:`.property_test`) are imported
lazily, so ``import agnostic_ml.testing`` does not need it.

See ``docs/testing-miners.md``.
"""

from __future__ import annotations

from typing import Any

from . import backends
from .batch import MinerBatch
from .invariants import (
    InvariantViolation,
    check_backend_consistency,
    check_deterministic,
    check_miner,
    check_miner_output,
)

__all__ = [
    "InvariantViolation",
    "MinerBatch",
    "MinerPropertyError",
    "MinerPropertyReport",
    "backends",
    "check_backend_consistency",
    "check_deterministic",
    "check_miner",
    "check_miner_output",
    "labels",
    "miner_batches",
    "property_test_miner",
    "strategies",
]

# PEP 562: these load on first use only (they import hypothesis).
_LAZY = {
    "labels": ".strategies",
    "miner_batches": ".strategies",
    "strategies": ".strategies",
    "property_test_miner": ".property_test",
    "MinerPropertyError": ".property_test",
    "MinerPropertyReport": ".property_test",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(_LAZY[name], __name__)
        return mod if name == "strategies" else getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
