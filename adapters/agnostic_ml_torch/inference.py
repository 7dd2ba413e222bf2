"""Inference with a trained embedder: nearest neighbours and matches (PML's ``utils.inference``).

* :class:`InferenceModel` embeds inputs with ``trunk`` (+ ``embedder``), keeps a kNN index of
  reference embeddings (``train_knn`` / ``add_to_knn``), answers ``get_nearest_neighbors``,
  and decides matches with a :class:`MatchFinder`. By default the index is
  :class:`KNNIndex`: exact blocked search (:func:`agnostic_ml.accuracy.knn`, Euclidean, ties
  to the lower index) that needs no faiss. ``knn_func="faiss"`` (or ``FaissKNN(...)``) uses
  a faiss index instead, as PML's default does.
* :class:`MatchFinder` thresholds a distance (``d <= t``) or a similarity (``s >= t``).
* :class:`FaissKNN`, :class:`CustomKNN`, :class:`FaissKMeans`, :func:`run_pca`: PML's helpers
  of the same names; :func:`run_pca` and the testers' ``pca`` use scikit-learn, not faiss.

Differences from PML:

* Distances returned by the default index are Euclidean; faiss' (PML's default) are squared.
* ``MatchFinder.is_match`` normalises the rows (and applies ``power``) as the distance's
  matrix does, so ``is_match(x, y)`` agrees with ``get_matching_pairs``; PML's uses the raw
  ``pairwise_distance`` and disagrees for unnormalised inputs.
* Index files (``save_knn_func``) are written atomically.
* ``data_device=None`` means the trunk's device (PML: CUDA whenever it exists).

Examples
--------
>>> import torch
>>> from agnostic_ml_torch.inference import InferenceModel
>>> ref = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
>>> model = InferenceModel(torch.nn.Identity())
>>> model.train_knn(ref)
>>> distances, indices = model.get_nearest_neighbors(torch.tensor([[0.9, 0.2]]), k=2)
>>> indices.tolist()
[[0, 1]]
>>> model.is_match(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.1]]))
True
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np
import torch

from agnostic_ml._io import atomic_write_bytes
from agnostic_ml.accuracy import knn as _exact_knn

from . import distances as _distances
from ._checkpoint import load_state, save_state
from .utils import common_functions as c_f

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


# ---------------------------------------------------------------------------------------------
# PCA (scikit-learn; the testers' ``pca=``)
# ---------------------------------------------------------------------------------------------
class PCAProjection:
    """A fitted (optionally standard-scaled) PCA that maps tensors to tensors.

    Calling it on ``(M, D)`` embeddings returns ``(M, dim)`` in their dtype and device.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, components: np.ndarray, pca_mean: np.ndarray) -> None:
        self.mean, self.scale, self.components, self.pca_mean = mean, scale, components, pca_mean

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h = c_f.to_numpy(x).astype(np.float64)
        out = (((h - self.mean) / self.scale) - self.pca_mean) @ self.components.T
        return torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)


def fit_pca(x: torch.Tensor, dim: int, *, standardize: bool = False) -> PCAProjection:
    """Fit a ``dim``-component PCA on ``x`` (after standard scaling when ``standardize``).

    The scaling is PML's ``torch_standard_scaler`` (unbiased deviation; constant columns are
    left at 0 instead of NaN). The PCA is scikit-learn's exact SVD solver (faiss'
    ``PCAMatrix`` in PML; the projections agree up to the sign of each component, which no
    distance sees).
    """
    from sklearn.decomposition import PCA  # noqa: PLC0415

    h = c_f.to_numpy(x).astype(np.float64)
    if h.ndim != 2:
        raise ValueError(f"PCA needs (N, D) embeddings, got shape {h.shape}")
    n, d = h.shape
    if not 1 <= int(dim) <= min(n, d):
        raise ValueError(f"pca={dim} needs at least {dim} embeddings of at least {dim} dimensions; got {n} of {d}")
    mean = h.mean(axis=0) if standardize else np.zeros(d)
    scale = np.ones(d)
    if standardize and n > 1:
        std = h.std(axis=0, ddof=1)
        scale = np.where(std > 0, std, 1.0)
    pca = PCA(n_components=int(dim), svd_solver="full").fit((h - mean) / scale)
    return PCAProjection(mean, scale, pca.components_, pca.mean_)


def run_pca(x: torch.Tensor, output_dimensionality: int) -> torch.Tensor:
    """``x`` projected onto its first ``output_dimensionality`` principal components (PML's name)."""
    return fit_pca(x, output_dimensionality)(x)


# ---------------------------------------------------------------------------------------------
# kNN indexes
# ---------------------------------------------------------------------------------------------
def _as_tensor(x: Any) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x


class KNNIndex:
    """A kNN index of reference embeddings, searched exactly (the ``InferenceModel`` default).

    ``train(emb)`` replaces the references, ``add(emb)`` appends, ``reset()`` empties;
    ``index(query, k)`` returns ``(distances, indices)`` of the ``k`` nearest stored rows.
    Called with a ``reference`` it searches that instead (the ``knn_func`` protocol of
    ``AccuracyCalculator``), so it can serve both roles.

    Parameters
    ----------
    knn_func : callable, optional
        ``knn_func(query, k, reference, ref_includes_query) -> (distances, indices)``. Default:
        :func:`agnostic_ml.accuracy.knn` with ``distance`` (exact, blocked, ties to the lower index).
    distance : BaseDistance, optional
        For the default search; default Euclidean on the raw embeddings.
    block_size : int, optional
        Query rows per block of the default search.
    """

    def __init__(self, knn_func: Callable[..., Any] | None = None, distance: Any = None, block_size: int | None = None) -> None:
        if knn_func is not None and distance is not None:
            raise ValueError("give either knn_func or distance, not both")
        self.knn_func = knn_func
        self.distance = distance
        self.block_size = block_size
        self.reference: torch.Tensor | None = None

    def train(self, embeddings: Any) -> None:
        self.reference = _as_tensor(embeddings).detach()

    def add(self, embeddings: Any) -> None:
        emb = _as_tensor(embeddings).detach()
        if self.reference is None:
            self.reference = emb
        else:
            if emb.shape[1:] != self.reference.shape[1:]:
                raise ValueError(f"cannot add embeddings of shape {tuple(emb.shape)} to an index of {tuple(self.reference.shape)}")
            self.reference = torch.cat([self.reference, emb.to(self.reference.device)], dim=0)

    def reset(self) -> None:
        self.reference = None

    def __len__(self) -> int:
        return 0 if self.reference is None else int(self.reference.shape[0])

    def _search(self, query: torch.Tensor, k: int, reference: torch.Tensor, ref_includes_query: bool) -> tuple[Any, Any]:
        if self.knn_func is not None:
            return self.knn_func(query, k, reference, ref_includes_query)
        return _exact_knn(
            query, reference, k, distance=self.distance, ref_includes_query=ref_includes_query, block_size=self.block_size
        )

    def __call__(self, query: Any, k: int, reference: Any = None, ref_includes_query: bool = False) -> tuple[Any, Any]:
        query = _as_tensor(query)
        if reference is not None:
            return self._search(query, k, _as_tensor(reference), ref_includes_query)
        if self.reference is None:
            raise ValueError("the kNN index is empty: call train_knn (or add_to_knn) with reference embeddings first")
        if self.reference.device != query.device:
            self.reference = self.reference.to(query.device)
        return self._search(query, k, self.reference, ref_includes_query)

    def save(self, filename: str | os.PathLike) -> None:
        """Write the references to ``filename`` (atomically; loads with ``weights_only=True``)."""
        if self.reference is None:
            raise ValueError("the kNN index is empty: there is nothing to save")
        save_state({"kind": "agnostic_ml_torch.KNNIndex", "reference": self.reference.cpu()}, filename)

    def load(self, filename: str | os.PathLike) -> None:
        state = load_state(filename, map_location="cpu")
        if not (isinstance(state, Mapping) and state.get("kind") == "agnostic_ml_torch.KNNIndex"):
            raise ValueError(f"{os.fspath(filename)!r} is not a KNNIndex file (written by KNNIndex.save)")
        self.reference = state["reference"]

    def __repr__(self) -> str:
        return f"KNNIndex(n={len(self)}, knn_func={self.knn_func!r}, distance={self.distance!r})"


def _faiss() -> Any:
    try:
        import faiss  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            "FaissKNN / FaissKMeans need faiss: pip install faiss-cpu (the default KNNIndex needs no faiss)"
        ) from exc
    return faiss


def _drop_self(d: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove query ``q``'s own index from row ``q`` (or the last column where it is absent)."""
    n = i.shape[0]
    is_self = i == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    return d[keep].reshape(n, -1), i[keep].reshape(n, -1)


class FaissKNN:
    """PML's ``FaissKNN``: a faiss index, optionally kept between calls (faiss is optional).

    Parameters
    ----------
    reset_before, reset_after : bool
        Build a fresh index before each call / drop it after (PML's flags; the
        ``InferenceModel`` uses ``False, False`` so that ``train``/``add`` persist).
    index_init_fn : callable, optional
        ``dim -> index``; default ``faiss.IndexFlatL2`` (squared Euclidean distances).
    gpus : list of int, optional
        Put the index on these GPUs when faiss has GPU support.

    Notes
    -----
    Called as ``(query, k, reference=None, ref_includes_query=False)``: ``reference`` rows
    are added to the index, then the ``k`` nearest are searched (``k + 1`` with the query's
    own row removed when ``ref_includes_query``). Results are tensors on the query's device.
    """

    def __init__(self, reset_before: bool = True, reset_after: bool = True, index_init_fn: Any = None, gpus: Any = None) -> None:
        if gpus is not None:
            if not isinstance(gpus, (list, tuple)):
                raise TypeError("gpus must be a list")
            if len(gpus) < 1:
                raise ValueError("gpus must have length greater than 0")
        self.reset_before = reset_before
        self.reset_after = reset_after
        self.index_init_fn = index_init_fn
        self.gpus = gpus
        self.index: Any = None

    def _new_index(self, dim: int) -> Any:
        faiss = _faiss()
        index = (faiss.IndexFlatL2 if self.index_init_fn is None else self.index_init_fn)(dim)
        if self.gpus is not None and hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:
            index = faiss.index_cpu_to_gpus_list(index, gpus=list(self.gpus))
        return index

    @staticmethod
    def _host(x: Any) -> np.ndarray:
        return np.ascontiguousarray(c_f.to_numpy(x), dtype=np.float32)

    def __call__(self, query: Any, k: int, reference: Any = None, ref_includes_query: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        query = _as_tensor(query)
        kk = int(k) + int(bool(ref_includes_query))
        if self.reset_before:
            self.index = self._new_index(query.shape[1])
        if self.index is None:
            raise ValueError("self.index is None. It needs to be initialized before being used.")
        if reference is not None:
            self.index.add(self._host(reference))
        if kk > self.index.ntotal:
            raise ValueError(f"k={k} needs at least {kk} indexed rows; the index has {self.index.ntotal}")
        d, i = self.index.search(self._host(query), kk)
        if ref_includes_query:
            d, i = _drop_self(d, i)
        if self.reset_after:
            self.reset()
        return torch.from_numpy(np.ascontiguousarray(d)).to(query.device), torch.from_numpy(np.ascontiguousarray(i)).to(query.device)

    def train(self, embeddings: Any) -> None:
        x = self._host(embeddings)
        self.index = self._new_index(x.shape[1])
        if not self.index.is_trained:
            self.index.train(x)
        self.index.add(x)

    def add(self, embeddings: Any) -> None:
        if self.index is None:
            self.train(embeddings)
            return
        self.index.add(self._host(embeddings))

    def save(self, filename: str | os.PathLike) -> None:
        """Write the index with ``faiss.serialize_index``, atomically."""
        faiss = _faiss()
        index = self.index
        if index is None:
            raise ValueError("the faiss index is empty: there is nothing to save")
        if "Gpu" in type(index).__name__:
            index = faiss.index_gpu_to_cpu(index)
        atomic_write_bytes(filename, faiss.serialize_index(index).tobytes())

    def load(self, filename: str | os.PathLike) -> None:
        faiss = _faiss()
        try:
            self.index = faiss.read_index(os.fspath(filename))
        except RuntimeError as exc:
            raise ValueError(f"{os.fspath(filename)!r} is not a readable faiss index: {str(exc).splitlines()[0]}") from exc

    def reset(self) -> None:
        self.index = None


class CustomKNN:
    """PML's ``CustomKNN(distance, batch_size=None)``: exact kNN with any distance, in query blocks.

    Similarities (``distance.is_inverted``) return the largest values first. With
    ``ref_includes_query`` the query's own row is masked exactly (PML drops it only when it
    appears among the ``k + 1`` results).
    """

    def __init__(self, distance: Any, batch_size: int | None = None) -> None:
        self.distance = distance
        self.batch_size = batch_size

    def __call__(self, query: Any, k: int, reference: Any, ref_includes_query: bool = False) -> tuple[Any, Any]:
        return _exact_knn(
            query, reference, k, distance=self.distance, ref_includes_query=ref_includes_query, block_size=self.batch_size
        )


class FaissKMeans:
    """PML's ``FaissKMeans(**faiss_kwargs)``: ``(x, nmb_clusters) -> cluster ids`` with faiss (optional).

    The default ``kmeans_func`` of :class:`agnostic_ml.accuracy.AccuracyCalculator` is its own
    array-API ``KMeans``; this class is for users who want faiss' clustering.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __call__(self, x: Any, nmb_clusters: int) -> torch.Tensor:
        faiss = _faiss()
        device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
        h = np.ascontiguousarray(c_f.to_numpy(x), dtype=np.float32)
        kmeans = faiss.Kmeans(h.shape[1], int(nmb_clusters), **self.kwargs)
        kmeans.train(h)
        _, idx = kmeans.index.search(h, 1)
        return torch.from_numpy(idx[:, 0].astype(np.int64)).to(device)


# ---------------------------------------------------------------------------------------------
# matches
# ---------------------------------------------------------------------------------------------
class MatchFinder:
    """Pairs whose distance is at most ``threshold`` (similarity at least, when inverted).

    Parameters
    ----------
    distance : BaseDistance, optional
        Default ``CosineSimilarity()``.
    threshold : float, optional
        Default threshold of :meth:`get_matching_pairs` and :meth:`is_match`.
    """

    def __init__(self, distance: Any = None, threshold: float | None = None) -> None:
        self.distance = _distances.CosineSimilarity() if distance is None else distance
        self.threshold = threshold

    def _threshold(self, threshold: float | None) -> float:
        t = self.threshold if threshold is None else threshold
        if t is None:
            raise ValueError("no threshold: pass threshold= here or to MatchFinder(threshold=...)")
        return float(t)

    def _compare(self, values: torch.Tensor, t: float) -> torch.Tensor:
        return values >= t if self.distance.is_inverted else values <= t

    def get_matching_pairs(self, query_emb: Any, ref_emb: Any = None, threshold: float | None = None, return_tuples: bool = False) -> Any:
        """``(Q, R)`` boolean NumPy matrix of matches, or the list of ``(query, ref)`` index pairs."""
        t = self._threshold(threshold)
        with torch.no_grad():
            mat = self.distance(query_emb, query_emb if ref_emb is None else ref_emb)
            matches = c_f.to_numpy(self._compare(mat, t))
        if return_tuples:
            return [(int(a), int(b)) for a, b in zip(*np.nonzero(matches))]
        return matches

    def is_match(self, x: Any, y: Any, threshold: float | None = None) -> Any:
        """Whether row ``i`` of ``x`` matches row ``i`` of ``y``: a bool for one pair, else a NumPy array."""
        t = self._threshold(threshold)
        with torch.no_grad():
            dist = self.distance
            xn, yn = dist.maybe_normalize(x), dist.maybe_normalize(y)
            values = dist.pairwise_distance(xn, yn)
            if getattr(dist, "power", 1) != 1:
                values = values**dist.power
            out = self._compare(values, t)
        if out.numel() == 1:
            return bool(out.reshape(()).item())
        return c_f.to_numpy(out)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
class InferenceModel:
    """Embed with a trained model, then search and match (PML's ``InferenceModel``).

    Parameters
    ----------
    trunk : nn.Module
    embedder : nn.Module, optional
        Applied to the trunk's output; default identity.
    match_finder : MatchFinder, optional
        Default ``MatchFinder(CosineSimilarity(), threshold=0.9)`` (PML's).
    normalize_embeddings : bool, default True
        L2-normalise embeddings.
    knn_func : optional
        The index: default :class:`KNNIndex` (exact, no faiss); ``"faiss"`` for
        ``FaissKNN(reset_before=False, reset_after=False)`` (PML's default); an object with
        ``train``/``add`` (a faiss-style index); or a plain search function
        ``f(query, k, reference, ref_includes_query)`` (e.g. ``agnostic_ml.accuracy.ExactKNN()``),
        which is wrapped in a :class:`KNNIndex`.
    data_device : torch.device, optional
        Default: the trunk's device.
    dtype : torch.dtype, optional
        Cast inputs to it.

    Notes
    -----
    Inputs (``train_knn``, ``get_nearest_neighbors``, ...) are a tensor, a list of tensors or,
    for ``train_knn`` / ``add_to_knn``, a ``Dataset`` whose items are ``(input, label)``
    tuples, inputs, or ``{"data": input, ...}`` dicts.
    """

    def __init__(
        self,
        trunk: torch.nn.Module,
        embedder: torch.nn.Module | None = None,
        match_finder: MatchFinder | None = None,
        normalize_embeddings: bool = True,
        knn_func: Any = None,
        data_device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.trunk = trunk
        self.embedder = torch.nn.Identity() if embedder is None else embedder
        self.match_finder = MatchFinder(distance=_distances.CosineSimilarity(), threshold=0.9) if match_finder is None else match_finder
        if knn_func is None:
            knn_func = KNNIndex()
        elif isinstance(knn_func, str):
            if knn_func != "faiss":
                raise ValueError(f"knn_func must be None, 'faiss', an index or a search function, got {knn_func!r}")
            knn_func = FaissKNN(reset_before=False, reset_after=False)
        elif not (callable(getattr(knn_func, "train", None)) and callable(getattr(knn_func, "add", None))):
            if not callable(knn_func):
                raise TypeError(f"knn_func must be callable, got {knn_func!r}")
            knn_func = KNNIndex(knn_func=knn_func)
        self.knn_func = knn_func
        self.normalize_embeddings = bool(normalize_embeddings)
        self.data_device = data_device
        self.dtype = dtype

    def _device(self) -> torch.device:
        return torch.device(self.data_device) if self.data_device is not None else c_f.model_device(self.trunk, self.embedder)

    @staticmethod
    def process_if_list(x: Any) -> Any:
        if isinstance(x, list) and x and all(isinstance(x_, torch.Tensor) for x_ in x):
            return torch.stack(x)
        return x

    @staticmethod
    def _inputs_of(batch: Any) -> Any:
        if isinstance(batch, Mapping):
            return batch["data"]
        if isinstance(batch, (list, tuple)):
            return batch[0]
        return batch

    def get_embeddings(self, x: Any) -> torch.Tensor:
        """Embeddings of a batch (no gradients, models in eval mode)."""
        x = self.process_if_list(x)
        if isinstance(x, torch.Tensor):
            x = c_f.to_device(x, device=self._device(), dtype=self.dtype)
        self.trunk.eval()
        self.embedder.eval()
        with torch.no_grad():
            x_emb = self.embedder(self.trunk(x))
        if self.normalize_embeddings:
            x_emb = torch.nn.functional.normalize(x_emb, p=2, dim=1)
        return x_emb

    def get_embeddings_from_tensor_or_dataset(self, inputs: Any, batch_size: int) -> torch.Tensor:
        inputs = self.process_if_list(inputs)
        embeddings = []
        if isinstance(inputs, (torch.Tensor, list)):
            for i in range(0, len(inputs), batch_size):
                embeddings.append(self.get_embeddings(inputs[i : i + batch_size]))
        elif isinstance(inputs, torch.utils.data.Dataset):
            for batch in torch.utils.data.DataLoader(inputs, batch_size=batch_size):
                embeddings.append(self.get_embeddings(self._inputs_of(batch)))
        else:
            raise TypeError(f"Indexing {type(inputs)} is not supported.")
        if not embeddings:
            raise ValueError("there are no inputs to embed")
        return torch.cat(embeddings)

    def train_knn(self, inputs: Any, batch_size: int = 64) -> None:
        """Replace the index's references by the embeddings of ``inputs``."""
        self.knn_func.train(self.get_embeddings_from_tensor_or_dataset(inputs, batch_size))

    def add_to_knn(self, inputs: Any, batch_size: int = 64) -> None:
        """Append the embeddings of ``inputs`` to the index."""
        self.knn_func.add(self.get_embeddings_from_tensor_or_dataset(inputs, batch_size))

    def get_nearest_neighbors(self, query: Any, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(distances, indices)`` of the ``k`` nearest indexed references of each query row."""
        return self.knn_func(self.get_embeddings(query), k)

    def get_matches(self, query: Any, ref: Any = None, threshold: float | None = None, return_tuples: bool = False) -> Any:
        """Matches between ``query`` and ``ref`` (or ``query`` itself); see :meth:`MatchFinder.get_matching_pairs`."""
        query_emb = self.get_embeddings(query)
        ref_emb = query_emb if ref is None else self.get_embeddings(ref)
        return self.match_finder.get_matching_pairs(query_emb, ref_emb, threshold, return_tuples)

    def is_match(self, x: Any, y: Any, threshold: float | None = None) -> Any:
        """Whether ``x[i]`` and ``y[i]`` match; see :meth:`MatchFinder.is_match`."""
        return self.match_finder.is_match(self.get_embeddings(x), self.get_embeddings(y), threshold)

    def save_knn_func(self, filename: str | os.PathLike) -> None:
        self.knn_func.save(filename)

    def load_knn_func(self, filename: str | os.PathLike) -> None:
        self.knn_func.load(filename)
