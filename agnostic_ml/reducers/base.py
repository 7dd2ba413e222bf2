"""BaseReducer: turns a loss dict into one 0-D loss (PML's ``BaseReducer``)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._array_api import namespace_and_device
from .._checks import prepare_indices
from .._stats import RecordsStats
from .._typing import Array

#: The reduction types of PML's loss dicts.
REDUCTION_TYPES = ("already_reduced", "element", "pos_pair", "neg_pair", "triplet")
_N_INDEX_ARRAYS = {"pos_pair": 2, "neg_pair": 2, "triplet": 3}


class BaseReducer(RecordsStats):
    """Base class of reducers.

    ``reducer(loss_dict, embeddings, labels)`` takes PML's loss dict with exactly one
    entry ``{name: {"losses": L, "indices": I, "reduction_type": t, ["divisor": d]}}``,
    where ``t`` is one of :data:`REDUCTION_TYPES`:

    - ``"already_reduced"``: ``L`` is 0-D (or has one element) and is returned as a 0-D array;
    - ``"element"``: ``L[k]`` belongs to batch element ``I[k]`` (``I`` a 1-D array);
    - ``"pos_pair"`` / ``"neg_pair"``: ``L[k]`` belongs to the pair ``(I[0][k], I[1][k])``;
    - ``"triplet"``: ``L[k]`` belongs to ``(I[0][k], I[1][k], I[2][k])``.

    ``L`` may be the Python int 0 ("nothing to compute"); the result is then a 0-D zero
    that keeps the autograd graph connected to ``embeddings`` (its gradient is zeros, not
    None or NaN). The zero is ``sum(embeddings.reshape(-1)[:0])``, not PML's
    ``sum(embeddings * 0)``: the same graph, without a pass over the embeddings, and
    never NaN when an embedding is non-finite.

    Bad input raises instead of PML's bare asserts: a dict with other than one entry, a
    missing key or an unknown reduction type (``ValueError`` naming it), and ``losses``
    whose length does not match the indices (``ValueError``).

    Subclasses implement ``element_reduction(losses, loss_indices, embeddings, labels)``;
    ``pos_pair``, ``neg_pair`` and ``triplet`` reductions default to it. Results are 0-D
    arrays of the losses' namespace, device and dtype, differentiable on torch (no
    in-place writes).

    Parameters
    ----------
    collect_stats : bool, default False
        Record ``losses_size`` (and subclass statistics) in ``self.stats`` on each call,
        as Python ints or 0-D arrays (no host sync). Also readable as attributes, as in PML.
    """

    def __init__(self, collect_stats: bool = False) -> None:
        super().__init__()
        self.collect_stats = bool(collect_stats)
        self.stats: dict[str, Any] = {}

    # -- entry point -----------------------------------------------------------------------
    def forward(self, loss_dict: dict, embeddings: Array, labels: Any = None) -> Array:
        self.stats = {}
        if embeddings is None or not hasattr(embeddings, "shape"):
            raise TypeError(f"embeddings must be an array (it carries the namespace, device and graph), got {type(embeddings).__name__}")
        _, loss_info = single_loss(loss_dict, type(self).__name__)
        losses, loss_indices, reduction_type, kwargs = self.unpack_loss_info(loss_info)
        return self.reduce_the_loss(losses, loss_indices, reduction_type, kwargs, embeddings, labels)

    def unpack_loss_info(self, loss_info: dict) -> tuple[Any, Any, str, dict]:
        missing = [k for k in ("losses", "indices", "reduction_type") if k not in loss_info]
        if missing:
            raise ValueError(f"the loss dict entry lacks the key(s) {missing}; it has {sorted(loss_info)}")
        return loss_info["losses"], loss_info["indices"], loss_info["reduction_type"], {}

    def reduce_the_loss(
        self, losses: Any, loss_indices: Any, reduction_type: str, kwargs: dict, embeddings: Array, labels: Any
    ) -> Array:
        func = self._reduction_func(reduction_type)
        if is_zero_loss(losses):
            self.record(losses_size=1)
            return self.zero_loss(embeddings)
        if not hasattr(losses, "shape") or not hasattr(losses, "dtype"):
            raise TypeError(f"losses must be an array or the int 0, got {type(losses).__name__}: {losses!r}")
        xp, device = namespace_and_device(losses, embeddings)
        self.record(losses_size=1 if losses.ndim == 0 else int(losses.shape[0]))
        loss_indices = check_sizes(losses, loss_indices, reduction_type, xp, device)
        return func(losses, loss_indices, embeddings, labels, **kwargs)

    def _reduction_func(self, reduction_type: str) -> Callable[..., Array]:
        table = {
            "already_reduced": self.already_reduced_reduction,
            "element": self.element_reduction,
            "pos_pair": self.pos_pair_reduction,
            "neg_pair": self.neg_pair_reduction,
            "triplet": self.triplet_reduction,
        }
        if reduction_type not in table:
            raise ValueError(f"unknown reduction_type {reduction_type!r}; expected one of {list(REDUCTION_TYPES)}")
        return table[reduction_type]

    # -- reductions --------------------------------------------------------------------------
    def already_reduced_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        # embeddings too: a NumPy reduction returns a NumPy scalar, which is not an array.
        xp, _ = namespace_and_device(losses, embeddings)
        return xp.reshape(losses, ())

    def element_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        raise NotImplementedError(f"{type(self).__name__} does not implement element_reduction")

    def pos_pair_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self.element_reduction(losses, loss_indices, embeddings, labels, **kw)

    def neg_pair_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self.element_reduction(losses, loss_indices, embeddings, labels, **kw)

    def triplet_reduction(self, losses: Array, loss_indices: Any, embeddings: Array, labels: Any, **kw: Any) -> Array:
        return self.element_reduction(losses, loss_indices, embeddings, labels, **kw)

    # -- helpers -------------------------------------------------------------------------------
    def zero_loss(self, embeddings: Array, losses: Array | None = None) -> Array:
        """A 0-D zero in ``embeddings``' dtype connected to the graph of ``embeddings`` (and ``losses``)."""
        return zero_loss(embeddings, losses)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def single_loss(loss_dict: Any, who: str) -> tuple[str, dict]:
    if not isinstance(loss_dict, dict):
        raise TypeError(f"{who} expects a loss dict {{name: {{'losses', 'indices', 'reduction_type'}}}}, got {type(loss_dict).__name__}")
    if len(loss_dict) != 1:
        raise ValueError(
            f"{who} reduces a loss dict with exactly one entry, got {len(loss_dict)} ({sorted(loss_dict)}); "
            "use MultipleReducers for several sub-losses"
        )
    name, info = next(iter(loss_dict.items()))
    if not isinstance(info, dict):
        raise TypeError(f"loss dict entry {name!r} must be a dict, got {type(info).__name__}")
    return name, info


def is_zero_loss(losses: Any) -> bool:
    """PML's "nothing to compute": a Python (or NumPy scalar) zero that is not an array."""
    return isinstance(losses, (int, float, np.integer, np.floating)) and not isinstance(losses, np.ndarray) and losses == 0


def zero_loss(embeddings: Array, losses: Array | None = None) -> Array:
    xp, _ = namespace_and_device(embeddings)
    z = xp.sum(xp.reshape(embeddings, (-1,))[:0])
    if losses is not None and hasattr(losses, "dtype"):
        z = z + xp.astype(xp.sum(xp.reshape(losses, (-1,))[:0]), z.dtype)
    return z


def check_sizes(losses: Array, loss_indices: Any, reduction_type: str, xp: Any, device: Any) -> Any:
    """Check ``losses`` against the indices of its reduction type; return indices as arrays."""
    if reduction_type == "already_reduced":
        if not (losses.ndim == 0 or (losses.ndim == 1 and losses.shape[0] == 1)):
            raise ValueError(f"already_reduced losses must be 0-D or have one element, got shape {tuple(losses.shape)}")
        return loss_indices
    if losses.ndim != 1:
        raise ValueError(f"{reduction_type} losses must be 1-D, got shape {tuple(losses.shape)}")
    n = losses.shape[0]
    if reduction_type == "element":
        idx = _index(loss_indices, xp, device, "indices")
        if idx.shape[0] != n:
            raise ValueError(f"element losses have length {n} but indices have length {idx.shape[0]}")
        return idx
    k = _N_INDEX_ARRAYS[reduction_type]
    if not isinstance(loss_indices, (tuple, list)) or len(loss_indices) != k:
        got = type(loss_indices).__name__ + (f" of length {len(loss_indices)}" if isinstance(loss_indices, (tuple, list)) else "")
        raise ValueError(f"{reduction_type} indices must be a tuple of {k} index arrays, got {got}")
    out = tuple(_index(t, xp, device, f"indices[{i}]") for i, t in enumerate(loss_indices))
    lengths = [t.shape[0] for t in out]
    if any(m != n for m in lengths):
        raise ValueError(f"{reduction_type} losses have length {n} but the index arrays have lengths {lengths}")
    return out


def _index(x: Any, xp: Any, device: Any, name: str) -> Array:
    if x is None:
        raise ValueError(f"{name} is required for this reduction type, got None")
    return prepare_indices(x, xp=xp, device=device, name=name)
