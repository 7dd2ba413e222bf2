"""GlobalEmbeddingSpaceTester: every query against the whole reference set (what papers report)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .base_tester import BaseTester

__all__ = ["GlobalEmbeddingSpaceTester"]


class GlobalEmbeddingSpaceTester(BaseTester):
    """Accuracy of each query split against its reference splits, per label level (PML's tester).

    For each evaluated level ``L`` the results hold ``<metric>_level<L>`` for every metric of
    the accuracy calculator, exactly ``accuracy_calculator.get_accuracy(query, query_labels[:, L],
    reference, reference_labels[:, L], ref_includes_query)``; with several levels also
    ``AVERAGE_<metric>``.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml.accuracy import AccuracyCalculator
    >>> from agnostic_ml_torch.testers import GlobalEmbeddingSpaceTester
    >>> from agnostic_ml_torch.utils.common_functions import EmbeddingDataset
    >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> data = {"val": EmbeddingDataset(x, torch.tensor([0, 0, 1, 1]))}
    >>> tester = GlobalEmbeddingSpaceTester(
    ...     dataloader_num_workers=0, accuracy_calculator=AccuracyCalculator(include=("precision_at_1",)))
    >>> dict(tester.test(data, 1, torch.nn.Identity()))
    {'val': {'epoch': 1, 'precision_at_1_level0': 1.0}}
    """

    def do_knn_and_accuracies(
        self, accuracies: dict, embeddings_and_labels: Mapping[str, Any], query_split_name: str, reference_split_names: Sequence[str]
    ) -> None:
        query, query_labels, reference, reference_labels = self.set_reference_and_query(
            embeddings_and_labels, query_split_name, reference_split_names
        )
        self.label_levels = self.label_levels_to_evaluate(query_labels)
        includes = self.ref_includes_query(query_split_name, reference_split_names)
        for L in self.label_levels:
            a = self.accuracy_calculator.get_accuracy(query, query_labels[:, L], reference, reference_labels[:, L], includes)
            for metric, v in a.items():
                accuracies[self.accuracies_keyname(metric, label_hierarchy_level=L)] = v
        if len(self.label_levels) > 1:
            self.calculate_average_accuracies(accuracies, self.accuracy_calculator.get_curr_metrics(), self.label_levels)
