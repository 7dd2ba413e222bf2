"""LpDistance: Minkowski distances, GEMM-based for p = 2."""

from __future__ import annotations

from typing import Any

from .._array_api import euclidean_matrix, namespace_and_device, standard_vector_norm
from .._typing import Array
from .base import BaseDistance

# Elements of the (block, R, D) difference tensor allowed at once for p != 2.
_BLOCK_ELEMENTS = 1 << 22


class LpDistance(BaseDistance):
    """L_p distance matrix ``d(q, r) = ||q - r||_p`` (PML's ``LpDistance``).

    For ``p = 2`` it uses the Gram identity ``||q - r||^2 = |q|^2 + |r|^2 - 2 q.r``
    (one GEMM, clamped at 0, square root with a finite gradient at 0); other ``p`` are
    computed over query blocks so that extra memory stays bounded. Defaults as in PML:
    ``normalize_embeddings=True, p=2, power=1``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import LpDistance
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> np.round(LpDistance()(x), 4)
    array([[0.    , 1.4142],
           [1.4142, 0.    ]])
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("is_inverted", False):
            raise ValueError("LpDistance is a distance: is_inverted must be False")
        super().__init__(**kwargs)

    def compute_mat(self, query_emb: Array, ref_emb: Array) -> Array:
        xp, device = namespace_and_device(query_emb)
        if self.p == 2:
            return euclidean_matrix(query_emb, ref_emb, xp=xp)
        n, m, d = query_emb.shape[0], ref_emb.shape[0], query_emb.shape[1]
        step = max(1, _BLOCK_ELEMENTS // max(1, m * d))
        blocks = [
            self.pairwise_distance(query_emb[s : min(s + step, n), None, :], ref_emb[None, :, :], axis=2)
            for s in range(0, n, step)
        ]
        if not blocks:
            return xp.zeros((0, m), dtype=query_emb.dtype, device=device)
        return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=0)

    def pairwise_distance(self, query_emb: Array, ref_emb: Array, axis: int = -1) -> Array:
        """Row-wise ``||q_i - r_i||_p`` (no normalisation, no ``power``, as in PML)."""
        xp, _ = namespace_and_device(query_emb, ref_emb)
        return standard_vector_norm(query_emb - ref_emb, ord=self.p, axis=axis, xp=xp)

