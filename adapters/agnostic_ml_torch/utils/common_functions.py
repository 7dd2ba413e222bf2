"""PML's ``utils.common_functions``: the parts user code calls, under PML's names.

``from pytorch_metric_learning.utils import common_functions as c_f`` becomes
``from agnostic_ml_torch.utils import common_functions as c_f``. What differs from PML:

* :func:`save_model` writes atomically (a temporary file, then a rename): a failed write
  leaves the previous file intact. :func:`load_model` reads with ``weights_only=True``,
  strips DataParallel's ``module.`` prefix when the model does not expect it (PML catches
  a ``KeyError`` that ``load_state_dict`` never raises, so its fallback never runs), and
  raises a :class:`CheckpointError` naming the file when it is truncated or corrupted.
* :func:`to_dtype` never changes a tensor in place (it returns a new one, so parameters
  keep their dtype); under ``torch.autocast`` it returns ``x`` unchanged, as PML does.
* :class:`LabelMapper` raises a ``ValueError`` naming the label it does not know.
* :func:`check_shapes` / :func:`labels_required` raise the same ``ValueError`` s as PML.

PML's global ``NUMPY_RANDOM`` / ``COLLECT_STATS`` flags are not here: randomness is an
explicit ``rng`` argument and statistics are per object (``collect_stats=True``).

Examples
--------
>>> import torch
>>> from agnostic_ml_torch.utils import common_functions as c_f
>>> sorted(c_f.get_labels_to_indices(torch.tensor([3, 1, 3])).items())
[(1, array([1])), (3, array([0, 2]))]
>>> c_f.LabelMapper(True, [10, 30, 20]).map([30, 10], 0).tolist()
[2, 0]
"""

from __future__ import annotations

import collections
import glob
import logging
import os
import re
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from .._checkpoint import CheckpointError, load_state, save_state

__all__ = [
    "LOGGER",
    "LOGGER_NAME",
    "set_logger_name",
    "pos_inf",
    "neg_inf",
    "small_val",
    "is_list_or_tuple",
    "try_next_on_generator",
    "numpy_to_torch",
    "to_numpy",
    "get_hierarchy_label",
    "map_labels",
    "process_label",
    "set_requires_grad",
    "shift_indices_tuple",
    "safe_random_choice",
    "set_layers_to_eval",
    "get_train_dataloader",
    "is_batch_sampler",
    "get_eval_dataloader",
    "get_labels_to_indices",
    "make_label_to_rank_dict",
    "get_label_map",
    "LabelMapper",
    "set_min_label_to_zero",
    "modelpath_creator",
    "save_model",
    "load_model",
    "save_dict_of_models",
    "load_dict_of_models",
    "delete_dict_of_models",
    "latest_version",
    "return_input",
    "check_shapes",
    "assert_distance_type",
    "torch_arange_from_size",
    "TorchInitWrapper",
    "EmbeddingDataset",
    "torch_standard_scaler",
    "to_dtype",
    "to_device",
    "labels_not_supported",
    "ref_not_supported",
    "indices_tuple_not_supported",
    "labels_required",
    "labels_or_indices_tuple_required",
    "concatenate_indices_tuples",
    "use_cuda_if_available",
    "model_device",
    "CheckpointError",
]

LOGGER_NAME = "PML"
LOGGER = logging.getLogger(LOGGER_NAME)


def set_logger_name(name: str) -> None:
    """Log under ``name`` from now on (PML's ``set_logger_name``; the default is ``"PML"``).

    Modules of this package look ``LOGGER`` up here at call time, so the change reaches them.
    """
    global LOGGER_NAME, LOGGER
    LOGGER_NAME = name
    LOGGER = logging.getLogger(name)


def logger() -> logging.Logger:
    """The current logger (follows :func:`set_logger_name`)."""
    return LOGGER


# -- dtype sentinels ---------------------------------------------------------------------------
def pos_inf(dtype: torch.dtype) -> float:
    """The largest finite value of ``dtype`` (PML uses it instead of ``inf``; fp16-safe)."""
    return torch.finfo(dtype).max


def neg_inf(dtype: torch.dtype) -> float:
    """The most negative finite value of ``dtype``."""
    return torch.finfo(dtype).min


def small_val(dtype: torch.dtype) -> float:
    """The smallest positive normal value of ``dtype``."""
    return torch.finfo(dtype).tiny


def is_list_or_tuple(x: Any) -> bool:
    return isinstance(x, (list, tuple))


def try_next_on_generator(gen: Any, iterable: Iterable) -> tuple[Any, Any]:
    """``(gen, next(gen))``, restarting ``iter(iterable)`` once when ``gen`` is exhausted."""
    try:
        return gen, next(gen)
    except StopIteration:
        gen = iter(iterable)
        return gen, next(gen)


def numpy_to_torch(v: Any) -> Any:
    """``torch.from_numpy(v)`` for NumPy arrays; anything else unchanged."""
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def to_numpy(v: Any) -> Any:
    """A host NumPy array for a tensor; anything else unchanged."""
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return v


# -- labels ------------------------------------------------------------------------------------
def get_hierarchy_label(batch_labels: Any, hierarchy_level: int | str | Iterable[int]) -> Any:
    """The column(s) ``hierarchy_level`` of ``(N, levels)`` labels; ``"all"`` keeps every column."""
    if hierarchy_level == "all":
        return batch_labels
    top = max(hierarchy_level) if is_list_or_tuple(hierarchy_level) else hierarchy_level
    if top > 0 and not (batch_labels.ndim == 2 and batch_labels.shape[1] > top):
        raise ValueError(
            f"label_hierarchy_level {hierarchy_level!r} needs labels of shape (N, > {top}), "
            f"got shape {tuple(batch_labels.shape)}"
        )
    if batch_labels.ndim == 2:
        batch_labels = batch_labels[:, hierarchy_level]
    return batch_labels


def map_labels(label_map: Callable[[Any, int], Any], labels: Any) -> np.ndarray:
    """Apply ``label_map(column, level)`` to every level of host labels (PML's ``map_labels``).

    A list or tuple is one array per hierarchy level (what a ``DataLoader`` collates from
    items whose label is a tuple), stacked into ``(N, levels)``.
    """
    if is_list_or_tuple(labels):
        labels = np.stack([np.asarray(to_numpy(sub)) for sub in labels], axis=1)
    else:
        labels = np.asarray(to_numpy(labels))
    if labels.ndim == 2:
        cols = [np.asarray(label_map(labels[:, h], h)) for h in range(labels.shape[1])]
        return np.stack(cols, axis=1) if cols else labels
    return np.asarray(label_map(labels, 0))


def process_label(labels: Any, hierarchy_level: Any, label_map: Callable[[Any, int], Any]) -> torch.Tensor:
    """Map the labels, pick the hierarchy level(s) and return a tensor (PML's ``process_label``)."""
    out = get_hierarchy_label(map_labels(label_map, labels), hierarchy_level)
    return torch.from_numpy(np.ascontiguousarray(out))


def get_labels_to_indices(labels: Any) -> dict[Any, np.ndarray]:
    """``{label: array of the indices that carry it}`` (int arrays), in order of appearance."""
    labels = to_numpy(labels)
    out: dict[Any, list[int]] = collections.defaultdict(list)
    for i, label in enumerate(labels):
        out[label.item() if isinstance(label, np.generic) else label].append(i)
    return {k: np.array(v, dtype=int) for k, v in out.items()}


def make_label_to_rank_dict(label_set: Iterable[Any]) -> dict[Any, int]:
    """``{label: its rank in sorted order}``; raises ``ValueError`` on duplicates."""
    label_set = list(label_set)
    if len(set(label_set)) != len(label_set):
        raise ValueError("label set must not have duplicates")
    return {k: i for i, k in enumerate(sorted(label_set))}


def get_label_map(labels: Any) -> dict[int, dict[Any, int]]:
    """``{level: {label: rank}}`` for 1-D (level 0 only) or ``(N, levels)`` labels."""
    labels = np.asarray(to_numpy(labels))
    if labels.ndim == 2:
        return {h: make_label_to_rank_dict(np.unique(labels[:, h]).tolist()) for h in range(labels.shape[1])}
    return {0: make_label_to_rank_dict(np.unique(labels).tolist())}


class LabelMapper:
    """Map labels to ``0..C-1`` per hierarchy level when ``set_min_label_to_zero`` (PML's class).

    Parameters
    ----------
    set_min_label_to_zero : bool
        Off: labels pass through unchanged.
    dataset_labels : array-like, optional
        Every label of the dataset (``(N,)`` or ``(N, levels)``); required when mapping.
    """

    def __init__(self, set_min_label_to_zero: bool = False, dataset_labels: Any = None) -> None:
        self.set_min_label_to_zero = bool(set_min_label_to_zero)
        self.label_map: dict[int, dict[Any, int]] | None = None
        if dataset_labels is not None:
            self.label_map = get_label_map(dataset_labels)
        elif self.set_min_label_to_zero:
            raise ValueError("set_min_label_to_zero=True needs dataset_labels (every label of the dataset)")

    def map(self, labels: Any, hierarchy_level: int) -> Any:
        if not self.set_min_label_to_zero:
            return labels
        assert self.label_map is not None
        table = self.label_map[hierarchy_level]
        vals = np.asarray(to_numpy(labels)).tolist()
        try:
            return np.array([table[x] for x in vals], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(
                f"label {exc.args[0]!r} (hierarchy level {hierarchy_level}) is not in dataset_labels"
            ) from None


def set_min_label_to_zero(labels: Any, dataset_labels: Any = None) -> np.ndarray:
    """Labels mapped to their rank among ``dataset_labels`` (default: among ``labels``).

    >>> set_min_label_to_zero([5, 9, 5]).tolist()
    [0, 1, 0]
    """
    labels = np.asarray(to_numpy(labels))
    ref = labels if dataset_labels is None else dataset_labels
    mapper = LabelMapper(True, ref)
    return map_labels(mapper.map, labels)


# -- models and batches ------------------------------------------------------------------------
def set_requires_grad(model: torch.nn.Module, requires_grad: bool) -> None:
    for param in model.parameters():
        param.requires_grad = requires_grad


def shift_indices_tuple(indices_tuple: tuple | None, batch_size: int) -> tuple | None:
    """Shift the positive/negative indices of a triplet or pair tuple by ``batch_size`` (PML's)."""
    if indices_tuple is None:
        return None
    if len(indices_tuple) == 3:
        return (indices_tuple[0],) + tuple(x + batch_size if len(x) > 0 else x for x in indices_tuple[1:])
    if len(indices_tuple) == 4:
        return tuple(x + batch_size if len(x) > 0 and i % 2 == 1 else x for i, x in enumerate(indices_tuple))
    return indices_tuple


def safe_random_choice(input_data: Any, size: int, rng: Any = None) -> np.ndarray:
    """``size`` draws from ``input_data``, without replacement when there are enough items.

    ``rng`` is a ``numpy.random.Generator``, a seed or None (PML uses its global
    ``NUMPY_RANDOM``).
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return gen.choice(np.asarray(to_numpy(input_data)), size=size, replace=len(input_data) < size)


def set_layers_to_eval(layer_name: str) -> Callable[[torch.nn.Module], None]:
    """A function for ``model.apply`` that puts every layer whose class name contains ``layer_name`` in eval mode."""

    def set_to_eval(m: torch.nn.Module) -> None:
        if layer_name in m.__class__.__name__:
            m.eval()

    return set_to_eval


_BATCH_SAMPLER_NAMES = ("HierarchicalSampler",)


def is_batch_sampler(sampler: Any) -> bool:
    """Whether ``sampler`` yields lists of indices (a DataLoader ``batch_sampler``).

    True for ``torch.utils.data.BatchSampler`` subclasses, for objects whose
    ``yields_batches`` attribute is True, and for classes named ``*BatchSampler`` or
    ``HierarchicalSampler`` (this library's batch samplers are resumable ``Sampler`` s).
    """
    if sampler is None:
        return False
    if isinstance(sampler, torch.utils.data.BatchSampler):
        return True
    flag = getattr(sampler, "yields_batches", None)
    if flag is not None:
        return bool(flag)
    name = type(sampler).__name__
    return name.endswith("BatchSampler") or name in _BATCH_SAMPLER_NAMES


def get_train_dataloader(
    dataset: Any,
    batch_size: int,
    sampler: Any,
    num_workers: int,
    collate_fn: Any,
    generator: torch.Generator | None = None,
) -> torch.utils.data.DataLoader:
    """PML's training loader: a batch sampler (:func:`is_batch_sampler`) goes to
    ``batch_sampler``; otherwise ``drop_last=True`` and shuffling when there is no sampler.

    ``generator`` (not in PML) seeds the shuffling and the workers; the trainers pass their own
    so that a resumed run draws the same batches.
    """
    if is_batch_sampler(sampler):
        return torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate_fn,
            pin_memory=False, generator=generator,
        )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=int(batch_size),
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        collate_fn=collate_fn,
        shuffle=sampler is None,
        pin_memory=False,
        generator=generator,
    )


def get_eval_dataloader(dataset: Any, batch_size: int, num_workers: int, collate_fn: Any) -> torch.utils.data.DataLoader:
    """PML's evaluation loader: in order, every item (no shuffling, no dropped batch)."""
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=int(batch_size),
        drop_last=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        shuffle=False,
        pin_memory=False,
    )


# -- model files -------------------------------------------------------------------------------
def modelpath_creator(folder: str, basename: str, identifier: Any, extension: str = ".pth") -> str:
    """``folder/basename_identifier.pth`` (``folder/basename.pth`` without an identifier)."""
    if identifier is None:
        return os.path.join(folder, basename + extension)
    return os.path.join(folder, f"{basename}_{identifier}{extension}")


def _unwrap(model: Any) -> Any:
    parallel = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    return model.module if isinstance(model, parallel) else model


def save_model(model: Any, filepath: str | os.PathLike) -> None:
    """Save ``model.state_dict()`` (of the wrapped module for DataParallel / DDP), atomically.

    Anything with a ``state_dict()`` works: models, optimizers, schedulers, losses, miners.
    """
    save_state(_unwrap(model).state_dict(), filepath)


def load_model(model_def: Any, model_filename: str | os.PathLike, device: Any = None) -> None:
    """Load a state dict saved by :func:`save_model` (or PML's) into ``model_def``.

    Reads with ``weights_only=True``. Keys saved from a DataParallel model (``module.x``)
    are stripped when ``model_def`` does not expect the prefix.

    Raises
    ------
    FileNotFoundError, CheckpointError
        The file is missing, or truncated / corrupted (the error names the file).
    """
    state = load_state(model_filename, map_location=device)
    target = _unwrap(model_def)
    if isinstance(state, Mapping) and isinstance(target, torch.nn.Module) and state:
        keys = list(state.keys())
        expects_prefix = any(k.startswith("module.") for k in target.state_dict().keys())
        if not expects_prefix and all(isinstance(k, str) and k.startswith("module.") for k in keys):
            state = collections.OrderedDict((k[len("module."):], v) for k, v in state.items())
    target.load_state_dict(state)


def _operate_on_dict_of_models(
    input_dict: Mapping[str, Any],
    suffix: Any,
    folder: str,
    operation: Callable[[Any, str], None],
    logging_string: str = "",
    log_if_successful: bool = False,
    assert_success: bool = False,
) -> None:
    for k, v in input_dict.items():
        model_path = modelpath_creator(folder, k, suffix)
        try:
            operation(v, model_path)
            if log_if_successful:
                LOGGER.info("%s %s", logging_string, model_path)
        except OSError:
            LOGGER.warning("Could not %s %s", logging_string, model_path)
            if assert_success:
                raise


def save_dict_of_models(input_dict: Mapping[str, Any], suffix: Any, folder: str, **kwargs: Any) -> None:
    """Save every object of ``input_dict`` to ``folder/<key>_<suffix>.pth`` (each file atomically)."""
    _operate_on_dict_of_models(input_dict, suffix, folder, lambda v, p: save_model(v, p), "SAVE", **kwargs)


def load_dict_of_models(input_dict: Mapping[str, Any], suffix: Any, folder: str, device: Any = None, **kwargs: Any) -> None:
    """Load ``folder/<key>_<suffix>.pth`` into every object of ``input_dict``.

    A missing file is logged and skipped (as in PML) unless ``assert_success=True``; a
    damaged file always raises :class:`CheckpointError`.
    """
    _operate_on_dict_of_models(input_dict, suffix, folder, lambda v, p: load_model(v, p, device), "LOAD", **kwargs)


def delete_dict_of_models(input_dict: Mapping[str, Any], suffix: Any, folder: str, **kwargs: Any) -> None:
    def operation(v: Any, model_path: str) -> None:
        if os.path.exists(model_path):
            os.remove(model_path)

    _operate_on_dict_of_models(input_dict, suffix, folder, operation, "DELETE", **kwargs)


def latest_version(folder: str, string_to_glob: str = "trunk_*.pth", best: bool = False) -> tuple[int, Any]:
    """``(epoch, suffix)`` of the newest ``<name>_<epoch>.pth`` (or ``_best<epoch>.pth``) file; ``(0, None)`` if none.

    >>> import tempfile
    >>> latest_version(tempfile.mkdtemp())
    (0, None)
    """
    items = glob.glob(os.path.join(glob.escape(folder), string_to_glob))
    model_regex = re.compile(r"best([0-9]+)\.pth$" if best else r"_([0-9]+)\.pth$")
    versions = [int(m.group(1)) for m in (model_regex.search(x) for x in items) if m]
    if not versions:
        return 0, None
    epoch = max(versions)
    return epoch, (f"best{epoch}" if best else epoch)


def return_input(x: Any) -> Any:
    return x


# -- checks PML's losses use --------------------------------------------------------------------
def check_shapes(embeddings: Any, labels: Any) -> None:
    """``ValueError`` unless ``labels`` is None or 1-D with one label per embedding (PML's check)."""
    if labels is not None and embeddings.shape[0] != labels.shape[0]:
        raise ValueError("Number of embeddings must equal number of labels")
    if labels is not None and labels.ndim != 1:
        raise ValueError("labels must be a 1D tensor of shape (batch_size,)")


def assert_distance_type(obj: Any, distance_type: Any = None, **kwargs: Any) -> None:
    """``TypeError`` unless ``obj.distance`` is a ``distance_type`` with the given attributes
    (PML asserts; we raise with the same message)."""
    obj_name = obj.__class__.__name__
    if distance_type is not None:
        if is_list_or_tuple(distance_type):
            names = "one of " + ", ".join(x.__name__ for x in distance_type)
            distance_type = tuple(distance_type)
        else:
            names = distance_type.__name__
        if not isinstance(obj.distance, distance_type):
            raise TypeError(f"{obj_name} requires the distance metric to be {names}")
    for k, v in kwargs.items():
        if getattr(obj.distance, k) != v:
            raise ValueError(f"{obj_name} requires distance.{k} to be {v}")


def torch_arange_from_size(input: torch.Tensor, size_dim: int = 0) -> torch.Tensor:
    return torch.arange(input.size(size_dim), device=input.device)


class TorchInitWrapper:
    """``TorchInitWrapper(torch.nn.init.normal_, std=0.01)(tensor)`` calls the init with its kwargs."""

    def __init__(self, init_func: Callable[..., Any], **kwargs: Any) -> None:
        self.init_func = init_func
        self.kwargs = kwargs

    def __call__(self, tensor: torch.Tensor) -> None:
        self.init_func(tensor, **self.kwargs)


class EmbeddingDataset(torch.utils.data.Dataset):
    """``(embeddings[i], labels[i])`` items: a dataset over precomputed embeddings."""

    def __init__(self, embeddings: Any, labels: Any) -> None:
        if len(embeddings) != len(labels):
            raise ValueError(f"embeddings ({len(embeddings)}) and labels ({len(labels)}) differ in length")
        self.embeddings = embeddings
        self.labels = labels

    def __len__(self) -> int:
        return len(self.embeddings)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        return self.embeddings[idx], self.labels[idx]


def torch_standard_scaler(x: torch.Tensor) -> torch.Tensor:
    """Columns scaled to mean 0 and (unbiased) standard deviation 1; constant columns become 0
    (PML divides by their zero deviation and returns NaN)."""
    mean = torch.mean(x, dim=0)
    std = torch.std(x, dim=0) if x.shape[0] > 1 else torch.zeros_like(mean)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (x - mean) / std


def to_dtype(x: torch.Tensor, tensor: torch.Tensor | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` as ``dtype`` (or ``tensor.dtype``): a new tensor, never an in-place cast.

    Under ``torch.autocast`` it returns ``x`` unchanged, as PML does (autocast chooses).
    """
    if torch.is_autocast_enabled():
        return x
    dt = dtype if dtype is not None else tensor.dtype
    return x if x.dtype == dt else x.to(dt)


def to_device(x: Any, tensor: torch.Tensor | None = None, device: Any = None, dtype: torch.dtype | None = None) -> Any:
    """``x`` on ``device`` (or ``tensor.device``), optionally cast with :func:`to_dtype`.

    Lists and tuples of tensors are moved element by element; non-tensors pass through.
    """
    if is_list_or_tuple(x):
        return type(x)(to_device(v, tensor, device, dtype) for v in x)
    if not isinstance(x, torch.Tensor):
        return x
    dv = device if device is not None else tensor.device
    if x.device != torch.device(dv):
        x = x.to(dv)
    if dtype is not None:
        x = to_dtype(x, dtype=dtype)
    return x


def labels_not_supported(labels: Any, ref_labels: Any) -> None:
    if labels is not None or ref_labels is not None:
        raise ValueError("labels are ref_labels are not supported for this loss function")


def ref_not_supported(embeddings: Any, labels: Any, ref_emb: Any, ref_labels: Any) -> None:
    if ref_emb is not embeddings or ref_labels is not labels:
        raise ValueError("ref_emb is not supported for this loss function")


def indices_tuple_not_supported(indices_tuple: Any) -> None:
    if indices_tuple is not None:
        raise ValueError("indices_tuple is not supported for this loss function")


def labels_required(labels: Any) -> None:
    if labels is None:
        raise ValueError("labels are required for this loss function")


def labels_or_indices_tuple_required(labels: Any, indices_tuple: Any) -> None:
    if labels is None and indices_tuple is None:
        raise ValueError("labels and indices_tuple cannot both be None")


def concatenate_indices_tuples(it1: tuple, it2: tuple) -> tuple:
    return tuple(torch.cat([x, to_device(y, x)], dim=0) for x, y in zip(it1, it2))


def use_cuda_if_available() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(*models: Any) -> torch.device:
    """The device of the first parameter or buffer of the first model that has one (else CPU).

    The testers and ``InferenceModel`` put inputs there by default (PML puts them on CUDA
    whenever CUDA exists, which fails for a model kept on the CPU).
    """
    for m in models:
        if isinstance(m, torch.nn.Module):
            for t in m.parameters():
                return t.device
            for t in m.buffers():
                return t.device
    return torch.device("cpu")
