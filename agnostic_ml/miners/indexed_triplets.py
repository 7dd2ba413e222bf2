"""IndexedTriplets: triplet indices together with the set of embeddings they index."""

from __future__ import annotations

from typing import NamedTuple

from .._typing import Array

__all__ = ["IndexedTriplets"]


class IndexedTriplets(NamedTuple):
    """Triplet indices into a set of embeddings that the miner built.

    Returned by the miners whose anchors or negatives are not rows of the batch
    (:class:`HardClusterMiner`: class centres; :class:`TripletMinerWithMemory`,
    :class:`MinerWithBank`: rows of the memory bank). ``anchors``, ``positives`` and
    ``negatives`` all index ``embeddings`` (whose labels are ``labels``), so a PML-style
    loss is called as ``loss(t.embeddings, t.labels, t.indices)``. ``embeddings`` keeps the
    batch rows differentiable on torch; memory-bank rows are detached copies.
    ``is_original`` is a boolean mask over the triplets (TripletMinerWithMemory: True for
    the triplets made of batch rows only), else None.
    """

    embeddings: Array
    labels: Array
    anchors: Array
    positives: Array
    negatives: Array
    is_original: Array | None = None

    @property
    def indices(self) -> tuple[Array, Array, Array]:
        return self.anchors, self.positives, self.negatives
