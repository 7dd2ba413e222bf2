"""Distances and similarities with PML's interface, on any array-API backend."""

from .base import BaseDistance, DistanceStats
from .batched import BatchedDistance
from .dot_product import CosineSimilarity, DotProductSimilarity
from .lp import LpDistance
from .snr import SNRDistance

__all__ = [
    "BaseDistance",
    "BatchedDistance",
    "CosineSimilarity",
    "DistanceStats",
    "DotProductSimilarity",
    "LpDistance",
    "SNRDistance",
]
