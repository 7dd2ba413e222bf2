"""``TwoStreamMetricLoss``: anchors and their positives/negatives come from two inputs of one dataset item."""

from __future__ import annotations

from typing import Any

import torch

from agnostic_ml.tuples import get_all_triplets_indices

from ._data import process_label, shift_indices_tuple
from .base_trainer import BaseTrainer

__all__ = ["TwoStreamMetricLoss"]


class TwoStreamMetricLoss(BaseTrainer):
    """PML's ``TwoStreamMetricLoss``: items are ``(anchor, posneg, label)``.

    Both streams go through the same trunk and embedder. The ``tuple_miner`` (the only
    miner allowed) mines anchors against posnegs (``miner(anchor_emb, labels, posneg_emb,
    labels)``); without one, all triplets anchor -> posneg are used. The loss receives the
    concatenation ``[anchors; posnegs]`` with the tuple's reference indices shifted by the
    batch size, so positives and negatives always come from the posneg stream.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import TwoStreamMetricLoss
    >>> class Pairs(torch.utils.data.Dataset):
    ...     def __len__(self): return 32
    ...     def __getitem__(self, i): return torch.full((4,), float(i % 2)), torch.full((4,), float(i % 2)), i % 2
    >>> trunk = torch.nn.Linear(4, 3)
    >>> trainer = TwoStreamMetricLoss(
    ...     models={"trunk": trunk}, optimizers={"trunk_optimizer": torch.optim.SGD(trunk.parameters(), lr=0.1)},
    ...     batch_size=8, dataset=Pairs(), loss_funcs={"metric_loss": losses.TripletMarginLoss()},
    ...     dataloader_num_workers=0, data_device="cpu", progress_bar=False, seed=0)
    >>> trainer.train(num_epochs=1)
    >>> trainer.iterations_per_epoch
    4
    """

    def check_configuration(self) -> None:
        self._required_loss("metric_loss")

    def calculate_loss(self, curr_batch: Any) -> None:
        (anchors, posnegs), labels = curr_batch
        embeddings = (self.compute_embeddings(anchors), self.compute_embeddings(posnegs))
        indices_tuple = self.maybe_mine_embeddings(embeddings, labels)
        self.losses["metric_loss"] = self.maybe_get_metric_loss(embeddings, labels, indices_tuple)

    def get_batch(self) -> tuple[Any, torch.Tensor]:
        out = self.data_and_label_getter(self._next_batch())
        if not isinstance(out, (list, tuple)) or len(out) != 3:
            raise ValueError(
                f"{type(self).__name__}: a batch must be (anchors, posnegs, labels) (pass data_and_label_getter=... "
                f"to build it), got {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (list, tuple)) else "")
            )
        anchors, posnegs, labels = out
        labels = process_label(labels, self.label_hierarchy_level, self.label_mapper)
        return self.maybe_do_batch_mining((anchors, posnegs), labels)

    def maybe_get_metric_loss(self, embeddings: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor, indices_tuple: Any) -> Any:
        if self.loss_weights.get("metric_loss", 0) > 0:
            n = embeddings[0].shape[0]
            indices_tuple = shift_indices_tuple(indices_tuple, n)
            return self.loss_funcs["metric_loss"](torch.cat(embeddings, dim=0), torch.cat([labels, labels], dim=0), indices_tuple)
        return 0

    def maybe_mine_embeddings(self, embeddings: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor) -> Any:
        anchors, posnegs = embeddings
        if "tuple_miner" in self.mining_funcs:
            return self.mining_funcs["tuple_miner"](anchors, labels, posnegs, labels.clone())
        return get_all_triplets_indices(labels, labels.clone(), like=anchors)

    def modify_schema(self) -> None:
        self.schema["mining_funcs"].keys = ["tuple_miner"]
