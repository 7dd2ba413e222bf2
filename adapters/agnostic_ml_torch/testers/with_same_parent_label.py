"""WithSameParentLabelTester: level ``L`` retrieval within each parent label at level ``L + 1``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import torch

from ..utils import common_functions as c_f
from .base_tester import BaseTester, _mean

__all__ = ["WithSameParentLabelTester"]


class WithSameParentLabelTester(BaseTester):
    """Accuracy at level ``L`` computed separately inside each parent class (level ``L + 1``), then averaged.

    Labels are ``(N, levels)``; only levels below the last one can be evaluated (the last has
    no parent). For each parent label ``p`` found in the query split, the queries and the
    references whose parent is ``p`` are evaluated with the accuracy calculator; the result
    under ``<metric>_level<L>`` is the mean over the parents (PML's ``np.mean``: a parent
    whose queries are all lone gives NaN, as in PML).
    """

    def do_knn_and_accuracies(
        self, accuracies: dict, embeddings_and_labels: Mapping[str, Any], query_split_name: str, reference_split_names: Sequence[str]
    ) -> None:
        query, query_labels, reference, reference_labels = self.set_reference_and_query(
            embeddings_and_labels, query_split_name, reference_split_names
        )
        self.label_levels = [L for L in self.label_levels_to_evaluate(query_labels) if L < query_labels.shape[1] - 1]
        if not self.label_levels:
            raise ValueError(
                "There are no valid label levels to evaluate: WithSameParentLabelTester needs a parent level, so "
                f"label_hierarchy_level must be below the last of the {query_labels.shape[1]} label columns"
            )
        includes = self.ref_includes_query(query_split_name, reference_split_names)
        for L in self.label_levels:
            q_parent, r_parent = query_labels[:, L + 1], reference_labels[:, L + 1]
            per_parent: dict[str, list[Any]] = defaultdict(list)
            for parent in torch.unique(q_parent):
                c_f.LOGGER.info("Label level %s and parent label %s", L, parent)
                qm, rm = q_parent == parent, r_parent == parent
                a = self.accuracy_calculator.get_accuracy(
                    query[qm], query_labels[:, L][qm], reference[rm], reference_labels[:, L][rm], includes
                )
                for metric, v in a.items():
                    per_parent[metric].append(v)
            for metric, v in per_parent.items():
                accuracies[self.accuracies_keyname(metric, label_hierarchy_level=L)] = _mean(v)
        if len(self.label_levels) > 1:
            self.calculate_average_accuracies(accuracies, self.accuracy_calculator.get_curr_metrics(), self.label_levels)
