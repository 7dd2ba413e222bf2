"""Dot-product and cosine similarities."""

from __future__ import annotations

from typing import Any

from .._array_api import gram, namespace_and_device
from .._typing import Array
from .base import BaseDistance


class DotProductSimilarity(BaseDistance):
    """Similarity ``s(q, r) = q . r`` (PML's ``DotProductSimilarity``; ``is_inverted=True``).

    As in PML, ``normalize_embeddings`` defaults to True, so the default object computes
    cosine similarity; pass ``normalize_embeddings=False`` for raw dot products.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import DotProductSimilarity
    >>> DotProductSimilarity(normalize_embeddings=False)(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    array([[11.]])
    """

    def __init__(self, **kwargs: Any) -> None:
        if "is_inverted" in kwargs and not kwargs["is_inverted"]:
            raise ValueError(f"{type(self).__name__} is a similarity: is_inverted must be True")
        kwargs["is_inverted"] = True
        super().__init__(**kwargs)

    def compute_mat(self, query_emb: Array, ref_emb: Array) -> Array:
        xp, _ = namespace_and_device(query_emb)
        return gram(query_emb, ref_emb, xp=xp)

    def pairwise_distance(self, query_emb: Array, ref_emb: Array) -> Array:
        """Row-wise ``q_i . r_i`` (no normalisation, as in PML)."""
        xp, _ = namespace_and_device(query_emb, ref_emb)
        return xp.sum(query_emb * ref_emb, axis=-1)


class CosineSimilarity(DotProductSimilarity):
    """Cosine similarity: :class:`DotProductSimilarity` with ``normalize_embeddings=True`` forced.

    ``s(q, r) = q . r / (||q|| ||r||)``.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.distances import CosineSimilarity
    >>> CosineSimilarity()(np.array([[2.0, 0.0]]), np.array([[1.0, 1.0]])).round(4)
    array([[0.7071]])
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("normalize_embeddings", True) is not True:
            raise ValueError("CosineSimilarity always normalises: normalize_embeddings must be True")
        kwargs["normalize_embeddings"] = True
        super().__init__(**kwargs)
