"""PML's ``pytorch_metric_learning.trainers`` import path: training loops over the library's losses and miners.

``from pytorch_metric_learning import trainers`` becomes ``from agnostic_ml_torch import trainers``.
Every trainer takes PML 2.9's arguments (see :class:`BaseTrainer`), checks them before
training starts, and adds optional mixed precision, a progress bar, early stopping, seeding
and an exact-resume :meth:`~BaseTrainer.state_dict` / :meth:`~BaseTrainer.load_state_dict`.
"""

from ._key_checker import KeyChecker, KeyCheckerDict
from ._loss_tracker import LossTracker
from ._state import seed_everything
from .base_trainer import BaseTrainer
from .cascaded_embeddings import CascadedEmbeddings
from .deep_adversarial_metric_learning import DeepAdversarialMetricLearning
from .early_stopping import EarlyStopping
from .metric_loss_only import MetricLossOnly
from .train_with_classifier import TrainWithClassifier
from .twostream_metric_loss import TwoStreamMetricLoss
from .unsupervised_embeddings_using_augmentations import UnsupervisedEmbeddingsUsingAugmentations

__all__ = [
    "BaseTrainer",
    "MetricLossOnly",
    "TrainWithClassifier",
    "CascadedEmbeddings",
    "DeepAdversarialMetricLearning",
    "UnsupervisedEmbeddingsUsingAugmentations",
    "TwoStreamMetricLoss",
    "EarlyStopping",
    "KeyChecker",
    "KeyCheckerDict",
    "LossTracker",
    "seed_everything",
]
