"""How the kit calls a miner: fresh instances, seeded generators, extended-set miners.

One implementation for :func:`~agnostic_ml.testing.check_miner`,
:func:`~agnostic_ml.testing.check_deterministic`,
:func:`~agnostic_ml.testing.check_backend_consistency`,
:func:`~agnostic_ml.testing.property_test_miner` and ``agnostic-ml check-miner``.
"""

from __future__ import annotations

import copy
import inspect
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .batch import MinerBatch

__all__ = ["Mined", "call_miner", "miner_maker", "miner_name", "reset_rng", "same_output", "tuple_counts"]


@dataclass(frozen=True, eq=False)
class Mined:
    """A miner's output, the batch its indices refer to, and the miner that produced it.

    ``checked`` is the input batch, except for miners with ``mine_extended`` (class
    centres, memory banks), whose indices refer to the extended set they return; the
    invariants are checked against that set, as a batch with no separate reference set.
    """

    output: Any
    checked: MinerBatch
    extended: bool = False
    miner: Any = None


def call_miner(miner: Callable[..., Any], batch: MinerBatch, *, extended: bool | None = None) -> Mined:
    """``miner(embeddings, labels[, ref_emb, ref_labels])``, or ``miner.mine_extended(...)``.

    ``extended=None`` (auto) uses ``mine_extended`` when the miner has one and the batch
    has no reference set (such miners build their own reference set and refuse one).
    """
    use_ext = extended if extended is not None else callable(getattr(miner, "mine_extended", None))
    if use_ext and not batch.has_ref:
        ext = miner.mine_extended(batch.embeddings, batch.labels)  # type: ignore[attr-defined]
        return Mined(tuple(ext.indices), MinerBatch(ext.embeddings, ext.labels), True, miner)
    if batch.has_ref:
        return Mined(miner(batch.embeddings, batch.labels, batch.ref_emb, batch.ref_labels), batch, False, miner)
    return Mined(miner(batch.embeddings, batch.labels), batch, False, miner)


def reset_rng(miner: Any, seed: int) -> None:
    """Give a miner with an ``rng`` attribute a fresh ``numpy.random.default_rng(seed)``."""
    if hasattr(miner, "rng"):
        miner.rng = np.random.default_rng(seed)


def _zero_arg_callable(obj: Any) -> bool:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    try:
        sig.bind()
    except TypeError:
        return False
    return True


def miner_maker(miner: Any) -> Callable[[], Any]:
    """A zero-argument function that returns a fresh miner for every call.

    ``miner`` may be a miner class (called with no arguments), a zero-argument factory
    (``lambda: MyMiner(margin=0.2)``), a miner instance (deep-copied per call, so state
    such as a memory bank never leaks from one call into the next; reused as it is if it
    cannot be copied) or a plain miner function ``f(embeddings, labels, ref_emb=None,
    ref_labels=None)`` (used as it is).
    """
    if isinstance(miner, type):
        return miner
    if not callable(miner):
        raise TypeError(f"miner must be a miner class, a factory or a miner, got {type(miner).__name__}")
    if hasattr(miner, "mine") or not _zero_arg_callable(miner):
        if inspect.isfunction(miner) or inspect.ismethod(miner) or inspect.isbuiltin(miner):
            return lambda: miner
        try:
            proto = copy.deepcopy(miner)
        except Exception:  # noqa: BLE001 - a miner holding something uncopyable: reuse it
            return lambda: miner
        return lambda: copy.deepcopy(proto)
    return miner


def miner_name(miner: Any) -> str:
    """A short label for reports: the class name, or the function's name."""
    if isinstance(miner, type):
        return miner.__name__
    if inspect.isfunction(miner) or inspect.ismethod(miner):
        return getattr(miner, "__qualname__", getattr(miner, "__name__", repr(miner)))
    return type(miner).__name__


def same_output(x: tuple[np.ndarray, ...], y: tuple[np.ndarray, ...]) -> bool:
    """Identical tuples, order included."""
    return len(x) == len(y) and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(x, y))


def tuple_counts(host: tuple[np.ndarray, ...]) -> list[Counter]:
    """The output as multisets of tuples: one for triplets, positive and negative pairs for pairs."""
    if len(host) == 3:
        return [Counter(zip(*(h.tolist() for h in host)))]
    return [Counter(zip(host[0].tolist(), host[1].tolist())), Counter(zip(host[2].tolist(), host[3].tolist()))]
