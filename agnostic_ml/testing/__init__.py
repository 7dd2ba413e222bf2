"""Property-testing kit for miners and losses: ours and the ones users write.

- :func:`property_test_miner` (:mod:`.property_test`): the whole property test of a miner
  in one call (hypothesis batches, every installed backend, the contract, the miner's
  own selection rule, determinism, the same tuples on every backend), reporting the
  shrunk minimal failing batch readably (:class:`MinerPropertyError`).
- :func:`check_miner_output`, :func:`check_miner`, :func:`check_deterministic`,
  :func:`check_backend_consistency` (:mod:`.invariants`): single-batch invariant checks
  that raise :class:`InvariantViolation` (an ``AssertionError``) with a precise message.
- :class:`MinerBatch`: one miner input (embeddings, labels, optional reference set).
- :func:`property_test_loss` (:mod:`.loss_property_test`): the property test of a metric
  loss in one call (hypothesis batches; permutation, class renaming, empty tuples,
  degenerate batches, pair and triplet tuples, float32 vs float64), reporting the shrunk
  minimal failing batch (:class:`LossPropertyError`); :func:`check_loss`
  (:mod:`.loss_checks`): the same invariants on one batch, raising
  :class:`LossInvariantViolation`; :func:`loss_batches`: its hypothesis strategy.
- :mod:`.backends`: the backends the kit and the test suite run on (names, namespace and
  device, availability).
- :func:`labels`, :func:`miner_batches` (:mod:`.strategies`): hypothesis strategies.

The parts that need hypothesis (:mod:`.strategies`, :mod:`.property_test`) are imported
lazily, so ``import agnostic_ml.testing`` does not need it.

See ``docs/testing-miners.md`` and ``docs/testing-losses.md``.
"""

from __future__ import annotations

from typing import Any

from . import backends
from .batch import MinerBatch
from .loss_checks import LOSS_CHECKS, LossBatch, LossInvariantViolation, check_loss
from .invariants import (
    InvariantViolation,
    check_backend_consistency,
    check_deterministic,
    check_miner,
    check_miner_output,
)

__all__ = [
    "LOSS_CHECKS",
    "InvariantViolation",
    "LossBatch",
    "LossInvariantViolation",
    "LossPropertyError",
    "LossPropertyReport",
    "MinerBatch",
    "MinerPropertyError",
    "MinerPropertyReport",
    "backends",
    "check_backend_consistency",
    "check_deterministic",
    "check_loss",
    "check_miner",
    "check_miner_output",
    "labels",
    "loss_batches",
    "miner_batches",
    "property_test_loss",
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
    "property_test_loss": ".loss_property_test",
    "loss_batches": ".loss_property_test",
    "LossPropertyError": ".loss_property_test",
    "LossPropertyReport": ".loss_property_test",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(_LAZY[name], __name__)
        return mod if name == "strategies" else getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
