"""``UnsupervisedEmbeddingsUsingAugmentations``: views of one item share a label; no labels needed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import torch

from ._data import return_input
from .metric_loss_only import MetricLossOnly

__all__ = ["UnsupervisedEmbeddingsUsingAugmentations"]


class UnsupervisedEmbeddingsUsingAugmentations(MetricLossOnly):
    """PML's ``UnsupervisedEmbeddingsUsingAugmentations(transforms, data_and_label_setter=None, ...)`` (PML 0.9-1.x).

    Its collate function applies every transform of ``transforms`` to every item of a batch
    and labels each view with the item's position in the batch, so a batch of ``batch_size``
    items becomes ``batch_size * len(transforms)`` views in which the views of one item are
    positives and all other views negatives; the dataset's labels are ignored. The item's
    input is read with ``data_and_label_getter(item)`` (default: ``(x, label)`` tuples);
    ``data_and_label_setter((views, labels))`` packs the collated batch into whatever
    ``data_and_label_getter`` reads back (default: the tuple itself). Random transforms
    draw from torch's global generator (with ``dataloader_num_workers=0``, from the main
    process's), so ``seed=`` makes them repeat.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import UnsupervisedEmbeddingsUsingAugmentations
    >>> x = torch.randn(32, 4)
    >>> noise = lambda v: v + 0.1 * torch.randn_like(v)
    >>> trunk = torch.nn.Linear(4, 3)
    >>> trainer = UnsupervisedEmbeddingsUsingAugmentations(
    ...     transforms=[noise, noise], models={"trunk": trunk},
    ...     optimizers={"trunk_optimizer": torch.optim.SGD(trunk.parameters(), lr=0.1)},
    ...     batch_size=8, dataset=torch.utils.data.TensorDataset(x, torch.zeros(32)),
    ...     loss_funcs={"metric_loss": losses.ContrastiveLoss()},
    ...     dataloader_num_workers=0, data_device="cpu", progress_bar=False, seed=0)
    >>> data, labels = trainer.custom_collate_fn([(x[0], 0), (x[1], 0)])
    >>> data.shape, labels.tolist()
    (torch.Size([4, 4]), [0, 0, 1, 1])
    >>> trainer.train(num_epochs=1)
    """

    def __init__(
        self,
        transforms: Sequence[Callable[[Any], Any]],
        data_and_label_setter: Callable | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence) or len(transforms) == 0:
            raise ValueError("UnsupervisedEmbeddingsUsingAugmentations: transforms must be a non-empty list of callables")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"UnsupervisedEmbeddingsUsingAugmentations: transforms[{i}] is not callable")
        if kwargs.get("collate_fn") is not None:
            raise ValueError(
                "UnsupervisedEmbeddingsUsingAugmentations makes its own collate_fn (the augmented views); do not pass one"
            )
        super().__init__(*args, **kwargs)
        self.transforms = list(transforms)
        self.data_and_label_setter = return_input if data_and_label_setter is None else data_and_label_setter
        self.collate_fn = self.custom_collate_fn

    def custom_collate_fn(self, data: Sequence[Any]) -> Any:
        views, labels = [], []
        for i, item in enumerate(data):
            x, _ = self.data_and_label_getter(item)
            for t in self.transforms:
                views.append(t(x))
                labels.append(i)
        return self.data_and_label_setter((torch.stack(views, dim=0), torch.tensor(labels, dtype=torch.int64)))
