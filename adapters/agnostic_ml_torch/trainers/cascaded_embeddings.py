"""``CascadedEmbeddings``: losses, miners and classifiers on consecutive slices of the embedding (HDC)."""

from __future__ import annotations

import re
from typing import Any

import torch

from agnostic_ml.miners import HDCMiner

from .base_trainer import BaseTrainer

__all__ = ["CascadedEmbeddings"]


class CascadedEmbeddings(BaseTrainer):
    """PML's ``CascadedEmbeddings(embedding_sizes, ...)`` (Hard-Aware Deeply Cascaded embedding).

    The embedding is cut into consecutive slices of ``embedding_sizes``; slice ``i`` gets
    ``loss_funcs["metric_loss_i"]``, ``mining_funcs["tuple_miner_i"]``, ``models["classifier_i"]``
    and ``loss_funcs["classifier_loss_i"]`` when present. An ``HDCMiner`` receives the previous
    slice's mined tuple (``set_idx_externally``), so each slice mines among the previous
    one's hard tuples. Checked up front (PML: nothing): every index ``i`` is below
    ``len(embedding_sizes)``, at least one loss is given, ``classifier_loss_i`` has its
    ``classifier_i``; at the first batch, the embedding is at least ``sum(embedding_sizes)`` wide.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import CascadedEmbeddings
    >>> x, y = torch.randn(32, 4), torch.arange(32) % 2
    >>> trunk = torch.nn.Linear(4, 6)
    >>> trainer = CascadedEmbeddings(
    ...     embedding_sizes=[2, 4], models={"trunk": trunk},
    ...     optimizers={"trunk_optimizer": torch.optim.SGD(trunk.parameters(), lr=0.1)},
    ...     batch_size=8, dataset=torch.utils.data.TensorDataset(x, y),
    ...     loss_funcs={"metric_loss_0": losses.ContrastiveLoss(), "metric_loss_1": losses.TripletMarginLoss()},
    ...     dataloader_num_workers=0, data_device="cpu", progress_bar=False, seed=0)
    >>> trainer.train(num_epochs=1)
    >>> len(trainer.loss_history)
    1
    """

    def __init__(self, embedding_sizes: Any, *args: Any, **kwargs: Any) -> None:
        sizes = list(embedding_sizes) if isinstance(embedding_sizes, (list, tuple)) else None
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"CascadedEmbeddings: embedding_sizes must be a non-empty list of positive ints, got {embedding_sizes!r}")
        self.embedding_sizes = sizes
        super().__init__(*args, **kwargs)

    def check_configuration(self) -> None:
        owner = type(self).__name__
        n = len(self.embedding_sizes)
        for group, objs in (("models", self.models), ("loss_funcs", self.loss_funcs), ("mining_funcs", self.mining_funcs)):
            for k in objs:
                m = re.fullmatch(r".*_([0-9]+)", k)
                if m is not None and int(m.group(1)) >= n:
                    raise ValueError(
                        f"{owner}: {group}[{k!r}] refers to slice {m.group(1)} but embedding_sizes has {n} slices (0..{n - 1})"
                    )
        if not self.loss_funcs:
            raise ValueError(f"{owner}: loss_funcs is empty; give metric_loss_i and/or classifier_loss_i")
        for k in self.loss_funcs:
            m = re.fullmatch(r"classifier_loss_([0-9]+)", k)
            if m is not None and f"classifier_{m.group(1)}" not in self.models:
                raise ValueError(f"{owner}: loss_funcs has {k!r} but models has no 'classifier_{m.group(1)}'")

    def calculate_loss(self, curr_batch: Any) -> None:
        data, labels = curr_batch
        embeddings = self.compute_embeddings(data)
        total = sum(self.embedding_sizes)
        if embeddings.shape[1] < total:
            raise ValueError(
                f"{type(self).__name__}: the embeddings have {embeddings.shape[1]} columns but embedding_sizes "
                f"{self.embedding_sizes} needs {total}"
            )
        s = 0
        logits = []
        indices_tuple = None
        for i, size in enumerate(self.embedding_sizes):
            e = embeddings[:, s : s + size]
            indices_tuple = self.maybe_mine_embeddings(e, labels, indices_tuple, f"tuple_miner_{i}")
            if f"metric_loss_{i}" in self.loss_funcs:
                name = f"metric_loss_{i}"
                self.losses[name] = self.losses[name] + self.maybe_get_metric_loss(e, labels, indices_tuple, name)
            logits.append(self.maybe_get_logits(e, f"classifier_{i}"))
            s += size
        for i, lg in enumerate(logits):
            name = f"classifier_loss_{i}"
            if lg is not None and name in self.loss_funcs:
                self.losses[name] = self.losses[name] + self.maybe_get_classifier_loss(lg, labels, name)

    def maybe_get_metric_loss(self, embeddings: torch.Tensor, labels: torch.Tensor, indices_tuple: Any, name: str) -> Any:
        if self.loss_weights.get(name, 0) > 0:
            return self.loss_funcs[name](embeddings, labels, indices_tuple)
        return 0

    def maybe_mine_embeddings(self, embeddings: torch.Tensor, labels: torch.Tensor, prev_indices_tuple: Any, name: str) -> Any:
        if name not in self.mining_funcs:
            return None
        miner = self.mining_funcs[name]
        if isinstance(miner, HDCMiner):
            miner.set_idx_externally(prev_indices_tuple, labels)
            try:
                return miner(embeddings, labels)
            finally:
                miner.reset_idx()
        return miner(embeddings, labels)

    def maybe_get_logits(self, embeddings: torch.Tensor, name: str) -> torch.Tensor | None:
        if self.models.get(name) is not None:
            return self.run_model(name, embeddings)
        return None

    def maybe_get_classifier_loss(self, logits: torch.Tensor, labels: torch.Tensor, name: str) -> Any:
        if self.loss_weights.get(name, 0) > 0:
            return self.loss_funcs[name](logits, labels.to(logits.device))
        return 0

    def modify_schema(self) -> None:
        self.schema["models"].keys += ["classifier_[0-9]+"]
        self.schema["loss_funcs"].keys = ["metric_loss_[0-9]+", "classifier_loss_[0-9]+"]
        self.schema["mining_funcs"].keys = ["tuple_miner_[0-9]+"]
