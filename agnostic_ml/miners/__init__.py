"""Miners: PML's and OML's, on any array-API backend, in O(N^2 + output) memory.

Every miner is called as ``miner(embeddings, labels, ref_emb=None, ref_labels=None)`` and
returns index arrays of the embeddings' namespace and device: pairs ``(a1, p, a2, n)`` or
triplets ``(a, p, n)`` (see :class:`BaseMiner`).
"""

from .base import BaseMiner
from .legacy import BasePostGradientMiner, BasePreGradientMiner, MaximumLossMiner

# PML's miners
from .angular import AngularMiner
from .batch_easy_hard import BatchEasyHardMiner
from .batch_hard import BatchHardMiner
from .distance_weighted import DistanceWeightedMiner
from .embeddings_already_packaged import EmbeddingsAlreadyPackagedAsTriplets
from .hdc import HDCMiner
from .multi_similarity import MultiSimilarityMiner
from .pair_margin import PairMarginMiner
from .triplet_margin import TripletMarginMiner
from .uniform_histogram import UniformHistogramMiner

# open-metric-learning's miners
from .indexed_triplets import IndexedTriplets
from .all_triplets import AllTripletsMiner
from .hard_cluster import HardClusterMiner
from .hard_triplets import HardTripletsMiner
from .miner_with_bank import MinerWithBank
from .n_hard_triplets import NHardTripletsMiner
from .triplet_miner_with_memory import TripletMinerWithMemory

__all__ = [
    "BaseMiner",
    "BasePostGradientMiner",
    "BasePreGradientMiner",
    "MaximumLossMiner",
    "AngularMiner",
    "BatchEasyHardMiner",
    "BatchHardMiner",
    "DistanceWeightedMiner",
    "EmbeddingsAlreadyPackagedAsTriplets",
    "HDCMiner",
    "MultiSimilarityMiner",
    "PairMarginMiner",
    "TripletMarginMiner",
    "UniformHistogramMiner",
    "AllTripletsMiner",
    "HardClusterMiner",
    "HardTripletsMiner",
    "IndexedTriplets",
    "MinerWithBank",
    "NHardTripletsMiner",
    "TripletMinerWithMemory",
]
