"""Miners: PML's and OML's, on any array-API backend, in O(N^2 + output) memory."""

from .base import BaseMiner
from .angular import AngularMiner
from .distance_weighted import DistanceWeightedMiner
from .embeddings_already_packaged import EmbeddingsAlreadyPackagedAsTriplets
from .triplet_margin import TripletMarginMiner

from .all_triplets import AllTripletsMiner
from .hard_triplets import HardTripletsMiner
from .n_hard_triplets import NHardTripletsMiner
from .hard_cluster import HardClusterMiner
from .triplet_miner_with_memory import TripletMinerWithMemory
from .miner_with_bank import MinerWithBank
from ._oml import IndexedTriplets

__all__ = ["BaseMiner", "AngularMiner", "DistanceWeightedMiner", "EmbeddingsAlreadyPackagedAsTriplets", "TripletMarginMiner"]
__all__ += ["AllTripletsMiner", "HardTripletsMiner", "NHardTripletsMiner", "HardClusterMiner", "TripletMinerWithMemory", "MinerWithBank", "IndexedTriplets"]

from .pair_margin import PairMarginMiner
from .multi_similarity import MultiSimilarityMiner
from .hdc import HDCMiner
from .batch_easy_hard import BatchEasyHardMiner
from .batch_hard import BatchHardMiner
from .uniform_histogram import UniformHistogramMiner

__all__ += ["PairMarginMiner", "MultiSimilarityMiner", "HDCMiner", "BatchEasyHardMiner", "BatchHardMiner", "UniformHistogramMiner"]
