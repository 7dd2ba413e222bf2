"""Losses: PML's metric losses on any array-API backend (one file per family).

Every loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace and device
(differentiable when they are torch tensors). Each family module also exposes its formula
as a function of distances, indices and parameters. The ``nn.Module`` versions (with
``nn.Parameter`` weights) are in ``agnostic_ml_torch.losses``.
"""

from .angular import AngularLoss, angular_losses
from .arcface import ArcFaceLoss, SubCenterArcFaceLoss, arcface_target, subcenter_outliers
from .base import BaseMetricLossFunction, EmbeddingRegularizerMixin, WeightMixin, WeightRegularizerMixin
from .circle import CircleLoss, circle_losses
from .contrastive import ContrastiveLoss, contrastive_neg_loss, contrastive_pos_loss
from .cosface import CosFaceLoss, cosface_target
from .cross_batch_memory import CrossBatchMemory
from .dynamic_soft_margin import DynamicSoftMarginLoss, descriptor_margins, update_histogram, weigh_by_cdf
from .fast_ap import FastAPLoss, fast_ap
from .generic_pair import GenericPairLoss
from .histogram import HistogramLoss, histogram_loss
from .instance import InstanceLoss, instance_losses, label_ranks
from .intra_pair_variance import IntraPairVarianceLoss, intra_pair_variance_losses
from .large_margin_softmax import (
    LargeMarginSoftmaxLoss,
    SphereFaceLoss,
    large_margin_target,
    margin_logits,
    multiple_angle_cos,
)
from .lifted_structure import (
    GeneralizedLiftedStructureLoss,
    LiftedStructureLoss,
    generalized_lifted_structure_losses,
    lifted_structure_losses,
)
from .manifold import ManifoldLoss, manifold_losses, manifold_similarity
from .margin import MarginLoss, all_triplets_margin_sums, margin_losses
from .multi_similarity import MultiSimilarityLoss, multi_similarity_losses
from .n_pairs import NPairsLoss, n_pairs_losses, pos_pairs_with_unique_labels
from .nca import NCALoss, nca_losses
from .normalized_softmax import NormalizedSoftmaxLoss, normalized_softmax_logits
from .ntxent import NTXentLoss, ntxent_losses
from .p2sgrad import P2SGradLoss, p2sgrad_loss, p2sgrad_renorm
from .pnp import PNPLoss, pnp_loss, pnp_transform
from .proxy_anchor import ProxyAnchorLoss, proxy_anchor_terms
from .proxy_nca import ProxyNCALoss, proxy_nca_losses
from .ranked_list import RankedListLoss, ranked_list_losses
from .smooth_ap import SmoothAPLoss, smooth_ap_losses
from .snr_contrastive import SignalToNoiseRatioContrastiveLoss
from .soft_triple import SoftTripleLoss, soft_triple_class_similarity, soft_triple_losses
from .supcon import SupConLoss, supcon_losses
from .threshold_consistent_margin import ThresholdConsistentMarginLoss, tcm_loss
from .triplet_margin import TripletMarginLoss, all_triplets_margin_reduction, triplet_margin_losses
from .tuplet_margin import TupletMarginLoss, tuplet_margin_losses
from .vicreg import VICRegLoss, vicreg_terms
from .wrappers import BaseLossWrapper, MultipleLosses, SelfSupervisedLoss

__all__ = [
    "AngularLoss",
    "ArcFaceLoss",
    "BaseLossWrapper",
    "BaseMetricLossFunction",
    "CircleLoss",
    "ContrastiveLoss",
    "CosFaceLoss",
    "CrossBatchMemory",
    "DynamicSoftMarginLoss",
    "EmbeddingRegularizerMixin",
    "FastAPLoss",
    "GeneralizedLiftedStructureLoss",
    "GenericPairLoss",
    "HistogramLoss",
    "InstanceLoss",
    "IntraPairVarianceLoss",
    "LargeMarginSoftmaxLoss",
    "LiftedStructureLoss",
    "ManifoldLoss",
    "MarginLoss",
    "MultiSimilarityLoss",
    "MultipleLosses",
    "NCALoss",
    "NPairsLoss",
    "NTXentLoss",
    "NormalizedSoftmaxLoss",
    "P2SGradLoss",
    "PNPLoss",
    "ProxyAnchorLoss",
    "ProxyNCALoss",
    "RankedListLoss",
    "SelfSupervisedLoss",
    "SignalToNoiseRatioContrastiveLoss",
    "SmoothAPLoss",
    "SoftTripleLoss",
    "SphereFaceLoss",
    "SubCenterArcFaceLoss",
    "SupConLoss",
    "ThresholdConsistentMarginLoss",
    "TripletMarginLoss",
    "TupletMarginLoss",
    "VICRegLoss",
    "WeightMixin",
    "WeightRegularizerMixin",
    "all_triplets_margin_reduction",
    "all_triplets_margin_sums",
    "angular_losses",
    "arcface_target",
    "circle_losses",
    "contrastive_neg_loss",
    "contrastive_pos_loss",
    "cosface_target",
    "descriptor_margins",
    "fast_ap",
    "generalized_lifted_structure_losses",
    "histogram_loss",
    "instance_losses",
    "intra_pair_variance_losses",
    "label_ranks",
    "large_margin_target",
    "lifted_structure_losses",
    "manifold_losses",
    "manifold_similarity",
    "margin_logits",
    "margin_losses",
    "multi_similarity_losses",
    "multiple_angle_cos",
    "n_pairs_losses",
    "nca_losses",
    "normalized_softmax_logits",
    "ntxent_losses",
    "p2sgrad_loss",
    "p2sgrad_renorm",
    "pnp_loss",
    "pnp_transform",
    "pos_pairs_with_unique_labels",
    "proxy_anchor_terms",
    "proxy_nca_losses",
    "ranked_list_losses",
    "smooth_ap_losses",
    "soft_triple_class_similarity",
    "soft_triple_losses",
    "subcenter_outliers",
    "supcon_losses",
    "tcm_loss",
    "triplet_margin_losses",
    "tuplet_margin_losses",
    "update_histogram",
    "vicreg_terms",
    "weigh_by_cdf",
]
