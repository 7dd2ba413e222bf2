"""Retrieval accuracy: exact blocked kNN, k-means, and PML's ``AccuracyCalculator``.

Everything runs on the embeddings' backend (NumPy, CuPy, torch, array-api-strict) in
bounded memory, and a Dask query array is processed chunk by chunk on a Dask cluster.
faiss is optional (:class:`FaissKNN`); scikit-learn is imported only for AMI / NMI.

Layout (public modules first; ``_`` modules are internal, imported by the others):

``knn``, ``kmeans``, ``metrics``, ``calculator``
    the public API: :func:`knn` / :class:`ExactKNN` / :class:`FaissKNN`, k-means, the
    per-query metric functions, :class:`AccuracyCalculator`.
``_blocks``
    the leaf: memory budget, block planning, k / block-size checks.
``_search``
    the exact blocked top-k search (:func:`knn`, the rank passes and the Dask tasks use it).
``ranking``, ``fnmr``, ``labels``
    the calculator's streaming passes (ranks of the relevant references; ``fnmr@fmr``
    over all pairs) and its label bookkeeping.
``_registry``, ``_settings``, ``_aggregate``
    the metrics the calculator knows (name or pattern -> function, cutoff, pass), the
    validators of its settings, and per-query values -> returned numbers.
``_local``, ``dask_support``, ``_inputs``
    ``get_accuracy``'s inputs and pass runners in memory and for a Dask query (the one
    module that knows Dask), and the input checks both share.
``_backend_extras``
    backend helpers still missing from :mod:`agnostic_ml._array_api`.
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
