"""Losses: PML's metric losses on any array-API backend (one file per family).

Every loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace and device
(differentiable when they are torch tensors). Each family module also exposes its formula
as a function of distances, indices and parameters. The ``nn.Module`` versions (with
``nn.Parameter`` weights) are in ``agnostic_ml_torch.losses``.
"""

from .angular import AngularLoss, angular_losses
from .base import BaseMetricLossFunction, EmbeddingRegularizerMixin, WeightMixin, WeightRegularizerMixin
from .circle import CircleLoss, circle_losses
from .contrastive import ContrastiveLoss, contrastive_neg_loss, contrastive_pos_loss
from .generic_pair import GenericPairLoss
from .intra_pair_variance import IntraPairVarianceLoss, intra_pair_variance_losses
from .lifted_structure import (
    GeneralizedLiftedStructureLoss,
    LiftedStructureLoss,
    generalized_lifted_structure_losses,
    lifted_structure_losses,
)
from .multi_similarity import MultiSimilarityLoss, multi_similarity_losses
from .ntxent import NTXentLoss, ntxent_losses
from .snr_contrastive import SignalToNoiseRatioContrastiveLoss
from .supcon import SupConLoss, supcon_losses
from .triplet_margin import TripletMarginLoss, all_triplets_margin_reduction, triplet_margin_losses
from .tuplet_margin import TupletMarginLoss, tuplet_margin_losses

__all__ = [
    "AngularLoss",
    "BaseMetricLossFunction",
    "CircleLoss",
    "ContrastiveLoss",
    "EmbeddingRegularizerMixin",
    "GeneralizedLiftedStructureLoss",
    "GenericPairLoss",
    "IntraPairVarianceLoss",
    "LiftedStructureLoss",
    "MultiSimilarityLoss",
    "NTXentLoss",
    "SignalToNoiseRatioContrastiveLoss",
    "SupConLoss",
    "TripletMarginLoss",
    "TupletMarginLoss",
    "WeightMixin",
    "WeightRegularizerMixin",
    "all_triplets_margin_reduction",
    "angular_losses",
    "circle_losses",
    "contrastive_neg_loss",
    "contrastive_pos_loss",
    "generalized_lifted_structure_losses",
    "intra_pair_variance_losses",
    "lifted_structure_losses",
    "multi_similarity_losses",
    "ntxent_losses",
    "supcon_losses",
    "triplet_margin_losses",
    "tuplet_margin_losses",
]
