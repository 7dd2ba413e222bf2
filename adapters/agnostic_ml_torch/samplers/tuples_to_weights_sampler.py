"""``TuplesToWeightsSampler``: an offline miner that samples items by how often they are mined."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from agnostic_ml.tuples import convert_to_weights

from ._common import check_int
from ._embed import TESTER_KWARGS, embed_dataset
from ._resumable import ResumableSampler

__all__ = ["TuplesToWeightsSampler"]


class TuplesToWeightsSampler(ResumableSampler):
    """Every epoch: embed a random subset, mine it, and draw items in proportion to their weights.

    PML 2.9's ``TuplesToWeightsSampler(model, miner, dataset, subset_size=None, **tester_kwargs)``.
    At the start of each epoch it draws ``subset_size`` item indices (without replacement
    when ``subset_size <= len(dataset)``; all items, in order, when ``subset_size`` is None),
    embeds them with ``model`` (eval mode, no grad, the DataLoader arguments from
    ``tester_kwargs``: ``batch_size=32``, ``dataloader_num_workers=2``, ``data_device``,
    ``dtype``, ``data_and_label_getter``, ``normalize_embeddings=True``, ``pca``), mines them with
    ``miner(embeddings, labels)``, and turns the tuples into per-item weights with
    :func:`agnostic_ml.tuples.convert_to_weights` (an item's count over the tuples divided
    by the largest count; items outside the subset weigh 0). It then yields
    ``len(self)`` indices drawn with replacement in proportion to the weights, as
    ``WeightedRandomSampler(weights, len(self), replacement=True)``. ``self.weights`` holds
    the last epoch's weights.

    ``len()`` is ``subset_size`` or ``len(dataset)``. Dataset items are ``(data, label)``
    unless ``data_and_label_getter`` says otherwise; labels must be one level. The model's
    training mode is restored after embedding. ``data_device`` defaults to the model's
    device (PML: CUDA whenever available).

    ``seed`` / ``generator`` (keyword only) fix the subset and the weighted draws (the
    embeddings come from the model, so an epoch repeats when the model does). The state of
    a run stopped mid-epoch holds that epoch's drawn indices (a tensor), since re-embedding
    with a model that has trained since would draw others.

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch.miners import BatchHardMiner
    >>> x = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    >>> y = torch.tensor([0, 1, 2] * 4)
    >>> ds = torch.utils.data.TensorDataset(x, y)
    >>> s = TuplesToWeightsSampler(torch.nn.Linear(3, 2), BatchHardMiner(), ds, subset_size=8,
    ...                            dataloader_num_workers=0, seed=0)
    >>> idx = list(s)
    >>> len(idx), all(0 <= i < 12 for i in idx), int((s.weights > 0).sum()) <= 8
    (8, True, True)
    """

    _kind = "TuplesToWeightsSampler"

    def __init__(
        self,
        model: torch.nn.Module,
        miner: Any,
        dataset: Any,
        subset_size: int | None = None,
        *,
        seed: int | None = None,
        generator: Any = None,
        **tester_kwargs: Any,
    ) -> None:
        unknown = sorted(set(tester_kwargs) - TESTER_KWARGS)
        if unknown:
            raise TypeError(f"unexpected tester_kwargs {unknown}; BaseTester's arguments are {sorted(TESTER_KWARGS)}")
        if not callable(miner):
            raise TypeError(f"miner must be callable as miner(embeddings, labels), got {type(miner).__name__}")
        self.model = model
        self.miner = miner
        self.dataset = dataset
        self.subset_size = None if subset_size is None else check_int(subset_size, "subset_size", minimum=1)
        if len(dataset) == 0:
            raise ValueError("dataset is empty")
        self.tester_kwargs = dict(tester_kwargs)
        self.weights: torch.Tensor | None = None
        super().__init__(seed, generator)

    def _num_units(self) -> int:
        return self.subset_size if self.subset_size else len(self.dataset)

    def _build_plan(self, rng: np.random.Generator) -> list[int]:
        n = len(self.dataset)
        if self.subset_size:
            indices = rng.choice(n, size=self.subset_size, replace=n < self.subset_size)
            current = torch.utils.data.Subset(self.dataset, indices.tolist())
        else:
            indices = np.arange(n)
            current = self.dataset
        embeddings, labels = embed_dataset(self.model, current, **self.tester_kwargs)
        labels = labels.squeeze(1)
        hard_tuples = self.miner(embeddings, labels)
        weights = torch.zeros(n, dtype=torch.float32, device=embeddings.device)
        weights[torch.as_tensor(indices, device=embeddings.device)] = convert_to_weights(
            hard_tuples, labels, dtype=torch.float32
        )
        self.weights = weights
        draw = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
        sampler = torch.utils.data.WeightedRandomSampler(weights.cpu(), self._num_units(), replacement=True, generator=draw)
        return list(sampler)

    def _extra_state(self) -> dict[str, Any]:
        if self._position == 0 or self._cache is None or self._cache[0] != (self._base_seed, self.epoch):
            return {}
        state: dict[str, Any] = {"plan": torch.tensor(self._cache[1], dtype=torch.int64)}
        if self.weights is not None:
            state["weights"] = self.weights.detach().cpu()
        return state

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        if "plan" in state:
            plan = [int(i) for i in torch.as_tensor(state["plan"]).tolist()]
            if len(plan) != self._num_units():
                raise ValueError(f"state['plan'] has {len(plan)} indices, this sampler's epoch has {self._num_units()}")
            self._cache = ((self._base_seed, self.epoch), plan)
        if "weights" in state:
            self.weights = torch.as_tensor(state["weights"])
