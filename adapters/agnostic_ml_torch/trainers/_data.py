"""Data plumbing shared by the trainers: loaders, batches, labels, sampler checks."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import torch

from ..utils.common_functions import get_train_dataloader, is_batch_sampler, shift_indices_tuple
from ._legacy import caller_stacklevel, warn_future

__all__ = [
    "LabelMapper",
    "process_label",
    "to_device",
    "return_input",
    "legacy_dict_getter",
    "is_batch_sampler",
    "check_sampler",
    "check_dataset",
    "get_train_dataloader",
    "shift_indices_tuple",
    "index_batch",
]

#: Keys under which PML 0.9 datasets returned the input (``try_keys`` order) and the label.
LEGACY_DATA_KEYS = ("data", "image")
LEGACY_LABEL_KEY = "label"


def return_input(x: Any) -> Any:
    return x


def legacy_dict_getter(batch: Any) -> Any:
    """PML 0.9's batches were dicts: ``batch["data"]`` (or ``["image"]``) and ``batch["label"]``."""
    if not isinstance(batch, Mapping):
        return batch
    for k in LEGACY_DATA_KEYS:
        if k in batch:
            return batch[k], batch[LEGACY_LABEL_KEY]
    raise ValueError(
        f"a dict batch needs one of the keys {list(LEGACY_DATA_KEYS)} and {LEGACY_LABEL_KEY!r}, got {sorted(batch)}; "
        "pass data_and_label_getter=... to read it"
    )


def warn_dict_items(owner: str) -> None:
    warn_future(
        f"{owner}: the dataset's items are dicts ({{'data': x, 'label': y}}), the PML 0.9 format; they are read "
        "with batch['data'] and batch['label']. Today: return (data, label) tuples, or pass "
        "data_and_label_getter=lambda batch: (batch['data'], batch['label'])"
    )


def to_device(x: Any, device: Any, dtype: torch.dtype | None = None) -> Any:
    """Move tensors (also inside lists, tuples and dicts) to ``device``; cast floating ones to ``dtype``."""
    if isinstance(x, torch.Tensor):
        if dtype is not None and x.is_floating_point() and x.dtype != dtype:
            return x.to(device=device, dtype=dtype)
        return x.to(device) if x.device != torch.device(device) else x
    if isinstance(x, (list, tuple)):
        return type(x)(to_device(v, device, dtype) for v in x)
    if isinstance(x, Mapping):
        return {k: to_device(v, device, dtype) for k, v in x.items()}
    return x


def index_batch(data: Any, idx: torch.Tensor) -> Any:
    """``data[idx]`` for a tensor, or for each tensor of a list/tuple/dict (idx moved to its device)."""
    if isinstance(data, torch.Tensor):
        return data[idx.to(data.device)]
    if isinstance(data, (list, tuple)):
        return type(data)(index_batch(v, idx) for v in data)
    if isinstance(data, Mapping):
        return {k: index_batch(v, idx) for k, v in data.items()}
    raise TypeError(f"subset_batch_miner: cannot index a batch of type {type(data).__name__}")


def _rank_map(values: np.ndarray) -> dict[Any, int]:
    uniq = np.unique(values)
    return {v.item() if hasattr(v, "item") else v: i for i, v in enumerate(uniq)}


class LabelMapper:
    """PML's ``LabelMapper``: with ``set_min_label_to_zero``, labels become their rank among ``dataset_labels``.

    ``dataset_labels`` is the label of every dataset item, shape (N,) or (N, levels); each
    hierarchy level is mapped on its own. Unlike PML, ``set_min_label_to_zero=True`` without
    ``dataset_labels`` raises ``ValueError`` (PML fails with AttributeError at the first batch),
    and a label absent from ``dataset_labels`` raises ``ValueError`` naming it.

    Examples
    --------
    >>> m = LabelMapper(True, [10, 30, 20, 10])
    >>> m.map(np.array([30, 10]), 0).tolist()
    [2, 0]
    """

    def __init__(self, set_min_label_to_zero: bool = False, dataset_labels: Any = None) -> None:
        self.set_min_label_to_zero = bool(set_min_label_to_zero)
        self.label_map: dict[int, dict[Any, int]] | None = None
        if dataset_labels is not None:
            labels = np.asarray(dataset_labels.cpu() if isinstance(dataset_labels, torch.Tensor) else dataset_labels)
            if labels.ndim == 1:
                self.label_map = {0: _rank_map(labels)}
            elif labels.ndim == 2:
                self.label_map = {h: _rank_map(labels[:, h]) for h in range(labels.shape[1])}
            else:
                raise ValueError(f"dataset_labels must have shape (N,) or (N, levels), got {labels.shape}")
        if self.set_min_label_to_zero and self.label_map is None:
            raise ValueError("set_min_label_to_zero=True needs dataset_labels (the label of every dataset item)")

    def map(self, labels: np.ndarray, hierarchy_level: int) -> np.ndarray:
        if not self.set_min_label_to_zero:
            return labels
        table = self.label_map[hierarchy_level]  # type: ignore[index]
        try:
            return np.array([table[x.item() if hasattr(x, "item") else x] for x in labels], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} (level {hierarchy_level}) is not in dataset_labels") from None


def _to_numpy(v: Any) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def process_label(labels: Any, hierarchy_level: Any, label_map: Callable[[np.ndarray, int], np.ndarray]) -> torch.Tensor:
    """Map labels level by level, select ``hierarchy_level`` ("all", an int or a list), return a tensor."""
    if isinstance(labels, (list, tuple)):
        arr = np.stack([_to_numpy(v) for v in labels], axis=1)
    else:
        arr = _to_numpy(labels)
    if arr.ndim == 2:
        mapped = np.stack([np.asarray(label_map(arr[:, h], h)) for h in range(arr.shape[1])], axis=1)
    else:
        mapped = np.asarray(label_map(arr, 0))
    if hierarchy_level != "all":
        levels = hierarchy_level if isinstance(hierarchy_level, (list, tuple)) else [hierarchy_level]
        top = max(levels)
        if top > 0 and (mapped.ndim != 2 or mapped.shape[1] <= top):
            raise ValueError(
                f"label_hierarchy_level={hierarchy_level!r} needs labels of shape (batch, > {top}), got {mapped.shape}"
            )
        if mapped.ndim == 2:
            mapped = mapped[:, hierarchy_level]
    return torch.from_numpy(np.ascontiguousarray(mapped))


# -- samplers and datasets ---------------------------------------------------------------

def _num_classes(sampler: Any) -> int | None:
    n = getattr(sampler, "num_classes", None)
    if isinstance(n, (int, np.integer)):
        return int(n)
    l2i = getattr(sampler, "labels_to_indices", None)
    if isinstance(l2i, Mapping):
        return len(l2i)
    labels = getattr(sampler, "labels", None)
    if labels is not None:
        try:
            return int(np.unique(_to_numpy(labels)).shape[0])
        except (TypeError, ValueError):
            return None
    return None


def check_sampler(owner: str, sampler: Any, batch_size: int) -> None:
    """Raise if an M-per-class sampler cannot fill a batch of ``batch_size`` with m per class."""
    if sampler is None:
        return
    m = getattr(sampler, "m_per_class", getattr(sampler, "m", None))
    batch = is_batch_sampler(sampler)
    sb = getattr(sampler, "batch_size", None)
    replicas = getattr(sampler, "num_replicas", 1)
    replicas = replicas if isinstance(replicas, int) and replicas > 0 else 1
    if batch:
        if isinstance(sb, int) and sb // replicas != batch_size:
            warnings.warn(
                f"{owner}: sampler is a batch sampler with batch_size={sb}"
                + (f" ({sb // replicas} per rank)" if replicas > 1 else "")
                + f"; the trainer's batch_size={batch_size} is not used",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        return
    if isinstance(sb, int) and sb // replicas != batch_size:
        raise ValueError(
            f"{owner}: the sampler was built with batch_size={sb}"
            + (f" and num_replicas={replicas} ({sb // replicas} per rank)" if replicas > 1 else "")
            + f" but the trainer has batch_size={batch_size}; pass the same batch size to both"
        )
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
        return
    m = int(m)
    if batch_size % m != 0:
        raise ValueError(
            f"{owner}: batch_size={batch_size} is not divisible by the sampler's m={m}; every batch must hold "
            f"m items of each of its classes, so batch_size must be a multiple of m (e.g. {max(m, batch_size - batch_size % m)})"
        )
    classes = _num_classes(sampler)
    if classes is not None and m * classes < batch_size:
        raise ValueError(
            f"{owner}: the sampler has m={m} and {classes} classes, so a batch holds at most m x classes = "
            f"{m * classes} items, fewer than batch_size={batch_size}; lower batch_size or raise m"
        )


def check_dataset(owner: str, dataset: Any, sampler: Any, batch_size: int) -> None:
    """Raise if the dataset is empty or a drop-last loader would yield no batch."""
    try:
        n = len(dataset)
    except TypeError:
        return
    if n == 0:
        raise ValueError(f"{owner}: dataset is empty (len(dataset) == 0)")
    try:
        units = len(sampler) if sampler is not None else n
    except TypeError:
        return
    if is_batch_sampler(sampler):
        if units == 0:
            raise ValueError(f"{owner}: the batch sampler yields no batch (len(sampler) == 0)")
        return
    if units // batch_size == 0:
        what = "the sampler yields" if sampler is not None else "the dataset has"
        raise ValueError(
            f"{owner}: {what} {units} items, fewer than batch_size={batch_size}; the training loader drops the "
            "last incomplete batch, so there would be no batch at all"
        )
