"""Catalogue entries of the pair-loss family (GenericPairLoss and its neighbours).

AngularLoss is compared with PML on unit-norm inputs: PML leaves the negatives
un-normalised (a regression from PML 0.9), ours normalises them, and the two agree as
functions of the raw embeddings once both see ``normalize(x)``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")
pml_reducers = pytest.importorskip("pytorch_metric_learning.reducers")

from agnostic_ml_torch import distances, losses, reducers  # noqa: E402

from loss_case import LossCase  # noqa: E402


class UnitInputs(torch.nn.Module):
    """Calls a PML loss on L2-normalised embeddings and reference embeddings (in the graph)."""

    def __init__(self, loss: torch.nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None):
        norm = torch.nn.functional.normalize
        ref = None if ref_emb is None else norm(ref_emb)
        return self.loss(norm(embeddings), labels, indices_tuple, ref, ref_labels)


#: CircleLoss's weights relu(1 + m - s_p) and relu(s_n + m) are detached, as in PML (and the
#: paper); test_pair_losses.py gradchecks it with those weights held constant.
CIRCLE_GRAD = {"not_a_derivative": "the circle weights are detached (PML); see test_pair_losses.py"}

LOSSES = [
    LossCase(
        "angular",
        lambda: losses.AngularLoss(),
        lambda: UnitInputs(pml_losses.AngularLoss()),
        "pair",
        why="PML uses the raw reference rows as negatives (it normalises only anchors and positives); "
        "ours normalises them too, so PML is called on normalize(x), where both agree",
    ),
    LossCase(
        "angular_alpha_wide",
        lambda: losses.AngularLoss(alpha=85),
        lambda: UnitInputs(pml_losses.AngularLoss(alpha=85)),
        "pair",
        why="alpha = 85 degrees: exponents too wide for the GEMM form, the direct P x M path is used "
        "(PML is called on normalize(x), see 'angular')",
    ),
    LossCase("circle", lambda: losses.CircleLoss(), lambda: pml_losses.CircleLoss(), "pair", extra=CIRCLE_GRAD),
    LossCase(
        "circle_mean",
        lambda: losses.CircleLoss(m=0.25, gamma=256, reducer=reducers.MeanReducer()),
        lambda: pml_losses.CircleLoss(m=0.25, gamma=256, reducer=pml_reducers.MeanReducer()),
        "pair",
        extra=CIRCLE_GRAD,
    ),
    LossCase(
        "generalized_lifted",
        lambda: losses.GeneralizedLiftedStructureLoss(),
        lambda: pml_losses.GeneralizedLiftedStructureLoss(),
        "pair",
    ),
    LossCase(
        "generalized_lifted_cos",
        lambda: losses.GeneralizedLiftedStructureLoss(neg_margin=0.3, pos_margin=0.8, distance=distances.CosineSimilarity()),
        lambda: pml_losses.GeneralizedLiftedStructureLoss(
            neg_margin=0.3, pos_margin=0.8, distance=pml_distances.CosineSimilarity()
        ),
        "pair",
    ),
    LossCase("lifted", lambda: losses.LiftedStructureLoss(), lambda: pml_losses.LiftedStructureLoss(), "pair"),
    LossCase(
        "lifted_cos_sum",
        lambda: losses.LiftedStructureLoss(
            neg_margin=0.2, pos_margin=0.9, distance=distances.CosineSimilarity(), reducer=reducers.SumReducer()
        ),
        lambda: pml_losses.LiftedStructureLoss(
            neg_margin=0.2, pos_margin=0.9, distance=pml_distances.CosineSimilarity(), reducer=pml_reducers.SumReducer()
        ),
        "pair",
    ),
    LossCase("intra_pair_variance", lambda: losses.IntraPairVarianceLoss(), lambda: pml_losses.IntraPairVarianceLoss(), "pair"),
    LossCase(
        "intra_pair_variance_lp",
        lambda: losses.IntraPairVarianceLoss(pos_eps=0.05, neg_eps=0.1, distance=distances.LpDistance()),
        lambda: pml_losses.IntraPairVarianceLoss(pos_eps=0.05, neg_eps=0.1, distance=pml_distances.LpDistance()),
        "pair",
    ),
    LossCase("multi_similarity", lambda: losses.MultiSimilarityLoss(), lambda: pml_losses.MultiSimilarityLoss(), "pair"),
    LossCase(
        "multi_similarity_lp",
        lambda: losses.MultiSimilarityLoss(alpha=1, beta=20, base=0.8, distance=distances.LpDistance()),
        lambda: pml_losses.MultiSimilarityLoss(alpha=1, beta=20, base=0.8, distance=pml_distances.LpDistance()),
        "pair",
    ),
    LossCase("ntxent", lambda: losses.NTXentLoss(), lambda: pml_losses.NTXentLoss(), "pair"),
    LossCase(
        "ntxent_lp",
        lambda: losses.NTXentLoss(temperature=0.5, distance=distances.LpDistance(normalize_embeddings=False)),
        lambda: pml_losses.NTXentLoss(temperature=0.5, distance=pml_distances.LpDistance(normalize_embeddings=False)),
        "pair",
    ),
    LossCase("supcon", lambda: losses.SupConLoss(), lambda: pml_losses.SupConLoss(), "pair"),
    LossCase(
        "supcon_lp_mean",
        lambda: losses.SupConLoss(temperature=0.3, distance=distances.LpDistance(), reducer=reducers.MeanReducer()),
        lambda: pml_losses.SupConLoss(
            temperature=0.3, distance=pml_distances.LpDistance(), reducer=pml_reducers.MeanReducer()
        ),
        "pair",
    ),
    LossCase("tuplet_margin", lambda: losses.TupletMarginLoss(), lambda: pml_losses.TupletMarginLoss(), "pair"),
    LossCase(
        "tuplet_margin_small_scale",
        lambda: losses.TupletMarginLoss(margin=10, scale=16),
        lambda: pml_losses.TupletMarginLoss(margin=10, scale=16),
        "pair",
    ),
    LossCase(
        "snr_contrastive",
        lambda: losses.SignalToNoiseRatioContrastiveLoss(),
        lambda: pml_losses.SignalToNoiseRatioContrastiveLoss(),
        "pair",
    ),
    LossCase(
        "snr_contrastive_margins",
        lambda: losses.SignalToNoiseRatioContrastiveLoss(pos_margin=0.1, neg_margin=0.8, reducer=reducers.MeanReducer()),
        lambda: pml_losses.SignalToNoiseRatioContrastiveLoss(
            pos_margin=0.1, neg_margin=0.8, reducer=pml_reducers.MeanReducer()
        ),
        "pair",
    ),
]
