"""Losses: PML's metric losses on any array-API backend (one file per family).

Every loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace and device
(differentiable when they are torch tensors). Each family module also exposes its formula
as a function of distances, indices and parameters. The ``nn.Module`` versions (with
``nn.Parameter`` weights) are in ``agnostic_ml_torch.losses``.
"""

from .base import BaseMetricLossFunction, EmbeddingRegularizerMixin, WeightMixin, WeightRegularizerMixin
from .contrastive import ContrastiveLoss, contrastive_neg_loss, contrastive_pos_loss
from .cross_batch_memory import CrossBatchMemory
from .generic_pair import GenericPairLoss
from .triplet_margin import TripletMarginLoss, all_triplets_margin_reduction, triplet_margin_losses
from .vicreg import VICRegLoss, vicreg_terms
from .wrappers import BaseLossWrapper, MultipleLosses, SelfSupervisedLoss

__all__ = [
    "BaseLossWrapper",
    "BaseMetricLossFunction",
    "ContrastiveLoss",
    "CrossBatchMemory",
    "EmbeddingRegularizerMixin",
    "GenericPairLoss",
    "MultipleLosses",
    "SelfSupervisedLoss",
    "TripletMarginLoss",
    "VICRegLoss",
    "WeightMixin",
    "WeightRegularizerMixin",
    "all_triplets_margin_reduction",
    "contrastive_neg_loss",
    "contrastive_pos_loss",
    "triplet_margin_losses",
    "vicreg_terms",
]
