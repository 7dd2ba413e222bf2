"""Checks of what a loss call must (or must not) get: labels, a reference set, a tuple.

PML's ``c_f.labels_required`` / ``ref_not_supported`` / ``indices_tuple_not_supported``,
raising ``ValueError`` with the loss's name and the argument.
"""

from __future__ import annotations

from typing import Any


def labels_required(labels: Any, owner: str) -> None:
    """Raise unless ``labels`` is given."""
    if labels is None:
        raise ValueError(f"{owner} requires labels; got labels=None")


def ref_not_supported(embeddings: Any, ref_emb: Any, owner: str) -> None:
    """Raise if a separate ``ref_emb`` was given (the base defaults it to ``embeddings``)."""
    if ref_emb is not embeddings:
        raise ValueError(f"ref_emb is not supported by {owner}; call it without ref_emb/ref_labels")


def indices_tuple_not_supported(indices_tuple: Any, owner: str) -> None:
    """Raise if an ``indices_tuple`` was given."""
    if indices_tuple is not None:
        raise ValueError(f"indices_tuple is not supported by {owner}; call it without a miner's output")


def setting(value: Any, loss: Any, like: Any) -> Any:
    """A scalar setting as used in a formula with ``like``.

    A float stays a float; a learnable array (the 0.9-era ``learnable_param_names`` make
    settings into arrays of shape ``(1,)``) goes through ``loss.param_like`` so that it
    follows ``like``'s namespace, device and working dtype.
    """
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return loss.param_like(value, like)
    return value
