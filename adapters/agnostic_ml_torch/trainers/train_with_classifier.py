"""``TrainWithClassifier``: ``metric_loss`` on the embeddings plus ``classifier_loss`` on a classifier's logits."""

from __future__ import annotations

from typing import Any

import torch

from .metric_loss_only import MetricLossOnly

__all__ = ["TrainWithClassifier"]


class TrainWithClassifier(MetricLossOnly):
    """PML's ``TrainWithClassifier``: adds ``models["classifier"]`` and ``loss_funcs["classifier_loss"]``.

    The classifier maps embeddings to logits; ``classifier_loss(logits, labels)`` is any
    classification loss (``torch.nn.CrossEntropyLoss()`` as in PML's examples). Labels are
    moved to the logits' device. ``metric_loss`` is optional here, but at least one of the
    two losses must be given; ``classifier_loss`` needs ``models["classifier"]`` (PML
    silently computes nothing without it).

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import TrainWithClassifier
    >>> x, y = torch.randn(32, 4), torch.arange(32) % 2
    >>> trunk, clf = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
    >>> params = list(trunk.parameters()) + list(clf.parameters())
    >>> trainer = TrainWithClassifier(
    ...     models={"trunk": trunk, "classifier": clf},
    ...     optimizers={"trunk_optimizer": torch.optim.SGD(params, lr=0.1)},
    ...     batch_size=8, dataset=torch.utils.data.TensorDataset(x, y),
    ...     loss_funcs={"metric_loss": losses.ContrastiveLoss(), "classifier_loss": torch.nn.CrossEntropyLoss()},
    ...     dataloader_num_workers=0, data_device="cpu", progress_bar=False, seed=0)
    >>> trainer.train(num_epochs=1)
    >>> sorted(trainer.losses)
    ['classifier_loss', 'metric_loss', 'total_loss']
    """

    def check_configuration(self) -> None:
        owner = type(self).__name__
        if "metric_loss" not in self.loss_funcs and "classifier_loss" not in self.loss_funcs:
            given = ", ".join(map(repr, self.loss_funcs)) or "none"
            raise ValueError(f"{owner}: loss_funcs must contain 'metric_loss' or 'classifier_loss' (given: {given})")
        if "classifier_loss" in self.loss_funcs and "classifier" not in self.models:
            raise ValueError(f"{owner}: loss_funcs has 'classifier_loss' but models has no 'classifier' to give it logits")

    def calculate_loss(self, curr_batch: Any) -> None:
        data, labels = curr_batch
        embeddings = self.compute_embeddings(data)
        logits = self.maybe_get_logits(embeddings)
        indices_tuple = self.maybe_mine_embeddings(embeddings, labels)
        self.losses["metric_loss"] = self.maybe_get_metric_loss(embeddings, labels, indices_tuple)
        self.losses["classifier_loss"] = self.maybe_get_classifier_loss(logits, labels)

    def maybe_get_classifier_loss(self, logits: torch.Tensor | None, labels: torch.Tensor) -> Any:
        if logits is not None:
            return self.loss_funcs["classifier_loss"](logits, labels.to(logits.device))
        return 0

    def maybe_get_logits(self, embeddings: torch.Tensor) -> torch.Tensor | None:
        if self.models.get("classifier") is not None and self.loss_weights.get("classifier_loss", 0) > 0:
            return self.run_model("classifier", embeddings)
        return None

    def modify_schema(self) -> None:
        self.schema["models"].keys += ["classifier"]
        self.schema["loss_funcs"].keys += ["classifier_loss"]
