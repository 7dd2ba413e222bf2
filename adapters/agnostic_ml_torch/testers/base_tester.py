"""BaseTester: embed every split, then compute retrieval accuracy with ``AccuracyCalculator``.

PML 2.9's tester with the same constructor, ``test`` signature, result keys and attributes,
on the exact faiss-free :class:`agnostic_ml.accuracy.AccuracyCalculator`. Subclasses decide
how a query split is compared with its reference splits (:meth:`do_knn_and_accuracies`).

What differs from PML, on purpose:

* ``pca`` uses scikit-learn (PML needs faiss). When a query split is compared with *other*
  splits, one scaler + PCA is fitted on all embedded splits together, so query and
  reference live in the same projected space (PML fits one PCA per split, which makes a
  cross-split comparison meaningless). With each split compared only with itself (the
  default) it is fitted per split, as PML does.
* ``data_device=None`` puts the inputs on the device of the trunk's parameters (PML picks
  CUDA whenever it exists, which fails for a model kept on the CPU).
* The default ``data_and_label_getter`` also accepts batches that are dicts with ``"data"``
  and ``"label"`` keys (the 0.9-era datasets of seed 004), besides PML's ``(data, labels)``.
* ``reference_set`` (0.9-era: ``"compared_to_self"``, ``"compared_to_sets_combined"``,
  ``"compared_to_training_set"``) is accepted with a ``FutureWarning`` and mapped onto
  ``splits_to_eval``.
* A ``visualizer`` without a ``visualizer_hook`` writes a PNG per split (PML computes the
  projection and drops it); see ``plot_folder``.
* Bad configuration raises ``ValueError`` with a message (PML asserts).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import tqdm

from agnostic_ml.accuracy import AccuracyCalculator

from .. import inference
from ..utils import common_functions as c_f
from .visualization import AutoVisualizer, EmbeddingPlotWriter, visualizer_name

__all__ = ["BaseTester", "default_data_and_label_getter", "REFERENCE_SETS"]

#: The 0.9-era ``reference_set`` values and what they mean.
REFERENCE_SETS = ("compared_to_self", "compared_to_sets_combined", "compared_to_training_set")

# 0.9-era tester arguments that moved elsewhere: a clear TypeError says where.
_MOVED = {
    "metric_for_best_epoch": "pass primary_metric= to logging_presets.get_hook_container",
    "record_keeper": "pass the record keeper to logging_presets.get_hook_container and "
    "end_of_testing_hook=hooks.end_of_testing_hook to the tester",
    "record_group_name_prefix": "pass record_group_name_prefix= to logging_presets.get_hook_container",
    "size_of_tsne": "pass visualizer='tsne' (and plot_folder=) to the tester",
}


def default_data_and_label_getter(data: Any) -> Any:
    """``(inputs, labels)`` of a batch: PML's ``(inputs, labels, ...)`` tuples as they are, or a
    dict batch's ``data["data"], data["label"]`` (0.9-era datasets)."""
    if isinstance(data, Mapping):
        try:
            return data["data"], data["label"]
        except KeyError as exc:
            raise KeyError(
                f"a dict batch needs the keys 'data' and 'label' (got {sorted(data)}); "
                "pass data_and_label_getter= to read other keys"
            ) from exc
    return data


class BaseTester:
    """Embed the splits of a dataset dict and compute their retrieval accuracies (PML's ``BaseTester``).

    Parameters
    ----------
    normalize_embeddings : bool, default True
        L2-normalise the embeddings (after PCA) before the accuracies.
    use_trunk_output : bool, default False
        Evaluate the trunk's output and ignore the embedder.
    batch_size : int, default 32
        Items per forward pass.
    dataloader_num_workers : int, default 2
    pca : int, optional
        Standard-scale, then project onto this many principal components (scikit-learn).
    data_device : torch.device, optional
        Where inputs go; default: the device of the trunk's parameters.
    dtype : torch.dtype, optional
        Cast inputs to it.
    data_and_label_getter : callable, optional
        ``batch -> (inputs, labels)``; default :func:`default_data_and_label_getter`.
    label_hierarchy_level : int, list of int or "all", default 0
        Column(s) of ``(N, levels)`` labels to evaluate.
    end_of_testing_hook : callable, optional
        ``hook(tester)`` after each ``test`` (e.g. ``HookContainer.end_of_testing_hook``);
        without one, the accuracies are logged.
    dataset_labels : array-like, optional
        Every label of the datasets, for ``set_min_label_to_zero``.
    set_min_label_to_zero : bool, default False
        Map labels to ``0..C-1`` per level.
    accuracy_calculator : AccuracyCalculator, optional
        Default ``agnostic_ml.accuracy.AccuracyCalculator()`` (exact, no faiss).
    visualizer : None, "auto", "umap", "tsne", "pca" or object with ``fit_transform``
        Projects each split to 2-D (PML: an object such as ``umap.UMAP()``). Default None
        (no projection: ``test`` stays fast and deterministic), unless ``plot_folder`` is
        given, which turns on ``"auto"``.
    visualizer_hook : callable, optional
        ``hook(visualizer, dim_reduced, labels, split_name, keyname, epoch)``. Default with a
        visualizer: :class:`EmbeddingPlotWriter` writing ``plot_folder/<split>_<keyname>.png``.
    reference_set : str, optional
        0.9-era alias for ``splits_to_eval`` (FutureWarning): ``"compared_to_self"``,
        ``"compared_to_sets_combined"`` or ``"compared_to_training_set"``.
    plot_folder : str or path, optional
        Folder of the default hook's PNGs. Opting in to the picture is giving this folder.

    Attributes
    ----------
    all_accuracies : dict
        ``{query split: {"epoch": e, "<metric>_level<L>": value, ...}}`` after ``test``.
    embeddings_and_labels : dict
        ``{split: (embeddings, labels)}`` during ``test`` (visualizer, end-of-testing hook);
        deleted when ``test`` returns, as in PML, to free the memory.
    """

    def __init__(
        self,
        normalize_embeddings: bool = True,
        use_trunk_output: bool = False,
        batch_size: int = 32,
        dataloader_num_workers: int = 2,
        pca: int | None = None,
        data_device: Any = None,
        dtype: torch.dtype | None = None,
        data_and_label_getter: Callable[[Any], Any] | None = None,
        label_hierarchy_level: int | str | Sequence[int] = 0,
        end_of_testing_hook: Callable[["BaseTester"], Any] | None = None,
        dataset_labels: Any = None,
        set_min_label_to_zero: bool = False,
        accuracy_calculator: AccuracyCalculator | None = None,
        visualizer: Any = None,
        visualizer_hook: Callable[..., Any] | None = None,
        *,
        reference_set: str | None = None,
        plot_folder: Any = None,
        **legacy: Any,
    ) -> None:
        for name in legacy:
            if name in _MOVED:
                raise TypeError(f"{type(self).__name__}: the 0.9-era argument {name!r} moved: {_MOVED[name]}")
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument {name!r}")
        if isinstance(normalize_embeddings, str):  # 0.9-era: reference_set was the first positional argument
            if normalize_embeddings not in REFERENCE_SETS or reference_set is not None:
                raise TypeError(f"normalize_embeddings must be a bool, got {normalize_embeddings!r}")
            normalize_embeddings, reference_set = True, normalize_embeddings
        self.normalize_embeddings = bool(normalize_embeddings)
        if pca is not None and pca is not False and (isinstance(pca, bool) or int(pca) < 1):
            raise ValueError(f"pca must be None or a positive number of dimensions, got {pca!r}")
        self.pca = int(pca) if pca else None
        self.use_trunk_output = bool(use_trunk_output)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.data_device = data_device
        self.dtype = dtype
        self.dataloader_num_workers = dataloader_num_workers
        self.data_and_label_getter = default_data_and_label_getter if data_and_label_getter is None else data_and_label_getter
        self.label_hierarchy_level = label_hierarchy_level
        self.end_of_testing_hook = end_of_testing_hook
        self.dataset_labels = dataset_labels
        self.set_min_label_to_zero = set_min_label_to_zero
        self.accuracy_calculator = accuracy_calculator
        if reference_set is not None:
            if reference_set not in REFERENCE_SETS:
                raise ValueError(f"reference_set must be one of {REFERENCE_SETS}, got {reference_set!r}")
            warnings.warn(
                "reference_set is the 0.9-era spelling: pass splits_to_eval to test() instead "
                "(compared_to_self: [(s, [s])], compared_to_sets_combined: [(s, all splits)], "
                "compared_to_training_set: [(s, ['train'])])",
                FutureWarning,
                stacklevel=2,
            )
        self.reference_set = reference_set
        self.plot_folder = plot_folder
        if visualizer is None and plot_folder is not None:
            visualizer = "auto"
        if isinstance(visualizer, str):
            visualizer = AutoVisualizer(method=visualizer)
        if visualizer is not None and not callable(getattr(visualizer, "fit_transform", None)):
            raise TypeError(f"visualizer must have a fit_transform method (or be 'auto'/'umap'/'tsne'/'pca'), got {visualizer!r}")
        self.visualizer = visualizer
        self.original_visualizer_hook = visualizer_hook
        if visualizer is not None and visualizer_hook is None and plot_folder is not None:
            self.original_visualizer_hook = EmbeddingPlotWriter(plot_folder)
        self.initialize_label_mapper()
        self.initialize_accuracy_calculator()
        self.reference_split_names: dict[str, list[str]] = {}
        self.label_levels: list[int] = []

    # -- setup (PML's method names) ------------------------------------------------------------
    def initialize_label_mapper(self) -> None:
        self.label_mapper = c_f.LabelMapper(self.set_min_label_to_zero, self.dataset_labels).map

    def initialize_accuracy_calculator(self) -> None:
        if self.accuracy_calculator is None:
            self.accuracy_calculator = AccuracyCalculator()

    def visualizer_hook(self, *args: Any, **kwargs: Any) -> None:
        if self.original_visualizer_hook is not None:
            self.original_visualizer_hook(*args, **kwargs)

    # -- embeddings ----------------------------------------------------------------------------
    def _device(self, trunk_model: Any, embedder_model: Any) -> torch.device:
        if self.data_device is not None:
            return torch.device(self.data_device)
        return c_f.model_device(trunk_model, embedder_model)

    def maybe_normalize(self, embeddings: torch.Tensor) -> torch.Tensor:
        """PCA (fitted on ``embeddings``) when ``pca`` is set, then L2 normalisation when asked."""
        if self.pca:
            embeddings = inference.fit_pca(embeddings, self.pca, standardize=True)(embeddings)
        if self.normalize_embeddings:
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        return embeddings

    def get_embeddings_for_eval(self, trunk_model: Any, embedder_model: Any, input_imgs: Any) -> torch.Tensor:
        device = self._device(trunk_model, embedder_model)
        input_imgs = c_f.to_device(input_imgs, device=device, dtype=self.dtype)
        trunk_output = trunk_model(input_imgs)
        if self.use_trunk_output:
            return trunk_output
        return embedder_model(trunk_output)

    def _labels_2d(self, label: Any) -> torch.Tensor:
        label = c_f.process_label(label, "all", self.label_mapper)
        return label.unsqueeze(1) if label.dim() == 1 else label

    def compute_all_embeddings(self, dataloader: Any, trunk_model: Any, embedder_model: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw embeddings and ``(N, levels)`` labels of every item of ``dataloader``, in order."""
        embs, labs = [], []
        with torch.no_grad():
            for data in tqdm.tqdm(dataloader, disable=None, leave=False, desc="embeddings"):
                img, label = self.data_and_label_getter(data)[:2]
                q = self.get_embeddings_for_eval(trunk_model, embedder_model, img)
                embs.append(q)
                labs.append(self._labels_2d(label).to(q.device))
        if not embs:
            raise ValueError("the dataset is empty: there is nothing to embed")
        return torch.cat(embs, dim=0), torch.cat(labs, dim=0)

    def _raw_embeddings(self, dataset: Any, trunk_model: Any, embedder_model: Any, collate_fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
        dataloader = c_f.get_eval_dataloader(dataset, self.batch_size, self.dataloader_num_workers, collate_fn)
        return self.compute_all_embeddings(dataloader, trunk_model, embedder_model)

    def get_all_embeddings(
        self,
        dataset: Any,
        trunk_model: Any,
        embedder_model: Any = None,
        collate_fn: Any = None,
        eval: bool = True,
        return_as_numpy: bool = False,
    ) -> tuple[Any, Any]:
        """Embeddings (PCA'd / normalised as configured) and ``(N, levels)`` labels of ``dataset``."""
        if embedder_model is None:
            embedder_model = torch.nn.Identity()
        if eval:
            trunk_model.eval()
            embedder_model.eval()
        embeddings, labels = self._raw_embeddings(dataset, trunk_model, embedder_model, collate_fn)
        embeddings = self.maybe_normalize(embeddings)
        if return_as_numpy:
            return embeddings.cpu().numpy(), labels.cpu().numpy()
        return embeddings, labels

    # -- visualisation -------------------------------------------------------------------------
    def maybe_visualize(self, embeddings_and_labels: Mapping[str, tuple[torch.Tensor, torch.Tensor]], epoch: Any) -> None:
        if not self.visualizer:
            return
        name = visualizer_name(self.visualizer)
        if self.original_visualizer_hook is None:
            c_f.LOGGER.warning(
                "a visualizer without a visualizer_hook or plot_folder: the projection is not "
                "saved; pass plot_folder= to write a PNG per split"
            )
        for split_name, (embeddings, labels) in embeddings_and_labels.items():
            c_f.LOGGER.info("Running %s on the %s set", name, split_name)
            dim_reduced = self.visualizer.fit_transform(embeddings.detach().cpu().numpy())
            for L in self.label_levels_to_evaluate(labels):
                keyname = self.accuracies_keyname(name, label_hierarchy_level=L)
                self.visualizer_hook(self.visualizer, dim_reduced, labels[:, L].cpu().numpy(), split_name, keyname, epoch)

    # -- names (as PML) ------------------------------------------------------------------------
    def description_suffixes(self, base_name: str) -> str:
        if self.pca:
            base_name += "_pca%d" % self.pca
        if self.normalize_embeddings:
            base_name += "_normalized"
        if self.use_trunk_output:
            base_name += "_trunk"
        base_name += "_" + self.__class__.__name__
        base_name += "_level_" + self.label_hierarchy_level_to_str(self.label_hierarchy_level)
        descriptor = self.accuracy_calculator.description()
        if descriptor != "":
            base_name += "_" + descriptor
        return base_name

    def label_hierarchy_level_to_str(self, label_hierarchy_level: Any) -> str:
        if c_f.is_list_or_tuple(label_hierarchy_level):
            return "_".join(str(x) for x in label_hierarchy_level)
        return str(label_hierarchy_level)

    def accuracies_keyname(self, metric: str, label_hierarchy_level: Any = 0, average: bool = False) -> str:
        """``<metric>_level<L>`` (PML's result keys), or ``AVERAGE_<metric>`` over several levels."""
        if average:
            return "AVERAGE_%s" % metric
        if (label_hierarchy_level == "all" or c_f.is_list_or_tuple(label_hierarchy_level)) and len(self.label_levels) == 1:
            label_hierarchy_level = self.label_levels[0]
        return "%s_level%s" % (metric, self.label_hierarchy_level_to_str(label_hierarchy_level))

    def label_levels_to_evaluate(self, query_labels: torch.Tensor) -> list[int]:
        available = query_labels.shape[1]
        level = self.label_hierarchy_level
        if level == "all":
            return list(range(available))
        levels = list(level) if c_f.is_list_or_tuple(level) else [level]
        if not levels or not all(isinstance(L, int) and not isinstance(L, bool) for L in levels):
            raise ValueError(f"label_hierarchy_level must be an int, a list of ints or 'all', got {level!r}")
        if max(levels) >= available or min(levels) < 0:
            raise ValueError(f"label_hierarchy_level {level!r} needs labels with more than {max(levels)} columns; they have {available}")
        return levels

    def calculate_average_accuracies(self, accuracies: dict, metrics: Sequence[str], label_levels: Sequence[int]) -> None:
        for m in metrics:
            keys = [self.accuracies_keyname(m, label_hierarchy_level=L) for L in label_levels]
            accuracies[self.accuracies_keyname(m, average=True)] = sum(accuracies[k] for k in keys) / len(label_levels)

    # -- splits --------------------------------------------------------------------------------
    def _legacy_splits(self, dataset_dict: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
        names = list(dataset_dict)
        if self.reference_set == "compared_to_self":
            return [(k, [k]) for k in names]
        if self.reference_set == "compared_to_sets_combined":
            return [(k, list(names)) for k in names]
        if "train" not in dataset_dict:
            raise ValueError("reference_set='compared_to_training_set' needs a 'train' split in dataset_dict")
        return [(k, ["train"]) for k in names]

    def get_splits_to_compute_embeddings(
        self, dataset_dict: Mapping[str, Any], splits_to_eval: Sequence[Any] | None
    ) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """Normalised ``[(query, [query first if self-referenced, refs...])]`` and the splits to embed."""
        if splits_to_eval is None:
            splits_to_eval = self._legacy_splits(dataset_dict) if self.reference_set else [(k, [k]) for k in dataset_dict]
        out: list[tuple[str, list[str]]] = []
        for item in splits_to_eval:
            if not (c_f.is_list_or_tuple(item) and len(item) == 2 and c_f.is_list_or_tuple(item[1])):
                raise ValueError(f"splits_to_eval items must be (query_split, [reference_splits]), got {item!r}")
            query, refs = item[0], list(item[1])
            if not refs:
                raise ValueError(f"splits_to_eval: query split {query!r} has no reference split")
            for s in [query, *refs]:
                if s not in dataset_dict:
                    raise ValueError(f"splits_to_eval names split {s!r}, which is not in dataset_dict ({list(dataset_dict)})")
            if query in refs:  # AccuracyCalculator needs the query at the start of the reference
                refs = [query] + [r for r in refs if r != query]
            out.append((query, refs))
        queries = [q for q, _ in out]
        if len(queries) != len(set(queries)):
            raise ValueError(f"Unsupported: evaluating a query split more than once ({queries})")
        to_embed: list[str] = []
        for q, refs in out:
            for s in [q, *refs]:
                if s not in to_embed:
                    to_embed.append(s)
        return out, to_embed

    def maybe_combine_splits(self, embeddings_and_labels: Mapping[str, Any], splits: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [embeddings_and_labels[s] for s in splits]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([e for e, _ in parts], dim=0), torch.cat([lab for _, lab in parts], dim=0)

    def set_reference_and_query(
        self, embeddings_and_labels: Mapping[str, Any], query_split_name: str, reference_split_names: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        query_embeddings, query_labels = embeddings_and_labels[query_split_name]
        reference_embeddings, reference_labels = self.maybe_combine_splits(embeddings_and_labels, reference_split_names)
        return query_embeddings, query_labels, reference_embeddings, reference_labels

    def ref_includes_query(self, query_split_name: str, reference_split_names: Sequence[str]) -> bool:
        return query_split_name in reference_split_names

    def do_knn_and_accuracies(
        self, accuracies: dict, embeddings_and_labels: Mapping[str, Any], query_split_name: str, reference_split_names: Sequence[str]
    ) -> None:
        raise NotImplementedError

    def _postprocess(self, raw: dict[str, tuple[torch.Tensor, torch.Tensor]], splits_to_eval: list[tuple[str, list[str]]]) -> dict:
        """PCA and normalisation of every split (see the module docstring for how PCA is fitted)."""
        if self.pca and any(refs != [q] for q, refs in splits_to_eval):
            fitted = inference.fit_pca(torch.cat([e for e, _ in raw.values()], dim=0), self.pca, standardize=True)
            raw = {k: (fitted(e), lab) for k, (e, lab) in raw.items()}
            if not self.normalize_embeddings:
                return raw
            return {k: (torch.nn.functional.normalize(e, p=2, dim=1), lab) for k, (e, lab) in raw.items()}
        return {k: (self.maybe_normalize(e), lab) for k, (e, lab) in raw.items()}

    def get_all_embeddings_for_all_splits(
        self, dataset_dict: Mapping[str, Any], trunk_model: Any, embedder_model: Any, splits_to_compute_embeddings: Sequence[str], collate_fn: Any
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        raw = {}
        for split_name in splits_to_compute_embeddings:
            c_f.LOGGER.info("Getting embeddings for the %s split", split_name)
            raw[split_name] = self._raw_embeddings(dataset_dict[split_name], trunk_model, embedder_model, collate_fn)
        return raw

    # -- the entry point -----------------------------------------------------------------------
    def test(
        self,
        dataset_dict: Mapping[str, Any],
        epoch: Any,
        trunk_model: torch.nn.Module,
        embedder_model: torch.nn.Module | None = None,
        splits_to_eval: Sequence[Any] | None = None,
        collate_fn: Callable[..., Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Embed the splits and compute ``all_accuracies`` (returned).

        Parameters
        ----------
        dataset_dict : {split name: dataset}
        epoch : int
            Stored under ``"epoch"`` in each split's results.
        trunk_model, embedder_model : nn.Module
            ``embedder_model`` defaults to the identity.
        splits_to_eval : list of (query split, [reference splits]), optional
            Default: each split against itself (or from ``reference_set``).
        collate_fn : callable, optional
            For the evaluation ``DataLoader``.
        """
        c_f.LOGGER.info("Evaluating epoch %s", epoch)
        if embedder_model is None:
            embedder_model = torch.nn.Identity()
        if not isinstance(dataset_dict, Mapping) or not dataset_dict:
            raise ValueError("dataset_dict must be a non-empty {split name: dataset} dict")
        trunk_model.eval()
        embedder_model.eval()
        splits_to_eval, to_embed = self.get_splits_to_compute_embeddings(dataset_dict, splits_to_eval)
        raw = self.get_all_embeddings_for_all_splits(dataset_dict, trunk_model, embedder_model, to_embed, collate_fn)
        self.embeddings_and_labels = self._postprocess(raw, splits_to_eval)
        del raw
        self.maybe_visualize(self.embeddings_and_labels, epoch)
        self.all_accuracies = defaultdict(dict)
        for query_split_name, reference_split_names in splits_to_eval:
            c_f.LOGGER.info("Computing accuracy for the %s split w.r.t %s", query_split_name, reference_split_names)
            self.all_accuracies[query_split_name]["epoch"] = epoch
            self.reference_split_names[query_split_name] = reference_split_names
            self.do_knn_and_accuracies(
                self.all_accuracies[query_split_name], self.embeddings_and_labels, query_split_name, reference_split_names
            )
        if self.end_of_testing_hook:
            self.end_of_testing_hook(self)
        else:
            c_f.LOGGER.info(dict(self.all_accuracies))
        del self.embeddings_and_labels
        return self.all_accuracies


def _mean(values: Sequence[Any]) -> Any:
    """Mean of per-group results (floats; per-class lists are averaged elementwise)."""
    if values and isinstance(values[0], list):
        return np.mean(np.asarray(values, dtype=np.float64), axis=0).tolist()
    return float(np.mean(values))
