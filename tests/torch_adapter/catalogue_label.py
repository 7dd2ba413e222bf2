"""Catalogue entries of the label-based losses (issue 8, family "label").

MarginLoss, NCALoss, FastAPLoss, HistogramLoss, PNPLoss (every variant), RankedListLoss,
DynamicSoftMarginLoss, ThresholdConsistentMarginLoss, InstanceLoss, NPairsLoss and
SmoothAPLoss. Collected by ``loss_catalogue.py``; their specific tests (memory bounds, the
PML bugs fixed, state, streamed vs listed paths) are in ``test_label_losses.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")

from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

from loss_case import N, LossCase  # noqa: E402


def balanced_blocks(n: int) -> np.ndarray:
    """Labels sorted into equal classes: ``k`` classes of ``n // k`` rows, ``k`` the largest divisor <= sqrt(n).

    For a square ``n`` (16) there are as many classes as rows per class, the only layout
    where PML's SmoothAPLoss groups the positives correctly.
    """
    k = max(d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0)
    return np.repeat(np.arange(k), n // k)


#: Losses that turn a tuple into per-sample weights (an empty tuple weighs every sample 1, as PML).
_WEIGHTED = {"miner_weighted": True}
_SMOOTH_AP = {"labels": balanced_blocks, "n": 16, **_WEIGHTED}
#: A running histogram: gradcheck evaluates it from the same state each time.
_STATEFUL = {"stateful": True}

LOSSES = [
    # -- MarginLoss -------------------------------------------------------------------------
    LossCase("margin", lambda: losses.MarginLoss(), lambda: pml_losses.MarginLoss(), "triplet"),
    LossCase(
        "margin_learn_beta",
        lambda: losses.MarginLoss(margin=0.1, nu=0.1, beta=1.0, learn_beta=True),
        lambda: pml_losses.MarginLoss(margin=0.1, nu=0.1, beta=1.0, learn_beta=True),
        "triplet",
        learnable=True,
    ),
    LossCase(
        # num_classes = N so that every label of the contract tests' batches indexes a beta.
        "margin_learn_beta_per_class",
        lambda: losses.MarginLoss(nu=0.05, learn_beta=True, num_classes=N),
        lambda: pml_losses.MarginLoss(nu=0.05, learn_beta=True, num_classes=N),
        "triplet",
        learnable=True,
    ),
    LossCase(
        "margin_cos_mean",
        lambda: losses.MarginLoss(margin=0.1, beta=0.3, distance=distances.CosineSimilarity(), reducer=reducers.MeanReducer()),
        lambda: pml_losses.MarginLoss(
            margin=0.1, beta=0.3, distance=pml_distances.CosineSimilarity(), reducer=pml_reducers.MeanReducer()
        ),
        "triplet",
    ),
    # -- NCA, FastAP, Histogram ------------------------------------------------------------------
    LossCase("nca", lambda: losses.NCALoss(), lambda: pml_losses.NCALoss(), "label", extra=_WEIGHTED),
    LossCase(
        "nca_cos_scale",
        lambda: losses.NCALoss(softmax_scale=5, distance=distances.CosineSimilarity()),
        lambda: pml_losses.NCALoss(softmax_scale=5, distance=pml_distances.CosineSimilarity()),
        "label",
        extra=_WEIGHTED,
    ),
    LossCase("fast_ap", lambda: losses.FastAPLoss(), lambda: pml_losses.FastAPLoss(), "label", ref=False, extra=_WEIGHTED),
    LossCase(
        "fast_ap_power1", lambda: losses.FastAPLoss(num_bins=6, distance=distances.LpDistance(power=1)),
        lambda: pml_losses.FastAPLoss(num_bins=6, distance=pml_distances.LpDistance(power=1)), "label", ref=False,
        extra=_WEIGHTED,
    ),
    LossCase(
        "histogram",
        lambda: losses.HistogramLoss(),
        lambda: pml_losses.HistogramLoss(),
        "triplet",
        ref=False,
        rtol=1e-4,
        why="PML computes the bin nodes r * delta in float32 (a long tensor times a Python float), "
        "about 1e-7 off in float64; ours are exact. PML also crashes on similarity 1 (test_label_losses.py)",
    ),
    LossCase(
        "histogram_10_bins", lambda: losses.HistogramLoss(n_bins=10), lambda: pml_losses.HistogramLoss(n_bins=10),
        "triplet", ref=False, rtol=1e-5, why="as 'histogram'",
    ),
    # -- ranking losses ---------------------------------------------------------------------------
    *[
        LossCase(
            f"pnp_{v}",
            (lambda v=v: losses.PNPLoss(variant=v, anneal=0.1)),
            (lambda v=v: pml_losses.PNPLoss(variant=v, anneal=0.1)),
            "label",
            tuples=False,
            ref=False,
        )
        for v in ("O", "Ds", "Dq", "Iu", "Ib")
    ],
    LossCase("pnp_default", lambda: losses.PNPLoss(), lambda: pml_losses.PNPLoss(), "label", tuples=False, ref=False),
    LossCase(
        "ranked_list",
        lambda: losses.RankedListLoss(margin=0.4, Tn=1),
        lambda: pml_losses.RankedListLoss(margin=0.4, Tn=1),
        "label",
        tuples=False,
        ref=False,
    ),
    LossCase(
        "ranked_list_weighted",
        lambda: losses.RankedListLoss(margin=0.2, Tn=2, Tp=1, imbalance=0.3, alpha=1.1),
        lambda: pml_losses.RankedListLoss(margin=0.2, Tn=2, Tp=1, imbalance=0.3, alpha=1.1),
        "label",
        tuples=False,
        ref=False,
    ),
    LossCase(
        "smooth_ap",
        lambda: losses.SmoothAPLoss(temperature=0.1),
        lambda: pml_losses.SmoothAPLoss(temperature=0.1),
        "label",
        ref=False,
        rtol=1e-5,
        why="PML accumulates the APs in a float32 tensor; it also needs a batch sorted into as many classes as rows "
        "per class (its grouping bug, test_label_losses.py), hence the 16-row block batch",
        extra=_SMOOTH_AP,
    ),
    LossCase(
        "smooth_ap_default", lambda: losses.SmoothAPLoss(), lambda: pml_losses.SmoothAPLoss(), "label", ref=False,
        rtol=1e-5, why="as 'smooth_ap'", extra=_SMOOTH_AP,
    ),
    # -- the rest ------------------------------------------------------------------------------
    LossCase(
        "dynamic_soft_margin",
        lambda: losses.DynamicSoftMarginLoss(),
        lambda: pml_losses.DynamicSoftMarginLoss(),
        "triplet",
        labels=False,
        extra=_STATEFUL,
    ),
    LossCase(
        "dynamic_soft_margin_bins",
        lambda: losses.DynamicSoftMarginLoss(min_val=-1.5, num_bins=25, momentum=0.1),
        lambda: pml_losses.DynamicSoftMarginLoss(min_val=-1.5, num_bins=25, momentum=0.1),
        "triplet",
        labels=False,
        extra=_STATEFUL,
    ),
    LossCase(
        "threshold_consistent_margin",
        lambda: losses.ThresholdConsistentMarginLoss(),
        lambda: pml_losses.ThresholdConsistentMarginLoss(),
        "pair",
        pml_ref=False,
        why="PML reads positives and negatives from embeddings with reference indices, so ref_emb raises (PML#748)",
    ),
    LossCase(
        "threshold_consistent_margin_tight",
        lambda: losses.ThresholdConsistentMarginLoss(lambda_plus=0.5, lambda_minus=2, margin_plus=0.5, margin_minus=0.1),
        lambda: pml_losses.ThresholdConsistentMarginLoss(lambda_plus=0.5, lambda_minus=2, margin_plus=0.5, margin_minus=0.1),
        "pair",
        pml_ref=False,
        why="as 'threshold_consistent_margin'",
    ),
    LossCase("instance", lambda: losses.InstanceLoss(), lambda: pml_losses.InstanceLoss(), "label", tuples=False, ref=False),
    LossCase(
        "instance_gamma", lambda: losses.InstanceLoss(gamma=8), lambda: pml_losses.InstanceLoss(gamma=8), "label",
        tuples=False, ref=False,
    ),
    LossCase("n_pairs", lambda: losses.NPairsLoss(), lambda: pml_losses.NPairsLoss(), "pair", ref=False),
    LossCase(
        "n_pairs_lp", lambda: losses.NPairsLoss(distance=distances.LpDistance()),
        lambda: pml_losses.NPairsLoss(distance=pml_distances.LpDistance()), "pair", ref=False,
    ),
]
