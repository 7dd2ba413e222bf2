"""``MetricLossOnly``: embeddings -> optional tuple miner -> ``metric_loss``."""

from __future__ import annotations

from typing import Any

import torch

from .base_trainer import BaseTrainer

__all__ = ["MetricLossOnly"]


class MetricLossOnly(BaseTrainer):
    """PML's ``MetricLossOnly``: ``loss_funcs["metric_loss"](embeddings, labels, indices_tuple)``.

    ``loss_funcs`` must contain ``"metric_loss"``; ``mining_funcs`` may hold a
    ``"tuple_miner"`` (its tuple goes to the loss) and a ``"subset_batch_miner"``. All other
    arguments are :class:`BaseTrainer`'s.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import MetricLossOnly
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.cat([torch.randn(16, 4, generator=g) + 3, torch.randn(16, 4, generator=g) - 3])
    >>> y = torch.tensor([0] * 16 + [1] * 16)
    >>> trunk = torch.nn.Linear(4, 2)
    >>> trainer = MetricLossOnly(
    ...     models={"trunk": trunk},
    ...     optimizers={"trunk_optimizer": torch.optim.SGD(trunk.parameters(), lr=0.1)},
    ...     batch_size=8, loss_funcs={"metric_loss": losses.ContrastiveLoss()},
    ...     dataset=torch.utils.data.TensorDataset(x, y), dataloader_num_workers=0,
    ...     data_device="cpu", progress_bar=False, seed=0)
    >>> trainer.train(num_epochs=2)
    >>> trainer.epoch, trainer.iterations_per_epoch, len(trainer.loss_history)
    (2, 4, 2)
    """

    def check_configuration(self) -> None:
        self._required_loss("metric_loss")

    def calculate_loss(self, curr_batch: Any) -> None:
        data, labels = curr_batch
        embeddings = self.compute_embeddings(data)
        indices_tuple = self.maybe_mine_embeddings(embeddings, labels)
        self.losses["metric_loss"] = self.maybe_get_metric_loss(embeddings, labels, indices_tuple)

    def maybe_get_metric_loss(self, embeddings: torch.Tensor, labels: torch.Tensor, indices_tuple: Any) -> Any:
        if self.loss_weights.get("metric_loss", 0) > 0:
            return self.loss_funcs["metric_loss"](embeddings, labels, indices_tuple)
        return 0
