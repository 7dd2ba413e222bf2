"""HardTripletsMiner: the hardest positive and the hardest negative of every anchor (OML 4.0)."""

from __future__ import annotations

from ..distances import BaseDistance
from .n_hard_triplets import NHardTripletsMiner


class HardTripletsMiner(NHardTripletsMiner):
    """One triplet per anchor: its farthest positive and its closest negative.

    OML's ``HardTripletsMiner()`` ("batch hard"): for each anchor ``a``,
    ``p = argmax_{label[j] == label[a], j != a} d(a, j)`` and
    ``n = argmin_{label[j] != label[a]} d(a, j)``. It is ``NHardTripletsMiner(1, 1)``, which
    OML documents as equivalent.

    Semantics chosen where OML 4.0 is loose (documented):

    - **self:** the anchor is never its own positive. OML 4.0 takes the argmax over all
      same-label entries *including* the diagonal ``d(a, a) = 0``; that only differs when
      every other positive is at distance exactly 0 (duplicates), where OML may return
      ``p == a``. OML <= 3 and PML exclude the anchor, as we do.
    - **ties:** the lowest index wins (``torch.argmax``'s first-occurrence rule).
    - **anchors without a positive or a negative are dropped** (OML's ``sample`` asserts
      they cannot occur; its argmax over an all ``-inf`` row would return index 0).
    - **distance:** OML's raw Euclidean, ``LpDistance(normalize_embeddings=False)``; PML's
      ``BatchHardMiner`` uses the normalised one. ``distance=`` accepts any distance or
      similarity.
    - with a separate ``ref_emb`` (PML contract), candidates come from the reference set
      and nothing is excluded (PML's self-pair rule).

    Returns PML-style index triplets from ``miner(embeddings, labels, ref_emb, ref_labels)``;
    :meth:`sample` returns OML's embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import HardTripletsMiner
    >>> x = np.array([[0.0], [1.0], [3.0], [10.0], [4.0], [20.0]])
    >>> a, p, n = HardTripletsMiner()(x, [0, 0, 0, 1, 1, 1])
    >>> list(zip(a.tolist(), p.tolist(), n.tolist()))
    [(0, 2, 4), (1, 2, 4), (2, 0, 4), (3, 5, 2), (4, 5, 2), (5, 4, 2)]
    """

    def __init__(self, *, distance: BaseDistance | None = None, collect_stats: bool = False) -> None:
        super().__init__(1, 1, distance=distance, collect_stats=collect_stats)

    def __repr__(self) -> str:
        return "HardTripletsMiner()"
