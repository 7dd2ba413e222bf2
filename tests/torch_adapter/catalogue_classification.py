"""Catalogue entries of the classification family: losses with class weights or proxies.

LargeMarginSoftmax, SphereFace, ArcFace, CosFace, SubCenterArcFace, NormalizedSoftmax,
ProxyNCA, ProxyAnchor, SoftTriple, P2SGrad and ManifoldLoss. Every one is learnable (PML's
weights are loaded into ours before comparing), none takes a separate ``ref_emb``; the
miner-weighted ones accept pair and triplet miner outputs (PML's ``convert_to_weights``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")
pml_regularizers = pytest.importorskip("pytorch_metric_learning.regularizers")

from agnostic_ml_torch import distances, losses, reducers, regularizers  # noqa: E402

from loss_case import C, D, LossCase  # noqa: E402

#: ManifoldLoss's number of proxies in the catalogue (its meta classes are ``arange(N) % K``).
MANIFOLD_K = 4


def _classification(name, ours, pml, **kw):
    return LossCase(name, ours, pml, "classification", learnable=True, ref=False, **kw)


def _manifold_call(loss, x, y, tup=None, r=None, ry=None):
    """ManifoldLoss takes no labels; its indices_tuple is the meta class (proxy) of each embedding."""
    return loss(x, indices_tuple=torch.arange(x.shape[0]) % MANIFOLD_K)


LOSSES = [
    _classification(
        "large_margin_softmax",
        lambda: losses.LargeMarginSoftmaxLoss(C, D),
        lambda: pml_losses.LargeMarginSoftmaxLoss(C, D),
    ),
    _classification(
        "large_margin_softmax_m3_scaled_sum",
        lambda: losses.LargeMarginSoftmaxLoss(num_classes=C, embedding_size=D, margin=3, scale=2, reducer=reducers.SumReducer()),
        lambda: pml_losses.LargeMarginSoftmaxLoss(
            num_classes=C, embedding_size=D, margin=3, scale=2, reducer=pml_reducers.SumReducer()
        ),
    ),
    _classification("sphereface", lambda: losses.SphereFaceLoss(C, D), lambda: pml_losses.SphereFaceLoss(C, D)),
    _classification("arcface", lambda: losses.ArcFaceLoss(C, D), lambda: pml_losses.ArcFaceLoss(C, D)),
    _classification(
        "arcface_regularface_lp_embeddings",
        lambda: losses.ArcFaceLoss(
            C,
            D,
            margin=40,
            scale=16,
            weight_regularizer=regularizers.RegularFaceRegularizer(),
            weight_reg_weight=0.5,
            embedding_regularizer=regularizers.LpRegularizer(),
            embedding_reg_weight=0.1,
        ),
        lambda: pml_losses.ArcFaceLoss(
            C,
            D,
            margin=40,
            scale=16,
            weight_regularizer=pml_regularizers.RegularFaceRegularizer(),
            weight_reg_weight=0.5,
            embedding_regularizer=pml_regularizers.LpRegularizer(),
            embedding_reg_weight=0.1,
        ),
    ),
    _classification("cosface", lambda: losses.CosFaceLoss(C, D), lambda: pml_losses.CosFaceLoss(C, D)),
    _classification(
        "subcenter_arcface",
        lambda: losses.SubCenterArcFaceLoss(num_classes=C, embedding_size=D),
        lambda: pml_losses.SubCenterArcFaceLoss(num_classes=C, embedding_size=D),
        why="get_outliers(return_dominant_centers=False) returns the outliers alone (PML: the tuple, a precedence slip)",
    ),
    _classification(
        "subcenter_arcface_kwargs",
        lambda: losses.SubCenterArcFaceLoss(
            num_classes=C,
            embedding_size=D,
            sub_centers=2,
            scale=10,
            reducer=reducers.SumReducer(),
            weight_regularizer=regularizers.CenterInvariantRegularizer(),
        ),
        lambda: pml_losses.SubCenterArcFaceLoss(
            num_classes=C,
            embedding_size=D,
            sub_centers=2,
            scale=10,
            reducer=pml_reducers.SumReducer(),
            weight_regularizer=pml_regularizers.CenterInvariantRegularizer(),
        ),
    ),
    _classification(
        "normalized_softmax", lambda: losses.NormalizedSoftmaxLoss(C, D), lambda: pml_losses.NormalizedSoftmaxLoss(C, D)
    ),
    _classification(
        "normalized_softmax_lp_distance",
        lambda: losses.NormalizedSoftmaxLoss(C, D, temperature=0.3, distance=distances.LpDistance()),
        lambda: pml_losses.NormalizedSoftmaxLoss(C, D, temperature=0.3, distance=pml_distances.LpDistance()),
    ),
    _classification(
        "proxy_nca",
        lambda: losses.ProxyNCALoss(C, D),
        lambda: pml_losses.ProxyNCALoss(C, D),
        why="PML drops samples whose softmax probability underflows to 0 (not reached here); ours keeps them (log-softmax)",
    ),
    _classification(
        "proxy_nca_cos_scaled_zero_mean",
        lambda: losses.ProxyNCALoss(
            C, D, softmax_scale=4, distance=distances.CosineSimilarity(), weight_regularizer=regularizers.ZeroMeanRegularizer()
        ),
        lambda: pml_losses.ProxyNCALoss(
            C,
            D,
            softmax_scale=4,
            distance=pml_distances.CosineSimilarity(),
            weight_regularizer=pml_regularizers.ZeroMeanRegularizer(),
        ),
    ),
    _classification("proxy_anchor", lambda: losses.ProxyAnchorLoss(C, D), lambda: pml_losses.ProxyAnchorLoss(C, D)),
    _classification(
        "proxy_anchor_mean_lp",
        lambda: losses.ProxyAnchorLoss(
            C, D, margin=0.2, alpha=8, reducer=reducers.MeanReducer(), weight_regularizer=regularizers.LpRegularizer()
        ),
        lambda: pml_losses.ProxyAnchorLoss(
            C, D, margin=0.2, alpha=8, reducer=pml_reducers.MeanReducer(), weight_regularizer=pml_regularizers.LpRegularizer()
        ),
    ),
    _classification(
        "soft_triple",
        lambda: losses.SoftTripleLoss(C, D, centers_per_class=3),
        lambda: pml_losses.SoftTripleLoss(C, D, centers_per_class=3),
    ),
    _classification(
        "soft_triple_sparse_centers",
        lambda: losses.SoftTripleLoss(
            C,
            D,
            centers_per_class=3,
            la=10,
            gamma=0.2,
            margin=0.05,
            weight_regularizer=regularizers.SparseCentersRegularizer(C, 3),
            weight_reg_weight=0.2,
        ),
        lambda: pml_losses.SoftTripleLoss(
            C,
            D,
            centers_per_class=3,
            la=10,
            gamma=0.2,
            margin=0.05,
            weight_regularizer=pml_regularizers.SparseCentersRegularizer(C, 3),
            weight_reg_weight=0.2,
        ),
    ),
    _classification(
        "p2sgrad",
        lambda: losses.P2SGradLoss(D, C),
        lambda: pml_losses.P2SGradLoss(D, C),
        tuples=False,
        why="PML casts weight to the embeddings' dtype in place (PML#309); ours keeps it float32; an empty batch: ours 0, PML nan",
    ),
    LossCase(
        "manifold",
        lambda: losses.ManifoldLoss(l=D, K=MANIFOLD_K),
        lambda: pml_losses.ManifoldLoss(l=D, K=MANIFOLD_K),
        "unsupervised",
        learnable=True,
        tuples=False,
        ref=False,
        labels=False,
        why="PML inverts in float32 for float64 inputs, ours in float64; lambdaC=inf: ours the context loss, PML inf/NaN; no embeddings: ours 0, PML nan",
        extra={"call": _manifold_call},
    ),
    LossCase(
        "manifold_lambda3_alpha06",
        lambda: losses.ManifoldLoss(l=D, K=MANIFOLD_K, lambdaC=3.0, alpha=0.6, margin=0.01),
        lambda: pml_losses.ManifoldLoss(l=D, K=MANIFOLD_K, lambdaC=3.0, alpha=0.6, margin=0.01),
        "unsupervised",
        learnable=True,
        tuples=False,
        ref=False,
        labels=False,
        extra={"call": _manifold_call},
    ),
]
