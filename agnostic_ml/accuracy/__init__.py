"""Retrieval accuracy: exact blocked kNN, k-means, and PML's ``AccuracyCalculator``.

Everything runs on the embeddings' backend (NumPy, CuPy, torch, array-api-strict) in
bounded memory, and a Dask query array is processed chunk by chunk on a Dask cluster.
faiss is optional (:class:`FaissKNN`); scikit-learn is imported only for AMI / NMI.
"""

from . import metrics
from .calculator import AccuracyCalculator
from .kmeans import KMeans, kmeans
from .knn import DEFAULT_MEMORY_BUDGET, KNN, ExactKNN, FaissKNN, knn

__all__ = [
    "AccuracyCalculator",
    "DEFAULT_MEMORY_BUDGET",
    "ExactKNN",
    "FaissKNN",
    "KMeans",
    "KNN",
    "kmeans",
    "knn",
    "metrics",
]
