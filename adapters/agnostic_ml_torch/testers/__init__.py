"""PML's ``testers``: embed a dataset dict and compute retrieval accuracies, without faiss.

``from pytorch_metric_learning import testers`` becomes ``from agnostic_ml_torch import testers``.
The accuracies come from :class:`agnostic_ml.accuracy.AccuracyCalculator` (exact blocked
kNN, no faiss); the results use PML's keys (``all_accuracies[split]["precision_at_1_level0"]``).
"""

from .base_tester import BaseTester
from .global_embedding_space import GlobalEmbeddingSpaceTester
from .global_twostream_embedding_space import GlobalTwoStreamEmbeddingSpaceTester
from .visualization import AutoVisualizer, EmbeddingPlotWriter, save_embedding_plot
from .with_same_parent_label import WithSameParentLabelTester

__all__ = [
    "AutoVisualizer",
    "BaseTester",
    "EmbeddingPlotWriter",
    "GlobalEmbeddingSpaceTester",
    "GlobalTwoStreamEmbeddingSpaceTester",
    "WithSameParentLabelTester",
    "save_embedding_plot",
]
