"""PML's ``utils.inference`` path: ``InferenceModel``, ``MatchFinder``, the kNN and PCA helpers.

Everything is defined in :mod:`agnostic_ml_torch.inference` and re-exported here.
"""

from ..inference import (
    CustomKNN,
    FaissKMeans,
    FaissKNN,
    InferenceModel,
    KNNIndex,
    MatchFinder,
    PCAProjection,
    fit_pca,
    run_pca,
)

__all__ = [
    "CustomKNN",
    "FaissKMeans",
    "FaissKNN",
    "InferenceModel",
    "KNNIndex",
    "MatchFinder",
    "PCAProjection",
    "fit_pca",
    "run_pca",
]
