"""ManifoldLoss: ensemble deep manifold similarity with learnable proxies (random-walk similarities)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._array_api import eye_mask, from_host_indices, index_dtype, namespace_and_device, to_numpy
from .._array_api import inv
from .._checks import prepare_indices
from ..distances import BaseDistance, CosineSimilarity
from .._random import as_generator
from ._classification import check_feature_size, check_positive_int, one_hot, take_target, to_work_dtype
from ._inputs import check_loss_inputs
from .base import BaseMetricLossFunction

Array = Any

__all__ = ["ManifoldLoss", "manifold_losses", "manifold_similarity"]


def manifold_similarity(sim: Array, alpha: float) -> Array:
    """The random-walk (manifold) similarity ``F = (1 - alpha) (I - alpha S_bar)^-1``.

    ``sim`` is the ``(n, n)`` similarity of the nodes (embeddings and proxies);
    ``S = exp(max(sim, 0) / 0.5)`` with a zero diagonal, ``S_bar = D^-1/2 S D^-1/2`` with
    ``D`` its row sums. The inverse is taken in ``sim``'s dtype (float32 or wider), through
    ``xp.linalg.inv`` or a pure-standard Gauss-Jordan fallback
    (:func:`agnostic_ml._array_api_linalg.inv`). O(n^2) memory, O(n^3) time.

    Examples
    --------
    >>> import numpy as np
    >>> F = manifold_similarity(np.array([[1.0, 0.0], [0.0, 1.0]]), 0.5)
    >>> F.round(4).tolist()
    [[0.6667, 0.3333], [0.3333, 0.6667]]
    """
    xp, device = namespace_and_device(sim)
    n = sim.shape[0]
    s = xp.exp(xp.clip(sim, 0, None) / 0.5)
    eye = eye_mask(n, n, xp=xp, device=device)
    s = xp.where(eye, xp.zeros_like(s), s)
    d_inv_half = xp.sum(s, axis=1) ** -0.5
    s_bar = s * xp.expand_dims(d_inv_half, axis=1) * xp.expand_dims(d_inv_half, axis=0)
    identity = xp.astype(eye, s.dtype)
    return (1 - alpha) * inv(identity - alpha * s_bar)


def _hinge_log_terms(x: Array, own: Array) -> Array:
    """``mean_i log(1 + sum_{j != own_i, x_ij >= 0} exp(x_ij))`` (PML masks the rest with -inf)."""
    xp, _ = namespace_and_device(x)
    keep = xp.logical_and(x >= 0, xp.logical_not(own))
    zero = xp.zeros_like(x)
    terms = xp.where(keep, xp.exp(xp.where(keep, x, zero)), zero)
    # sum / rows rather than mean: no embeddings give 0 (nothing to compute), not PML's nan.
    return xp.sum(xp.log1p(xp.sum(terms, axis=1))) / max(x.shape[0], 1)


def manifold_losses(F: Array, n: int, meta_classes: Array, margin: float, lambdaC: float) -> Array:
    """The manifold loss ``loss_int + lambdaC * loss_ctx`` from the ``(n + K, n + K)`` manifold similarity ``F``.

    With ``m_i`` the meta-class (proxy) of embedding ``i``:
    ``loss_int = mean_i log(1 + sum_{k != m_i} [x_ik >= 0] exp(x_ik))``,
    ``x_ik = F[i, n + k] - F[i, n + m_i] + margin`` (intrinsic: the embedding's manifold
    similarity to the other proxies must stay ``margin`` below that to its own), and
    ``loss_ctx`` the same with ``F[i, n + k]`` replaced by the cosine between row ``i`` of
    ``F`` and row ``n + k`` (context: whole similarity profiles). ``lambdaC = inf`` gives
    ``loss_ctx`` alone, ``lambdaC = 0`` ``loss_int`` alone.

    Examples
    --------
    >>> import numpy as np
    >>> F = np.array([[1.0, 0.2, 0.9, 0.1], [0.2, 1.0, 0.1, 0.8], [0.9, 0.1, 1.0, 0.0], [0.1, 0.8, 0.0, 1.0]])
    >>> round(float(manifold_losses(F, 2, np.array([0, 1]), 0.0, 1.0)), 4)
    0.0
    """
    xp, _ = namespace_and_device(F)
    k = F.shape[0] - n
    own = one_hot(meta_classes, k, F)
    total = None
    if lambdaC != math.inf:
        f_int = F[:n, n:]
        x = f_int - xp.expand_dims(take_target(f_int, meta_classes), axis=1) + margin
        total = _hinge_log_terms(x, own)
    if lambdaC != 0:
        f_e, f_p = F[:n, :], F[n:, :]
        eps = 1e-8  # torch.nn.functional.cosine_similarity's
        e_hat = f_e / xp.clip(xp.sqrt(xp.sum(f_e * f_e, axis=1, keepdims=True)), eps, None)
        p_hat = f_p / xp.clip(xp.sqrt(xp.sum(f_p * f_p, axis=1, keepdims=True)), eps, None)
        ctx = to_work_dtype(xp.matmul(e_hat, xp.matrix_transpose(p_hat)))
        if ctx.dtype != F.dtype:
            ctx = xp.astype(ctx, F.dtype)
        x = ctx - xp.expand_dims(take_target(ctx, meta_classes), axis=1) + margin
        loss_ctx = _hinge_log_terms(x, own)
        if lambdaC == math.inf:
            return loss_ctx
        total = total + lambdaC * loss_ctx
    return total


class ManifoldLoss(BaseMetricLossFunction):
    """Ensemble deep manifold similarity (Aziere & Todorovic 2019), PML's ``ManifoldLoss(l, K=50, lambdaC=1.0, alpha=0.8, margin=5e-4)``.

    ``K`` learnable proxies of size ``l`` (``proxies``, shape ``(K, l)``, standard normal
    init as PML's ``torch.randn``) join the batch as graph nodes; the manifold similarity
    ``F`` of the ``N + K`` nodes (:func:`manifold_similarity`: a random walk with restart
    ``alpha``, one ``(N + K)^2`` matrix inverse) gives the loss :func:`manifold_losses`.
    https://openaccess.thecvf.com/content_CVPR_2019/papers/Aziere_Ensemble_Deep_Manifold_Similarity_Learning_Using_Hard_Proxies_CVPR_2019_paper.pdf

    The loss is unsupervised: ``labels`` and ``ref_emb`` are refused (``ValueError``, as
    PML). ``indices_tuple`` is *not* a miner's tuple here but PML's meta-class
    assignment: a 1-D integer array of length N with values in ``[0, K)`` (the proxy of
    each embedding). Without it, every proxy gets at least one embedding and the rest are
    drawn uniformly, from ``rng`` (PML uses torch's global generator); that needs
    ``N >= K``.

    Parameters
    ----------
    l : int
        The embedding size.
    K : int, default 50
        The number of proxies.
    lambdaC : float, default 1.0
        Weight of the context loss (``>= 0``; ``inf``: the context loss alone).
    alpha : float, default 0.8
        The random walk's propagation weight, in ``(0, 1)``.
    margin : float, default 5e-4
    rng : numpy.random.Generator, int or None
        Draws the meta classes when no ``indices_tuple`` is given.
    **kwargs
        ``distance`` (default :class:`CosineSimilarity`), ``reducer``, ...

    Notes
    -----
    Differences from PML: PML always inverts in float32 (its ``.float()`` before
    ``torch.inverse``, a float16 workaround), losing float64 precision; here the inverse
    is taken in the working dtype (float32 for float16/bfloat16 and float32 inputs,
    float64 for float64). ``lambdaC = inf`` gives the context loss (PML computes
    ``0 + inf * loss_ctx``: inf or NaN). Errors name ``l``, ``K`` and ``indices_tuple``
    instead of PML's bare ``assert`` and IndexError.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ManifoldLoss
    >>> loss = ManifoldLoss(l=2, K=2, margin=0.1)
    >>> loss.proxies = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    >>> emb = np.array([[1.0, 0.1], [0.1, 1.0], [0.9, 0.0]])
    >>> round(float(loss(emb, indices_tuple=np.array([0, 1, 0]))), 4)
    0.4653
    """

    _learnable = ("proxies",)

    def __init__(
        self,
        l: int,  # noqa: E741 - PML's name
        K: int = 50,
        lambdaC: float = 1.0,
        alpha: float = 0.8,
        margin: float = 5e-4,
        rng: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if lambdaC < 0:
            raise ValueError(
                f"Incorrect value for lambdaC argument. Given lambdaC={lambdaC} but accepted only non-negative values"
            )
        self.K = check_positive_int(K, "K", owner)
        self.l = check_positive_int(l, "l", owner)
        self.lambdaC = lambdaC
        self.alpha = alpha
        self.margin = margin
        self.rng = as_generator(rng)
        self.proxies = self.new_parameter((self.K, self.l), "normal")

    def get_default_distance(self) -> BaseDistance:
        return CosineSimilarity()

    def forward(
        self,
        embeddings: Array,
        labels: Any = None,
        indices_tuple: Any = None,
        ref_emb: Array | None = None,
        ref_labels: Any = None,
    ) -> Array:
        self.stats = {}
        embeddings, _, _, _ = check_loss_inputs(
            embeddings, None, None, None, distance=self.distance, check_finite=self.check_finite, where="ManifoldLoss"
        )
        if ref_emb is not None or ref_labels is not None:
            raise ValueError("ref_emb is not supported by ManifoldLoss")
        if labels is not None:
            raise ValueError("labels are not supported by ManifoldLoss (pass meta classes as indices_tuple, or nothing)")
        meta_classes = self.meta_classes(embeddings, indices_tuple)
        loss_dict = self.compute_loss(embeddings, None, meta_classes, embeddings, None)
        self.add_embedding_regularization_to_loss_dict(loss_dict, embeddings)
        return self.reducer(loss_dict, embeddings, None)

    def meta_classes(self, embeddings: Array, indices_tuple: Any = None) -> Array:
        """The proxy of each embedding: ``indices_tuple`` checked, or drawn from ``rng``."""
        xp, device = namespace_and_device(embeddings)
        n = embeddings.shape[0]
        if indices_tuple is None:
            if n < self.K:
                raise ValueError(
                    f"ManifoldLoss with K={self.K} proxies needs at least K embeddings to draw meta classes, got {n}; "
                    "pass the meta classes as indices_tuple or use a smaller K"
                )
            extra = self.rng.integers(0, self.K, n - self.K)
            host = self.rng.permutation(np.concatenate([np.arange(self.K), extra]))
            return from_host_indices(host, xp, device)
        if isinstance(indices_tuple, (tuple, list)) and len(indices_tuple) in (3, 4) and hasattr(indices_tuple[0], "shape"):
            raise ValueError(
                "indices_tuple of ManifoldLoss holds the meta class (proxy id) of each embedding, a 1-D integer "
                "array of length N; a miner's tuple is not supported"
            )
        meta = prepare_indices(indices_tuple, xp=xp, device=device, name="indices_tuple (meta classes)")
        if meta.shape[0] != n:
            raise ValueError(f"indices_tuple (meta classes) has length {meta.shape[0]} but there are {n} embeddings")
        if n:
            lo, hi = (int(v) for v in to_numpy(xp.stack([xp.min(meta), xp.max(meta)])))
            if lo < 0 or hi >= self.K:
                raise ValueError(f"indices_tuple (meta classes) holds values in [{lo}, {hi}] but must be in [0, K={self.K})")
        return meta if meta.dtype == index_dtype(xp, device) else xp.astype(meta, index_dtype(xp, device))

    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        check_feature_size(self, embeddings, self.proxies.shape[1], name="l")
        xp, _ = namespace_and_device(embeddings)
        n = embeddings.shape[0]
        proxies = self.param_like(self.proxies, embeddings)
        emb = embeddings if embeddings.dtype == proxies.dtype else xp.astype(embeddings, proxies.dtype)
        nodes = xp.concat([emb, proxies], axis=0)
        sim = to_work_dtype(self.distance(nodes, nodes))
        F = manifold_similarity(sim, self.alpha)
        loss = manifold_losses(F, n, indices_tuple, self.margin, self.lambdaC)
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}
