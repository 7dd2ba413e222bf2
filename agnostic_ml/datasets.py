"""Small real datasets that ship with the installed dependencies (nothing is downloaded).

Only what the demo and the examples need: scikit-learn's bundled *digits* (1797 images
of 8 x 8 handwritten digits, 10 classes), plus two tiny embedding helpers that turn raw
features into unit-length vectors without any deep-learning framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._random import as_generator
from ._validate import is_int

__all__ = ["load_digits", "standardize", "random_projection", "pca_projection", "l2_normalize"]


def load_digits(*, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's bundled digits dataset (no network access).

    Parameters
    ----------
    dtype : numpy dtype, default float32
        Floating dtype of the features.

    Returns
    -------
    features : numpy.ndarray, shape (1797, 64)
        Pixel intensities 0..16 of the 8 x 8 images, row-major.
    labels : numpy.ndarray, shape (1797,), int64
        The digit 0..9 shown by each image.

    Examples
    --------
    >>> x, y = load_digits()
    >>> x.shape, y.shape, sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), (1797,), True)
    """
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a floating dtype, got {np.dtype(dtype)}")
    from sklearn.datasets import load_digits as _sk_load_digits  # bundled with scikit-learn

    bunch = _sk_load_digits()
    return np.asarray(bunch.data, dtype=dtype), np.asarray(bunch.target, dtype=np.int64)


def standardize(x: np.ndarray) -> np.ndarray:
    """Centre every column and scale it to unit variance (constant columns stay 0).

    ``z[:, j] = (x[:, j] - mean_j) / std_j``, with ``std_j = 1`` where a column is constant.
    """
    x = _check_matrix(x, "x")
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    std = np.where(std > 0, std, np.ones_like(std))
    return ((x - mean) / std).astype(x.dtype, copy=False)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale every row to unit Euclidean length: ``x_i / max(||x_i||, eps)``."""
    x = _check_matrix(x, "x")
    norms = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    return (x / np.maximum(norms, eps)).astype(x.dtype, copy=False)


def random_projection(x: np.ndarray, dim: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Embed rows with a fixed Gaussian random projection, then L2-normalise them.

    ``e_i = normalize(x_i W)`` with ``W ~ N(0, 1/dim)`` of shape ``(d, dim)``, drawn from
    ``rng``: the same seed gives the same embedding (Johnson-Lindenstrauss: distances
    are roughly preserved).

    Examples
    --------
    >>> e = random_projection(np.eye(4, dtype=np.float32), 3, rng=0)
    >>> e.shape, bool(np.allclose(np.linalg.norm(e, axis=1), 1))
    ((4, 3), True)
    """
    x = _check_matrix(x, "x")
    dim = _check_dim(dim)
    gen = as_generator(rng)
    w = gen.standard_normal((x.shape[1], dim)) / np.sqrt(dim)
    return l2_normalize((x @ w.astype(x.dtype)).astype(x.dtype, copy=False))


def pca_projection(x: np.ndarray, dim: int) -> np.ndarray:
    """Embed rows on their ``dim`` leading principal components (NumPy SVD), L2-normalised.

    ``e_i = normalize((x_i - mean) V[:, :dim])`` where ``x - mean = U S V^T``.
    """
    x = _check_matrix(x, "x")
    dim = _check_dim(dim)
    if dim > min(x.shape):
        raise ValueError(f"dim must be at most min(x.shape) = {min(x.shape)}, got {dim}")
    centred = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    return l2_normalize((centred @ vt[:dim].T.astype(x.dtype)).astype(x.dtype, copy=False))


def _check_matrix(x: Any, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def _check_dim(dim: Any) -> int:
    if not is_int(dim) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    return int(dim)
