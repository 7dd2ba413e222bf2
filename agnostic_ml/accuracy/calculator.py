"""AccuracyCalculator: PML's retrieval-accuracy API on any array backend, in bounded memory.

Same constructor, ``get_accuracy`` signature, metric names, default metrics and output
format as PML 2.9 (a dict of Python floats, or of per-class lists with
``return_per_class``), and the same extension mechanism (subclass, add
``calculate_<name>(self, **kwargs)``, extend ``requires_knn()`` / ``requires_clustering()``).

Fixed PML bugs and deliberate differences (each also noted where it applies):

* Labels are compared in their own dtype (PML casts them to float32: ids above 2**24
  collide).
* Any single metric works alone (PML: ``include=("mean_reciprocal_rank",)`` raises,
  because MRR is missing from ``requires_knn()``).
* R-precision and MAP@R are always exact: they are computed from each query's own top-R,
  block by block, whatever ``k`` is (PML truncates them at ``k`` with a warning when
  ``k`` < the largest class, and needs ``k = max class size`` neighbours of every query at
  once for the exact value).
* ``k=None`` (the default) keeps PML's meaning (MAP and MRR over the whole ranking), but
  never builds the ``Q x (R - 1)`` neighbour list PML asks faiss for (6 GiB at Q = 10k, out
  of memory at 50k): see :mod:`agnostic_ml.accuracy.ranking`.
* No faiss needed: the default ``knn_func`` is the exact blocked :class:`ExactKNN`
  (Euclidean on the raw embeddings, the ranking of faiss ``IndexFlatL2``); ties are broken
  by reference index. ``knn_distances`` given to custom metrics are Euclidean distances
  (faiss returns squared ones).
* The default ``kmeans_func`` is the array-API :class:`KMeans` with a fixed seed (faiss'
  k-means, PML's default, also uses a fixed seed), so AMI/NMI are reproducible.
* ``device=None`` keeps the data where it is (PML moves it to CUDA when available).
* Bad input raises clear ``ValueError`` / ``TypeError``: ``k`` larger than the reference,
  label/embedding length mismatch, ``reference`` without ``reference_labels``, unknown
  metric names (also in ``get_accuracy``'s ``include``, which PML silently ignores), NaN or
  inf embeddings, ``avg_of_avgs`` with ``return_per_class``.

Extra metrics from OML (opt in): ``cmc@k``, ``precision@k``, ``map@k``, ``fnmr@fmr=<v>``,
and ``ndcg@k`` (standard binary-relevance nDCG, not in OML or PML). Pass the values as
``cmc_top_k=(1, 5)`` etc. (those metrics are then computed by default), or name them in
``include``. Lone queries (no relevant reference) are left out of them as out of PML's.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .._array_api import index_dtype, is_dask_array, to_numpy
from . import dask_support
from ._aggregate import Results, pair_average, query_average
from ._backend_extras import device_of
from ._blocks import check_k
from ._local import in_memory_inputs
from ._registry import BUILTIN, Cutoff, Needs, configured_names, lookup, names_needing, per_query_function, requested_names
from ._settings import check_averaging, check_callable, check_k_setting, check_name_lists
from .fnmr import fnmr_counts
from .kmeans import KMeans
from .knn import DEFAULT_MEMORY_BUDGET, ExactKNN
from .labels import LabelInfo, label_info
from .ranking import ChunkContext, RankJob, RankOutput, RankPlan, Relevance, ranks_from_knn_indices

Array = Any


class AccuracyCalculator:
    """Retrieval accuracy of embeddings (PML's ``AccuracyCalculator``).

    Parameters
    ----------
    include, exclude : tuple or list of metric names
        Metrics to compute; default all of PML's seven (``AMI``, ``NMI``,
        ``mean_average_precision``, ``mean_average_precision_at_r``,
        ``mean_reciprocal_rank``, ``precision_at_1``, ``r_precision``), plus any custom
        ``calculate_<name>`` methods and the OML metrics configured below.
    avg_of_avgs : bool
        Average per query label first, then over labels.
    return_per_class : bool
        Return, per metric, the list of per-label averages (sorted label order).
    k : None, "max_bin_count" or positive int
        Neighbours used by ``mean_average_precision`` and ``mean_reciprocal_rank`` (and the
        ``knn_labels`` given to custom metrics). None: the whole reference (computed
        without a ``Q x R`` list); "max_bin_count": the largest ``R``.
    label_comparison_fn : callable, optional
        ``fn(a, b) -> bool array`` deciding relevance (broadcasting ``(n, 1)`` against
        ``(n, K)`` labels); not supported with AMI/NMI (NotImplementedError, as PML).
    device : optional
        Move the embeddings to this device first (``array_api_compat.to_device``); default:
        leave them where they are.
    knn_func : callable, optional
        PML's protocol ``knn_func(query, k, reference, ref_includes_query)``. Default
        :class:`ExactKNN` (streamed block by block); any other callable is called once with
        the largest ``k`` needed, as PML does.
    kmeans_func : callable, optional
        ``kmeans_func(x, n_clusters) -> labels``; default ``KMeans(max_iter=20, rng=rng)``
        (20 Lloyd iterations, as PML's default ``FaissKMeans(niter=20)``).
    cmc_top_k, precision_top_k, map_top_k, ndcg_top_k : tuples of positive ints
        OML-style metrics ``"cmc@5"`` etc. (``k`` above the reference size is clipped, as OML).
    fmr_vals : tuple of floats
        FMR values in percent for ``"fnmr@fmr=<v>"`` (OML's convention).
    rng : numpy Generator, int or None
        Seed of the default k-means (default 0).
    block_size : int, optional
        Query rows per block for the default kNN (default: from ``memory_budget``).
    memory_budget : int
        Bytes of intermediate arrays per block (default 256 MiB).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.accuracy import AccuracyCalculator
    >>> x = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> calc = AccuracyCalculator(include=("precision_at_1", "r_precision"))
    >>> calc.get_accuracy(x, [0, 0, 1, 1])
    {'precision_at_1': 1.0, 'r_precision': 1.0}
    """

    def __init__(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        avg_of_avgs: bool = False,
        return_per_class: bool = False,
        k: int | str | None = None,
        label_comparison_fn: Callable[[Array, Array], Array] | None = None,
        device: Any = None,
        knn_func: Callable[..., tuple[Array, Array]] | None = None,
        kmeans_func: Callable[[Array, int], Array] | None = None,
        cmc_top_k: Sequence[int] = (),
        precision_top_k: Sequence[int] = (),
        map_top_k: Sequence[int] = (),
        ndcg_top_k: Sequence[int] = (),
        fmr_vals: Sequence[float] = (),
        rng: Any = 0,
        block_size: int | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        self.function_keyword = "calculate_"
        self._configured_oml = configured_names(cmc_top_k, precision_top_k, map_top_k, ndcg_top_k, fmr_vals)
        check_name_lists(include, exclude)
        self._all_oml = self._configured_oml + requested_names(include, self._configured_oml)
        self.original_function_dict = self._metric_functions()
        self.check_primary_metrics(include, exclude)
        self.original_function_dict = self.get_function_dict(include, exclude)
        self.curr_function_dict = self.get_function_dict()

        self.avg_of_avgs, self.return_per_class = check_averaging(avg_of_avgs, return_per_class)
        self.device = device
        self.block_size = block_size
        self.memory_budget = memory_budget
        self.knn_func = check_callable(
            ExactKNN(block_size=block_size, memory_budget=memory_budget) if knn_func is None else knn_func, "knn_func"
        )
        self.rng = rng
        self.kmeans_func = check_callable(KMeans(max_iter=20, rng=rng) if kmeans_func is None else kmeans_func, "kmeans_func")
        self.k = check_k_setting(k)
        self.label_comparison_fn = self._check_label_comparison(label_comparison_fn)

    def _metric_functions(self) -> dict[str, Callable[..., Any]]:
        """PML's ``original_function_dict`` before include/exclude: every ``calculate_<name>``
        method (built-in or a subclass's), then the configured OML metrics."""
        function_names = [x for x in dir(self) if x.startswith(self.function_keyword)]
        metrics = [x.replace(self.function_keyword, "", 1) for x in function_names]
        functions: dict[str, Callable[..., Any]] = {m: getattr(self, f) for m, f in zip(metrics, function_names)}
        for n in self._all_oml:
            functions[n] = functools.partial(self._oml_metric, n)
        return functions

    def _check_label_comparison(self, label_comparison_fn: Any) -> Any:
        if label_comparison_fn is not None:
            check_callable(label_comparison_fn, "label_comparison_fn")
            if any(x in self.requires_clustering() for x in self.get_curr_metrics()):
                raise NotImplementedError("Unsupported: clustering + custom label comparison")
        return label_comparison_fn

    # -- PML's metric bookkeeping ------------------------------------------------------------------
    def get_function_dict(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> dict[str, Callable[..., Any]]:
        if len(include) == 0:
            include = list(self.original_function_dict.keys())
        included = [k for k in include if k not in exclude]
        return {k: v for k, v in self.original_function_dict.items() if k in included}

    def get_curr_metrics(self) -> list[str]:
        return list(self.curr_function_dict.keys())

    def requires_clustering(self) -> list[str]:
        return names_needing(list(BUILTIN), Needs.CLUSTERING)

    def requires_knn(self) -> list[str]:
        """Metrics that need neighbours. Unlike PML this includes ``mean_reciprocal_rank``
        (PML's omission makes MRR alone crash) and the OML rank metrics."""
        return names_needing(list(BUILTIN), Needs.KNN) + names_needing(self._all_oml, Needs.KNN)

    def check_primary_metrics(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        known = list(self.original_function_dict.keys())
        for met in (include, exclude):
            check_name_lists(met)
            unknown = [m for m in met if m not in known]
            if unknown:
                raise ValueError(f"unknown metric name(s) {unknown}; metrics must be one or more of: {known}")

    def determine_k(self, bin_counts: Any, num_reference_embeddings: int, ref_includes_query: bool) -> int:
        """PML's neighbour count for the ``k`` setting (``bin_counts``: matches per query label)."""
        self_count = int(bool(ref_includes_query))
        max_bin = int(np.max(np.asarray(to_numpy(bin_counts)), initial=0))
        if self.k == "max_bin_count":
            return max_bin - self_count
        if self.k is None:
            return num_reference_embeddings - self_count
        return int(self.k)

    def description(self) -> str:
        return "avg_of_avgs" if self.avg_of_avgs else ""

    # -- clustering metrics ------------------------------------------------------------------------
    def get_cluster_labels(self, query: Array, query_labels: Array, **kwargs: Any) -> Array:
        host = np.asarray(to_numpy(query_labels))
        n_clusters = int(np.unique(host, axis=0).shape[0]) if host.ndim == 2 else int(np.unique(host).shape[0])
        return self.kmeans_func(query, n_clusters)

    def _sklearn_inputs(self, query_labels: Array, cluster_labels: Array) -> tuple[np.ndarray, np.ndarray]:
        q = np.asarray(to_numpy(query_labels))
        if q.ndim == 2:
            q = np.unique(q, axis=0, return_inverse=True)[1].reshape(-1)
        return q, np.asarray(to_numpy(cluster_labels)).reshape(-1)

    def calculate_NMI(self, query_labels: Array, cluster_labels: Array, **kwargs: Any) -> float:
        from sklearn.metrics import normalized_mutual_info_score

        return float(normalized_mutual_info_score(*self._sklearn_inputs(query_labels, cluster_labels)))

    def calculate_AMI(self, query_labels: Array, cluster_labels: Array, **kwargs: Any) -> float:
        from sklearn.metrics import adjusted_mutual_info_score

        return float(adjusted_mutual_info_score(*self._sklearn_inputs(query_labels, cluster_labels)))

    # -- rank metrics: read the per-query values computed by get_accuracy -------------------------
    def _builtin(self, name: str, kwargs: dict[str, Any]) -> Any:
        res: Results | None = kwargs.get("agnostic_ml_results")
        if res is None or name not in res.values:
            raise RuntimeError(
                f"calculate_{name} reads values that get_accuracy computes; call get_accuracy instead"
            )
        return query_average(res.values[name], res.info, **self._averaging())

    def _averaging(self) -> dict[str, bool]:
        return {"avg_of_avgs": self.avg_of_avgs, "return_per_class": self.return_per_class}

    def calculate_precision_at_1(self, **kwargs: Any) -> Any:
        return self._builtin("precision_at_1", kwargs)

    def calculate_mean_average_precision_at_r(self, **kwargs: Any) -> Any:
        return self._builtin("mean_average_precision_at_r", kwargs)

    def calculate_mean_average_precision(self, **kwargs: Any) -> Any:
        return self._builtin("mean_average_precision", kwargs)

    def calculate_mean_reciprocal_rank(self, **kwargs: Any) -> Any:
        return self._builtin("mean_reciprocal_rank", kwargs)

    def calculate_r_precision(self, **kwargs: Any) -> Any:
        return self._builtin("r_precision", kwargs)

    def _oml_metric(self, name: str, **kwargs: Any) -> Any:
        res: Results = kwargs["agnostic_ml_results"]
        if name in res.fnmr:
            counts, defined = res.fnmr[name]
            return pair_average(counts, res.info, defined, **self._averaging())
        return query_average(res.values[name], res.info, **self._averaging())

    # -- the main entry point ---------------------------------------------------------------------
    def get_accuracy(
        self,
        query: Array,
        query_labels: Any,
        reference: Array | None = None,
        reference_labels: Any = None,
        ref_includes_query: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        check_finite: bool = True,
    ) -> dict[str, Any]:
        """Compute the metrics; returns ``{name: float}`` (or ``{name: [float per label]}``).

        ``reference=None`` evaluates the queries against each other (leave-one-out:
        ``ref_includes_query=True``). With ``ref_includes_query=True`` the first
        ``len(query)`` rows of ``reference`` (and its labels) must be the queries.

        ``check_finite`` (default True) applies the library's non-finite policy: NaN or inf
        in ``query`` or ``reference`` raises ``ValueError`` naming the array and its first
        bad row (one reduction, one host sync; a Dask query chunk by chunk); False skips it.
        """
        if reference is None:
            if reference_labels is not None:
                raise ValueError("reference_labels was given without reference; pass both or neither")
            reference, reference_labels, ref_includes_query = query, query_labels, True
        elif reference_labels is None:
            raise ValueError("reference was given without reference_labels; pass both or neither")
        self.check_primary_metrics(include, exclude)
        self.curr_function_dict = self.get_function_dict(include, exclude)
        if is_dask_array(query):
            if self._exact_knn() is None:
                raise ValueError("a Dask query needs the default ExactKNN knn_func (other knn_funcs run in memory)")
            inputs = dask_support.accuracy_inputs(
                query, query_labels, reference, reference_labels, bool(ref_includes_query), check_finite=bool(check_finite)
            )
        else:
            inputs = in_memory_inputs(
                query, query_labels, reference, reference_labels, bool(ref_includes_query), self.device,
                check_finite=bool(check_finite),
            )
        return self._evaluate(*inputs, bool(ref_includes_query))

    def _exact_knn(self) -> ExactKNN | None:
        return self.knn_func if isinstance(self.knn_func, ExactKNN) else None

    def _evaluate(
        self, runner: Any, query: Array, reference: Array, qlab: Array, rlab: Array, xp: Any,
        ref_includes_query: bool,
    ) -> dict[str, Any]:
        names = self.get_curr_metrics()
        knn_names = set(self.requires_knn())
        fnmr_names = names_needing(names, Needs.PAIRS)
        kwargs: dict[str, Any] = {
            "query": query,
            "reference": reference,
            "query_labels": qlab,
            "reference_labels": rlab,
            "ref_includes_query": ref_includes_query,
            "label_comparison_fn": self.label_comparison_fn,
        }
        need_knn = any(n in knn_names for n in names)
        if need_knn or fnmr_names:
            info = label_info(
                qlab, rlab, ref_includes_query=ref_includes_query,
                label_comparison_fn=self.label_comparison_fn, xp=xp,
            )
            device = device_of(rlab)
            kwargs["label_counts"] = (
                xp.asarray(info.unique_query_labels, device=device),
                xp.asarray(info.match_counts, dtype=index_dtype(xp, device), device=device),
            )
            lone_classes = np.unique(info.query_class[info.lone])
            kwargs["lone_query_labels"] = xp.asarray(info.unique_query_labels[lone_classes], device=device)
            kwargs["not_lone_query_mask"] = xp.asarray(~info.lone, dtype=xp.bool, device=device)
            if info.lone.all() and need_knn:
                warnings.warn("None of the query labels are in the reference set.", stacklevel=2)
            relevance = Relevance(
                q_ids=info.q_ids, r_ids=info.r_ids,
                query_labels=None if self.label_comparison_fn is None else np.asarray(to_numpy(qlab)),
                reference_labels=None if self.label_comparison_fn is None else np.asarray(to_numpy(rlab)),
                fn=self.label_comparison_fn,
            )
            exact = self._exact_knn()
            ctx = ChunkContext(
                reference=reference, relevance=relevance, n_rel=info.n_rel,
                distance=exact.distance if exact is not None else None,  # type: ignore[arg-type]
                ref_includes_query=ref_includes_query,
                block_size=exact.block_size if exact is not None else self.block_size,
                memory_budget=exact.memory_budget if exact is not None else self.memory_budget,
            )
            values: dict[str, np.ndarray] = {}
            if need_knn:
                values = self._rank_values(runner, ctx, info, names, kwargs, xp)
            fnmr = self._fnmr_values(runner, ctx, info, fnmr_names, reference, query) if fnmr_names else {}
            kwargs["agnostic_ml_results"] = Results(info, values, fnmr)
        if any(n in self.requires_clustering() for n in names):
            kwargs["cluster_labels"] = self.get_cluster_labels(**kwargs)
        return self._get_accuracy(self.curr_function_dict, **kwargs)

    def _get_accuracy(self, function_dict: dict[str, Callable[..., Any]], **kwargs: Any) -> dict[str, Any]:
        return {k: v(**kwargs) for k, v in function_dict.items()}

    def _is_builtin(self, name: str) -> bool:
        """A registered rank metric that this class computes itself (not a subclass override)."""
        metric = lookup(name)
        if metric is None or metric.spec.needs is not Needs.KNN:
            return False
        if metric.param is not None:  # OML names have no calculate_ method to override
            return True
        attr = self.function_keyword + name
        return getattr(type(self), attr) is getattr(AccuracyCalculator, attr)

    def _rank_values(
        self, runner: Any, ctx: ChunkContext, info: LabelInfo, names: list[str], kwargs: dict[str, Any], xp: Any
    ) -> dict[str, np.ndarray]:
        avail = ctx.available
        knn_names = set(self.requires_knn())
        rank_metrics = [lookup(n) for n in names_needing(names, Needs.KNN)]
        custom = [n for n in names if n in knn_names and not self._is_builtin(n)]
        if self.k is None:
            k_eff = avail
        elif self.k == "max_bin_count":
            k_eff = max(0, int(info.match_counts.max(initial=0)) - int(ctx.ref_includes_query))
        else:
            k_eff = check_k(int(self.k), avail)
        fns: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {}
        cutoff = 0
        for m in rank_metrics:
            if m.spec.cutoff is Cutoff.NAME and m.param > avail:
                warnings.warn(f"{m.name}: k is larger than the {avail} available neighbours; clipped to {avail} (as OML)", stacklevel=3)
            fns[m.name], cut = per_query_function(m, k=k_eff, k_cut=None if self.k is None else k_eff, available=avail)
            cutoff = max(cutoff, cut)
        all_ranks = self.k is None and any(m.spec.cutoff is Cutoff.K for m in rank_metrics)
        if all_ranks:
            cutoff = 0
        plan = RankPlan(
            cutoff=min(cutoff, avail),
            need_r=any(m.spec.cutoff is Cutoff.R for m in rank_metrics),
            all_ranks=all_ranks,
            keep_knn=k_eff if custom else 0,
        )
        need_rank = bool(fns) and not info.lone.all() and avail > 0
        if not need_rank and not custom:
            return {n: np.full(info.n_rel.shape[0], math.nan) for n in fns}
        exact = self._exact_knn()
        if exact is not None:
            out: RankOutput = runner.rank(ctx, RankJob(plan, fns if need_rank else {}))
            knn_d, knn_i = out.knn_distances, out.knn_indices
            values = out.values
        else:
            values, knn_d, knn_i = self._external_knn(runner, ctx, info, plan, fns if need_rank else {}, xp)
        if custom:
            if knn_i is None:  # k resolved to 0 (every query lone with k="max_bin_count")
                n_q, device = info.n_rel.shape[0], device_of(kwargs["query_labels"])
                knn_i = xp.zeros((n_q, 0), dtype=index_dtype(xp, device), device=device)
                knn_d = xp.zeros((n_q, 0), dtype=xp.float32, device=device)
            kwargs["knn_distances"] = knn_d
            kwargs["knn_labels"] = runner.gather_labels(kwargs["reference_labels"], knn_i)
        for n in fns:
            values.setdefault(n, np.full(info.n_rel.shape[0], math.nan))
        return values

    def _external_knn(
        self, runner: Any, ctx: ChunkContext, info: LabelInfo, plan: RankPlan, fns: dict[str, Any], xp: Any
    ) -> tuple[dict[str, np.ndarray], Array, Array]:
        """Any other ``knn_func``: one call with the largest k needed, as PML does."""
        avail = ctx.available
        kk = avail if plan.all_ranks else max(plan.cutoff, info.max_rel if plan.need_r else 0, plan.keep_knn, 1)
        kk = min(kk, avail)
        query = runner.query
        dists, idx = self.knn_func(query, kk, ctx.reference, ctx.ref_includes_query)
        if tuple(idx.shape) != (query.shape[0], kk):
            raise ValueError(f"knn_func returned indices of shape {tuple(idx.shape)}, expected {(query.shape[0], kk)}")
        device = device_of(query)
        idx = xp.astype(idx, index_dtype(xp, device)) if idx.dtype != index_dtype(xp, device) else idx
        rel = ctx.relevance.bind(xp, device, 0, query.shape[0])
        values = ranks_from_knn_indices(idx, rel, info.n_rel, fns) if fns else {}
        keep = plan.keep_knn
        return values, dists[:, :keep], idx[:, :keep]

    def _fnmr_values(
        self, runner: Any, ctx: ChunkContext, info: LabelInfo, names: list[str], reference: Array, query: Array
    ) -> dict[str, tuple[np.ndarray, bool]]:
        if ctx.distance is None:
            raise ValueError("fnmr@fmr needs the default ExactKNN knn_func (it streams all distances)")
        vals = [lookup(n).param for n in names]
        n_q = info.n_rel.shape[0]
        n_neg = int((ctx.available - info.n_rel).sum())
        n_pos = int(info.n_rel.sum())
        if n_neg <= 0 or n_pos <= 0:
            return {n: (np.zeros(n_q), False) for n in names}
        _, counts = fnmr_counts(vals, n_neg, lambda job: runner.fnmr(ctx, job), runner.key_dtype)
        return {n: (counts[:, i].astype(np.float64), True) for i, n in enumerate(names)}
