"""EmbeddingsAlreadyPackagedAsTriplets: the batch is already (a, p, n, a, p, n, ...)."""

from __future__ import annotations

from .._array_api import index_dtype, namespace_and_device
from .._typing import Array
from .base import BaseMiner


class EmbeddingsAlreadyPackagedAsTriplets(BaseMiner):
    """Use the batch's own grouping: ``a = 0, 3, 6, ...``, ``p = 1, 4, ...``, ``n = 2, 5, ...``.

    For a data loader that already yields consecutive (anchor, positive, negative) rows.
    Labels are required by the call (as in PML) but ignored; so is ``ref_emb``.

    Differences from PML 2.9: a batch whose length is not a multiple of 3 raises a
    ``ValueError`` that says so (PML fails an output assertion), and the indices are
    created on the embeddings' device (PML makes them on the CPU).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import EmbeddingsAlreadyPackagedAsTriplets
    >>> a, p, n = EmbeddingsAlreadyPackagedAsTriplets()(np.zeros((6, 2)), [0, 0, 1, 2, 2, 3])
    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 3], [1, 4], [2, 5])
    """

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        xp, device = namespace_and_device(embeddings)
        n = embeddings.shape[0]
        if n % 3 != 0:
            raise ValueError(
                f"embeddings must hold whole (anchor, positive, negative) triplets: "
                f"batch length must be a multiple of 3, got {n}"
            )
        idt = index_dtype(xp, device)
        return tuple(xp.arange(k, n, 3, dtype=idt, device=device) for k in range(3))  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "EmbeddingsAlreadyPackagedAsTriplets()"
