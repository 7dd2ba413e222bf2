"""PML's ``utils.loss_and_miner_utils`` ("lmu") path, on :mod:`agnostic_ml.tuples`.

``from pytorch_metric_learning.utils import loss_and_miner_utils as lmu`` becomes
``from agnostic_ml_torch.utils import loss_and_miner_utils as lmu``. The functions are the
core's (same names, arguments and output order as PML 2.9; no B x R x R cube; an explicit
``rng=`` for the random ones), called here on torch tensors; two small torch-only helpers
PML also has are defined here.

>>> import torch
>>> from agnostic_ml_torch.utils import loss_and_miner_utils as lmu
>>> a, p, n = lmu.get_all_triplets_indices(torch.tensor([0, 0, 1]))
>>> a.tolist(), p.tolist(), n.tolist()
([0, 1], [1, 0], [2, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agnostic_ml.tuples import (
    convert_to_pairs,
    convert_to_triplets,
    convert_to_weights,
    get_all_pairs_indices,
    get_all_triplets_indices,
    get_anchors,
    get_matches_and_diffs,
    get_random_triplet_indices,
    logsumexp,
    neg_pairs_from_tuple,
    pos_pairs_from_tuple,
    remove_self_comparisons,
)

__all__ = [
    "convert_to_pairs",
    "convert_to_pos_pairs_with_unique_labels",
    "convert_to_triplets",
    "convert_to_weights",
    "get_all_pairs_indices",
    "get_all_triplets_indices",
    "get_anchors",
    "get_matches_and_diffs",
    "get_random_triplet_indices",
    "logsumexp",
    "meshgrid_from_sizes",
    "neg_pairs_from_tuple",
    "pos_pairs_from_tuple",
    "remove_self_comparisons",
]


def meshgrid_from_sizes(x: torch.Tensor, y: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Index grids ``(i, j)`` over ``x.size(dim)`` x ``y.size(dim)`` (``indexing="ij"``), on ``x``'s device."""
    a = torch.arange(x.size(dim), device=x.device)
    b = torch.arange(y.size(dim), device=x.device)
    return torch.meshgrid(a, b, indexing="ij")


def convert_to_pos_pairs_with_unique_labels(indices_tuple: Any, labels: Any) -> tuple[Any, Any]:
    """One positive pair per anchor label: the first pair (in tuple order) of each label."""
    a, p, _, _ = convert_to_pairs(indices_tuple, labels)
    host = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    _, unique_idx = np.unique(host[a.cpu().numpy()], return_index=True)
    keep = torch.as_tensor(unique_idx, dtype=torch.int64, device=a.device)
    return a[keep], p[keep]
