"""GlobalTwoStreamEmbeddingSpaceTester: anchors of a two-stream dataset query its pos/neg items."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import tqdm

from .global_embedding_space import GlobalEmbeddingSpaceTester

__all__ = ["GlobalTwoStreamEmbeddingSpaceTester"]


class GlobalTwoStreamEmbeddingSpaceTester(GlobalEmbeddingSpaceTester):
    """For datasets whose items are ``(anchor, posneg, label)`` (PML's two-stream tester).

    The anchors are the queries, the posnegs the reference (``ref_includes_query=False``);
    each split is evaluated against itself only. The split's embeddings are stored as
    ``cat([anchors, posnegs])`` with the labels twice, as in PML. With ``pca`` one
    projection is fitted on anchors and posnegs together (PML fits one on each, so the two
    streams end up in different spaces).
    """

    def compute_all_embeddings(self, dataloader: Any, trunk_model: Any, embedder_model: Any) -> tuple[torch.Tensor, torch.Tensor]:
        anchors, posnegs, labs = [], [], []
        with torch.no_grad():
            for data in tqdm.tqdm(dataloader, disable=None, leave=False, desc="embeddings"):
                a_in, pn_in, label = self.data_and_label_getter(data)[:3]
                a = self.get_embeddings_for_eval(trunk_model, embedder_model, a_in)
                pn = self.get_embeddings_for_eval(trunk_model, embedder_model, pn_in)
                anchors.append(a)
                posnegs.append(pn)
                labs.append(self._labels_2d(label).to(a.device))
        if not anchors:
            raise ValueError("the dataset is empty: there is nothing to embed")
        labels = torch.cat(labs, dim=0)
        return torch.cat(anchors + posnegs, dim=0), torch.cat([labels, labels], dim=0)

    def set_reference_and_query(
        self, embeddings_and_labels: Mapping[str, Any], query_split_name: str, reference_split_names: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if list(reference_split_names) != [query_split_name]:
            raise ValueError(f"{type(self).__name__} does not support different reference and query splits")
        embeddings, labels = embeddings_and_labels[query_split_name]
        half = embeddings.shape[0] // 2
        query_labels = labels[:half]
        return embeddings[:half], query_labels, embeddings[half:], query_labels

    def ref_includes_query(self, query_split_name: str, reference_split_names: Sequence[str]) -> bool:
        return False
