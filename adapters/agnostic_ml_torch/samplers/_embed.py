"""Embed a dataset with a model (what TuplesToWeightsSampler needs from PML's BaseTester).

A small local stand-in for ``BaseTester.get_all_embeddings`` until the testers exist: the
model runs over a non-shuffled DataLoader in eval mode under ``torch.no_grad()``, the rows
are concatenated, optionally standard-scaled and reduced by PCA, then L2-normalised.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["TESTER_KWARGS", "embed_dataset"]

#: BaseTester's constructor arguments. Those that shape the embeddings are used; the others
#: (evaluation, logging, label mapping) do not change what is mined and are accepted for
#: PML compatibility only, as PML's TuplesToWeightsSampler ignores them too.
TESTER_KWARGS = frozenset(
    {
        "normalize_embeddings",
        "use_trunk_output",
        "batch_size",
        "dataloader_num_workers",
        "pca",
        "data_device",
        "dtype",
        "data_and_label_getter",
        "label_hierarchy_level",
        "end_of_testing_hook",
        "dataset_labels",
        "set_min_label_to_zero",
        "accuracy_calculator",
        "visualizer",
        "visualizer_hook",
    }
)


def _model_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _pca(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Standard-scale the columns, then project onto the top ``dim`` principal axes (as PML's faiss PCA)."""
    x = (x - x.mean(dim=0)) / x.std(dim=0).clamp_min(torch.finfo(x.dtype).tiny)
    x = x - x.mean(dim=0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    return x @ vh[:dim].mT


def embed_dataset(
    model: torch.nn.Module,
    dataset: Any,
    *,
    batch_size: int = 32,
    dataloader_num_workers: int = 2,
    data_device: Any = None,
    dtype: Any = None,
    data_and_label_getter: Callable[[Any], tuple[Any, Any]] | None = None,
    normalize_embeddings: bool = True,
    pca: int | None = None,
    **_ignored: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(embeddings (N, D), labels (N, levels))`` of every item of ``dataset``, in order.

    ``data_device`` defaults to the model's device (PML: CUDA whenever available, which
    fails for a CPU model on a GPU machine). The model's training mode is restored after.
    """
    device = torch.device(data_device) if data_device is not None else _model_device(model)
    getter = data_and_label_getter if data_and_label_getter is not None else (lambda batch: (batch[0], batch[1]))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=int(batch_size), shuffle=False, drop_last=False, num_workers=int(dataloader_num_workers)
    )
    was_training = model.training
    model.eval()
    embs, labs = [], []
    try:
        with torch.no_grad():
            for batch in loader:
                data, label = getter(batch)
                data = data.to(device) if dtype is None else data.to(device=device, dtype=dtype)
                embs.append(model(data))
                label = torch.as_tensor(label)
                labs.append((label.unsqueeze(1) if label.dim() == 1 else label).to(device))
    finally:
        model.train(was_training)
    if not embs:
        raise ValueError("dataset is empty: nothing to embed")
    emb = torch.cat(embs, dim=0)
    if pca:
        emb = _pca(emb, int(pca))
    if normalize_embeddings:
        emb = torch.nn.functional.normalize(emb)
    return emb, torch.cat(labs, dim=0)
