"""Losses: PML's metric losses on any array-API backend (one file per family).

Every loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace and device
(differentiable when they are torch tensors). Each family module also exposes its formula
as a function of distances, indices and parameters. The ``nn.Module`` versions (with
``nn.Parameter`` weights) are in ``agnostic_ml_torch.losses``.
"""

from .arcface import ArcFaceLoss, SubCenterArcFaceLoss, arcface_target, subcenter_outliers
from .base import BaseMetricLossFunction, EmbeddingRegularizerMixin, WeightMixin, WeightRegularizerMixin
from .contrastive import ContrastiveLoss, contrastive_neg_loss, contrastive_pos_loss
from .cosface import CosFaceLoss, cosface_target
from .cross_batch_memory import CrossBatchMemory
from .generic_pair import GenericPairLoss
from .large_margin_softmax import (
    LargeMarginSoftmaxLoss,
    SphereFaceLoss,
    large_margin_target,
    margin_logits,
    multiple_angle_cos,
)
from .manifold import ManifoldLoss, manifold_losses, manifold_similarity
from .normalized_softmax import NormalizedSoftmaxLoss, normalized_softmax_logits
from .p2sgrad import P2SGradLoss, p2sgrad_loss, p2sgrad_renorm
from .proxy_anchor import ProxyAnchorLoss, proxy_anchor_terms
from .proxy_nca import ProxyNCALoss, proxy_nca_losses
from .soft_triple import SoftTripleLoss, soft_triple_class_similarity, soft_triple_losses
from .triplet_margin import TripletMarginLoss, all_triplets_margin_reduction, triplet_margin_losses
from .vicreg import VICRegLoss, vicreg_terms
from .wrappers import BaseLossWrapper, MultipleLosses, SelfSupervisedLoss

__all__ = [
    "ArcFaceLoss",
    "BaseLossWrapper",
    "BaseMetricLossFunction",
    "ContrastiveLoss",
    "CosFaceLoss",
    "CrossBatchMemory",
    "EmbeddingRegularizerMixin",
    "GenericPairLoss",
    "LargeMarginSoftmaxLoss",
    "ManifoldLoss",
    "MultipleLosses",
    "NormalizedSoftmaxLoss",
    "P2SGradLoss",
    "ProxyAnchorLoss",
    "ProxyNCALoss",
    "SelfSupervisedLoss",
    "SoftTripleLoss",
    "SphereFaceLoss",
    "SubCenterArcFaceLoss",
    "TripletMarginLoss",
    "VICRegLoss",
    "WeightMixin",
    "WeightRegularizerMixin",
    "all_triplets_margin_reduction",
    "arcface_target",
    "contrastive_neg_loss",
    "contrastive_pos_loss",
    "cosface_target",
    "large_margin_target",
    "manifold_losses",
    "manifold_similarity",
    "margin_logits",
    "multiple_angle_cos",
    "normalized_softmax_logits",
    "p2sgrad_loss",
    "p2sgrad_renorm",
    "proxy_anchor_terms",
    "proxy_nca_losses",
    "soft_triple_class_similarity",
    "soft_triple_losses",
    "subcenter_outliers",
    "triplet_margin_losses",
    "vicreg_terms",
]
