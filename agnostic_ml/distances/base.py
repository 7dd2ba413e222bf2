"""BaseDistance: the contract every distance (and similarity) follows."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from .._component import Component
from .._array_api import floating_work_dtype, namespace_and_device, same_device, to_numpy, vector_norm
from .._checks import check_embeddings
from .._typing import Array
from .._validate import is_real


@dataclass(frozen=True)
class DistanceStats:
    """Average Lp norms of the inputs before and after normalisation (Python floats)."""

    initial_avg_query_norm: float
    initial_avg_ref_norm: float
    final_avg_query_norm: float
    final_avg_ref_norm: float


class BaseDistance(Component):
    """Base class of distances and similarities (PML's ``BaseDistance``).

    Parameters
    ----------
    normalize_embeddings : bool, default True
        L_p-normalise every row before computing the matrix (``x / max(||x||_p, 1e-12)``).
    p : float, default 2
        The norm used for normalisation (and, for :class:`LpDistance`, the distance).
    power : float, default 1
        The matrix is raised to this power.
    is_inverted : bool, default False
        True for similarities (larger = more similar).
    collect_stats : bool, default False
        When True, each call stores a :class:`DistanceStats` in ``self.stats`` (this costs
        a host sync; it is off by default).

    Notes
    -----
    Calling ``dist(query_emb, ref_emb=None)`` returns the ``(len(query), len(ref))``
    matrix in the embeddings' namespace, device and dtype. float16/bfloat16 inputs are
    computed in float32 and cast back.

    Subclasses implement ``compute_mat(q, r)`` and ``pairwise_distance(q, r)`` on
    already-normalised float32/float64 inputs, with ``xp`` taken from the arrays.
    """

    def __init__(
        self,
        normalize_embeddings: bool = True,
        p: float = 2,
        power: float = 1,
        is_inverted: bool = False,
        collect_stats: bool = False,
    ) -> None:
        super().__init__()
        if not is_real(p) or not p > 0:
            raise ValueError(f"p must be a positive number, got {p!r}")
        if not is_real(power):
            raise TypeError(f"power must be a number, got {power!r}")
        self.normalize_embeddings = bool(normalize_embeddings)
        self.p = p
        self.power = power
        self.is_inverted = bool(is_inverted)
        self.collect_stats = bool(collect_stats)
        self.stats: DistanceStats | None = None

    # -- the matrix -----------------------------------------------------------------
    def forward(self, query_emb: Array, ref_emb: Array | None = None) -> Array:
        xp, device = namespace_and_device(query_emb, ref_emb)
        self.check_shapes(query_emb, ref_emb)
        in_dtype = query_emb.dtype
        if ref_emb is not None:
            ref_device = namespace_and_device(ref_emb)[1]
            if not same_device(ref_device, device):
                raise ValueError(f"ref_emb is on device {ref_device} but query_emb is on {device}")
            # Mixed float dtypes promote (float32 query, float64 ref -> float64), as xp would.
            in_dtype = xp.result_type(query_emb.dtype, ref_emb.dtype)
        work = floating_work_dtype(in_dtype, xp=xp)
        q = query_emb if query_emb.dtype == work else xp.astype(query_emb, work)
        r = None
        if ref_emb is not None:
            r = ref_emb if ref_emb.dtype == work else xp.astype(ref_emb, work)
        qn = self.maybe_normalize(q)
        rn = qn if r is None else self.maybe_normalize(r)
        if self.collect_stats:
            self._record_stats(q, q if r is None else r, qn, rn, xp)
        mat = self.compute_mat(qn, rn)
        if self.power != 1:
            mat = mat**self.power
        return mat if mat.dtype == in_dtype else xp.astype(mat, in_dtype)

    def check_shapes(self, query_emb: Array, ref_emb: Array | None = None) -> None:
        """Raise unless the inputs have shapes :meth:`compute_mat` accepts (PML's hook).

        Default: 2-D arrays (batch, features) of a real floating dtype, and ``ref_emb`` with
        as many features as ``query_emb``. A subclass may override it (for instance to accept
        3-D embeddings); losses and miners call this method instead of checking shapes
        themselves, so the override is honoured everywhere.
        """
        check_embeddings(query_emb, "query_emb")
        if ref_emb is not None:
            check_embeddings(ref_emb, "ref_emb")
            if ref_emb.shape[1] != query_emb.shape[1]:
                raise ValueError(f"ref_emb has {ref_emb.shape[1]} features but query_emb has {query_emb.shape[1]}")

    def compute_mat(self, query_emb: Array, ref_emb: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def pairwise_distance(self, query_emb: Array, ref_emb: Array) -> Array:  # pragma: no cover
        """Row-wise values ``d(query_emb[i], ref_emb[i])``.

        As in PML, this neither normalises nor applies ``power``: it is the raw function
        that losses apply to rows they have already prepared.
        """
        raise NotImplementedError

    # -- helpers shared by miners and losses -----------------------------------------------
    def smallest_dist(self, x: Array, dim: Any = None, *, axis: int | None = None) -> Array:
        """The *most similar* values: min for distances, max for similarities.

        ``smallest_dist(x, dim=1)`` reduces along an axis (all axes when ``dim`` is None);
        ``smallest_dist(x, y)`` with a second array is elementwise (``xp.minimum`` /
        ``xp.maximum``), as PML's ``torch.min(x, y)`` form used by ``TripletMarginLoss(swap=True)``.

        Unlike PML (``torch.min(x, dim=1)`` returns ``(values, indices)``), the reducing form
        returns the values only; use ``argmin``/``argmax`` for indices.

        Examples
        --------
        >>> import numpy as np
        >>> from agnostic_ml.distances import CosineSimilarity, LpDistance
        >>> LpDistance().smallest_dist(np.array([[3.0, 1.0]]), dim=1), CosineSimilarity().smallest_dist(np.array([[3.0, 1.0]]), dim=1)
        (array([1.]), array([3.]))
        """
        return self._extreme(x, dim, axis, most_similar=True)

    def largest_dist(self, x: Array, dim: Any = None, *, axis: int | None = None) -> Array:
        """The *least similar* values: max for distances, min for similarities (see :meth:`smallest_dist`)."""
        return self._extreme(x, dim, axis, most_similar=False)

    def _extreme(self, x: Array, dim: Any, axis: int | None, *, most_similar: bool) -> Array:
        use_max = self.is_inverted == most_similar
        if not _is_axis(dim):  # elementwise form: f(x, y)
            if axis is not None:
                raise TypeError("smallest_dist/largest_dist(x, y) take no axis")
            xp, _ = namespace_and_device(x, dim)
            return xp.maximum(x, dim) if use_max else xp.minimum(x, dim)
        xp, _ = namespace_and_device(x)
        ax = dim if axis is None else axis
        return xp.max(x, axis=ax) if use_max else xp.min(x, axis=ax)

    def margin(self, x: Array, y: Array) -> Array:
        """How much farther ``x`` is than ``y``: ``x - y`` (distances) or ``y - x`` (similarities)."""
        return y - x if self.is_inverted else x - y

    def get_norm(self, embeddings: Array, dim: int = 1) -> Array:
        """Row-wise L_p norms."""
        xp, _ = namespace_and_device(embeddings)
        return vector_norm(embeddings, ord=self.p, axis=dim, xp=xp)

    def normalize(self, embeddings: Array, dim: int = 1) -> Array:
        """``x / max(||x||_p, 1e-12)`` along ``dim`` (torch's ``F.normalize``)."""
        xp, _ = namespace_and_device(embeddings)
        norm = vector_norm(embeddings, ord=self.p, axis=dim, keepdims=True, xp=xp)
        return embeddings / xp.clip(norm, min=1e-12)

    def maybe_normalize(self, embeddings: Array, dim: int = 1) -> Array:
        return self.normalize(embeddings, dim=dim) if self.normalize_embeddings else embeddings

    def _record_stats(self, q: Array, r: Array, qn: Array, rn: Array, xp: Any) -> None:
        vals = [float(to_numpy(xp.mean(self.get_norm(a)))) for a in (q, r, qn, rn)]
        self.stats = DistanceStats(*vals)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(normalize_embeddings={self.normalize_embeddings}, "
            f"p={self.p}, power={self.power})"
        )


def _is_axis(dim: Any) -> bool:
    if dim is None or isinstance(dim, tuple):
        return True
    try:
        operator.index(dim)
    except TypeError:
        return False
    return not hasattr(dim, "shape") or len(dim.shape) == 0
