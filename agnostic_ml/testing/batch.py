"""MinerBatch: one miner input (embeddings, labels and an optional reference set)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._array_api import namespace_and_device, to_numpy

Array = Any

__all__ = ["MinerBatch", "as_batch"]


@dataclass(frozen=True, eq=False)
class MinerBatch:
    """Arguments of one miner call, all in one namespace and on one device.

    ``ref_emb`` and ``ref_labels`` are both None (no separate reference set: PML's
    self-pair rule applies) or both arrays.

    Examples
    --------
    >>> import numpy as np
    >>> b = MinerBatch(np.zeros((2, 3)), np.array([0, 1]))
    >>> b.n, b.has_ref, len(b.args())
    (2, False, 4)
    """

    embeddings: Array
    labels: Array
    ref_emb: Array | None = None
    ref_labels: Array | None = None

    def __post_init__(self) -> None:
        if (self.ref_emb is None) != (self.ref_labels is None):
            raise ValueError("MinerBatch needs ref_emb and ref_labels together (or neither)")

    @property
    def n(self) -> int:
        """Number of query embeddings."""
        return int(self.embeddings.shape[0])

    @property
    def has_ref(self) -> bool:
        return self.ref_emb is not None

    @property
    def xp(self) -> Any:
        return namespace_and_device(self.embeddings)[0]

    @property
    def device(self) -> Any:
        return namespace_and_device(self.embeddings)[1]

    def args(self) -> tuple[Array, Array, Array | None, Array | None]:
        """``(embeddings, labels, ref_emb, ref_labels)``: ``miner(*batch.args())``."""
        return (self.embeddings, self.labels, self.ref_emb, self.ref_labels)

    def to_numpy(self) -> MinerBatch:
        """The same batch as NumPy arrays (dtypes kept)."""
        def conv(a: Any) -> np.ndarray | None:
            if a is None:
                return None
            if isinstance(a, (list, tuple, np.ndarray, np.generic)):  # host data
                return np.asarray(a)
            return np.asarray(to_numpy(a))

        return MinerBatch(conv(self.embeddings), conv(self.labels), conv(self.ref_emb), conv(self.ref_labels))

    def to(self, xp: Any, device: Any = None) -> MinerBatch:
        """The same values in namespace ``xp`` on ``device`` (float dtype name and int64 labels kept)."""
        host = self.to_numpy()
        fdt = getattr(xp, host.embeddings.dtype.name)

        def emb(a: np.ndarray | None) -> Array:
            return None if a is None else xp.asarray(a, dtype=fdt, device=device)

        def lab(a: np.ndarray | None) -> Array:
            return None if a is None else xp.asarray(a.astype(np.int64), dtype=xp.int64, device=device)

        return MinerBatch(emb(host.embeddings), lab(host.labels), emb(host.ref_emb), lab(host.ref_labels))


def as_batch(batch: Any) -> MinerBatch:
    """Accept a :class:`MinerBatch` or a tuple ``(embeddings, labels[, ref_emb, ref_labels])``."""
    if isinstance(batch, MinerBatch):
        return batch
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 4):
        return MinerBatch(*batch)
    raise TypeError(
        "batch must be a MinerBatch or a tuple (embeddings, labels[, ref_emb, ref_labels]), "
        f"got {type(batch).__name__}"
    )
