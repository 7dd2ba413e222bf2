"""Losses: PML's metric losses on any array-API backend (one file per family).

Every loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace and device
(differentiable when they are torch tensors). Each family module also exposes its formula
as a function of distances, indices and parameters. The ``nn.Module`` versions (with
``nn.Parameter`` weights) are in ``agnostic_ml_torch.losses``.
"""

from .base import BaseMetricLossFunction, EmbeddingRegularizerMixin, WeightMixin, WeightRegularizerMixin
from .contrastive import ContrastiveLoss, contrastive_neg_loss, contrastive_pos_loss
from .dynamic_soft_margin import DynamicSoftMarginLoss, descriptor_margins, update_histogram, weigh_by_cdf
from .fast_ap import FastAPLoss, fast_ap
from .generic_pair import GenericPairLoss
from .histogram import HistogramLoss, histogram_loss
from .instance import InstanceLoss, instance_losses, label_ranks
from .margin import MarginLoss, all_triplets_margin_sums, margin_losses
from .n_pairs import NPairsLoss, n_pairs_losses, pos_pairs_with_unique_labels
from .nca import NCALoss, nca_losses
from .pnp import PNPLoss, pnp_loss, pnp_transform
from .ranked_list import RankedListLoss, ranked_list_losses
from .smooth_ap import SmoothAPLoss, smooth_ap_losses
from .threshold_consistent_margin import ThresholdConsistentMarginLoss, tcm_loss
from .triplet_margin import TripletMarginLoss, all_triplets_margin_reduction, triplet_margin_losses

__all__ = [
    "BaseMetricLossFunction",
    "ContrastiveLoss",
    "DynamicSoftMarginLoss",
    "EmbeddingRegularizerMixin",
    "FastAPLoss",
    "GenericPairLoss",
    "HistogramLoss",
    "InstanceLoss",
    "MarginLoss",
    "NCALoss",
    "NPairsLoss",
    "PNPLoss",
    "RankedListLoss",
    "SmoothAPLoss",
    "ThresholdConsistentMarginLoss",
    "TripletMarginLoss",
    "WeightMixin",
    "WeightRegularizerMixin",
    "all_triplets_margin_reduction",
    "all_triplets_margin_sums",
    "contrastive_neg_loss",
    "contrastive_pos_loss",
    "descriptor_margins",
    "fast_ap",
    "histogram_loss",
    "instance_losses",
    "label_ranks",
    "margin_losses",
    "n_pairs_losses",
    "nca_losses",
    "pnp_loss",
    "pnp_transform",
    "pos_pairs_with_unique_labels",
    "ranked_list_losses",
    "smooth_ap_losses",
    "tcm_loss",
    "triplet_margin_losses",
    "update_histogram",
    "weigh_by_cdf",
]
