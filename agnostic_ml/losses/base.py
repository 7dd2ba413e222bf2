"""BaseMetricLossFunction and its mixins: the contract every loss follows (PML's names).

A loss is called as ``loss(embeddings, labels=None, indices_tuple=None, ref_emb=None,
ref_labels=None)`` and returns a 0-D array of the embeddings' namespace, device and graph.
:meth:`BaseMetricLossFunction.forward` validates and converts the inputs once, calls
``compute_loss`` (which returns PML's loss dict
``{name: {"losses", "indices", "reduction_type"}}``), adds the optional embedding
regularizer and hands the dict to the reducer. Subclasses implement ``compute_loss``
(PML's extension point) and usually call one formula function of their family module.

The core classes are plain Python; ``agnostic_ml_torch.losses`` holds their generated
``nn.Module`` shells, where :meth:`new_parameter` makes ``nn.Parameter`` s.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Sequence

from .._array_api import floating_work_dtype, follow, namespace_and_device, same_device
from .._budget import DEFAULT_OUTPUT_BUDGET, check_output_budget
from .._stats import RecordsStats
from ..distances import BaseDistance, LpDistance
from ..reducers import BaseReducer, DoNothingReducer, MeanReducer, MultipleReducers
from ._inputs import check_loss_inputs, prepare_indices_tuple

Array = Any

__all__ = [
    "BaseMetricLossFunction",
    "EmbeddingRegularizerMixin",
    "WeightMixin",
    "WeightRegularizerMixin",
    "zero_loss_entry",
]


def zero_loss_entry() -> dict[str, Any]:
    """PML's "nothing to compute" entry: the reducer turns it into a graph-keeping 0."""
    return {"losses": 0, "indices": None, "reduction_type": "already_reduced"}


class BaseMetricLossFunction(RecordsStats):
    """Base class of metric losses (PML's ``BaseMetricLossFunction``).

    ``forward(embeddings, labels=None, indices_tuple=None, ref_emb=None, ref_labels=None)``:

    1. checks the inputs: ``embeddings`` (N, D) floating (the distance's ``check_shapes``
       decides about other shapes), ``labels`` length N, ``ref_emb`` (M, D) with
       ``ref_labels`` of length M; host labels (lists, NumPy) are converted once to the
       embeddings' namespace and device ("everything follows the embeddings");
    2. defaults the reference set to the batch (then ``ref_labels is labels``, PML's
       self-pair rule: an anchor is never its own positive);
    3. validates ``indices_tuple`` (a miner's triplets ``(a, p, n)`` or pairs
       ``(a1, p, a2, n)``): 1-D integer arrays, anchors in ``[0, N)``, positives and
       negatives in ``[0, M)`` (one fused check, one host sync);
    4. ``loss_dict = self.compute_loss(embeddings, labels, indices_tuple, ref_emb, ref_labels)``;
    5. adds ``embedding_reg_loss = embedding_regularizer(embeddings) * embedding_reg_weight``;
    6. returns ``self.reducer(loss_dict, embeddings, labels)``.

    A batch with no valid tuple gives 0 with a zero gradient (never NaN).

    Parameters
    ----------
    distance : BaseDistance, optional
        Default :meth:`get_default_distance` (``LpDistance()``, normalised Euclidean).
    reducer : BaseReducer, optional
        Default :meth:`get_default_reducer` (``MeanReducer()``). As in PML, a loss with
        several sub-losses reduces each one with its own deep copy of ``reducer`` (a
        ``MultipleReducers``); ``MultipleReducers`` and ``DoNothingReducer`` are used as given.
    embedding_regularizer : callable, optional
        A regularizer of the embeddings (``agnostic_ml.regularizers``).
    embedding_reg_weight : float, default 1
    collect_stats : bool, default False
        Record statistics of each call in ``self.stats`` (0-D arrays, no host sync).
    check_finite : bool, default True
        The library's non-finite policy: a NaN or inf in ``embeddings`` or ``ref_emb``
        raises ``ValueError`` naming the array and its first bad row, before the loss is
        computed. It costs one reduction over the inputs and one host sync per call (on a
        GPU the sync waits for the forward pass queued so far); pass False (or set
        ``loss.check_finite = False``) to skip it.
    output_budget : int or None, default :data:`agnostic_ml.DEFAULT_OUTPUT_BUDGET` (2**28)
        The most tuples the loss may list when it enumerates them itself (all pairs, all
        triplets, pairs combined into triplets); more raise
        :class:`agnostic_ml.OutputTooLargeError` before anything is allocated. None: no limit.

    Notes
    -----
    The 0.9-era arguments ``normalize_embeddings``, ``learnable_param_names`` and
    ``num_class_per_param`` are accepted with a ``FutureWarning`` (see
    :mod:`agnostic_ml.losses._legacy`).

    Examples
    --------
    A loss of your own implements ``compute_loss`` and returns a loss dict; the base class
    checks the inputs, applies the regularizer and reduces. Written with the array API, it
    runs on every backend (and, subclassing ``agnostic_ml_torch.losses.BaseMetricLossFunction``,
    is an ``nn.Module``):

    >>> import array_api_compat
    >>> import numpy as np
    >>> from agnostic_ml.losses import BaseMetricLossFunction
    >>> class FarthestPositiveLoss(BaseMetricLossFunction):
    ...     # per anchor: the distance to its farthest same-label reference
    ...     def compute_loss(self, embeddings, labels, indices_tuple, ref_emb, ref_labels):
    ...         xp = array_api_compat.array_namespace(embeddings)
    ...         d = self.distance(embeddings, ref_emb)
    ...         same = labels[:, None] == ref_labels[None, :]
    ...         far = xp.max(xp.where(same, d, xp.zeros_like(d)), axis=1)
    ...         rows = xp.arange(far.shape[0], dtype=xp.int64, device=array_api_compat.device(far))
    ...         return {"loss": {"losses": far, "indices": rows, "reduction_type": "element"}}
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(FarthestPositiveLoss()(emb, [0, 0, 1, 1])), 4)
    0.6325
    """

    def __init__(
        self,
        distance: BaseDistance | None = None,
        reducer: BaseReducer | None = None,
        embedding_regularizer: Any = None,
        embedding_reg_weight: float = 1,
        collect_stats: bool = False,
        check_finite: bool = True,
        output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
        **legacy: Any,
    ) -> None:
        # Known before the reducer is built (it needs every sub-loss name); a plain bool is
        # assignable before nn.Module.__init__ in an adapter shell.
        self._has_embedding_regularizer = embedding_regularizer is not None
        super().__init__()
        from ._legacy import pop_loss_legacy

        legacy_distance, self._legacy_learnable = pop_loss_legacy(type(self).__name__, legacy, distance)
        if legacy:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {sorted(legacy)}")
        self.collect_stats = bool(collect_stats)
        if not isinstance(check_finite, bool):
            raise TypeError(f"check_finite must be a bool, got {check_finite!r}")
        self.check_finite = check_finite
        self.output_budget = check_output_budget(output_budget)
        self.stats: dict[str, Any] = {}
        if distance is None:
            distance = self.get_default_distance()
            if legacy_distance is not None:
                legacy_distance(distance)
        if not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
        self.distance = distance
        self.embedding_regularizer = embedding_regularizer
        self.embedding_reg_weight = embedding_reg_weight
        if reducer is not None and not isinstance(reducer, BaseReducer):
            raise TypeError(f"reducer must be an agnostic_ml reducer, got {type(reducer).__name__}")
        self.set_reducer(reducer)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The 0.9-era ``learnable_param_names`` turn settings that a subclass's __init__
        # assigns *after* this base __init__ into parameters, so they are applied when the
        # outermost __init__ returns (before any optimizer can be built on the loss).
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_applies_legacy", False):
            return

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            depth = self.__dict__.get("_init_depth", 0)
            self.__dict__["_init_depth"] = depth + 1
            try:
                init(self, *args, **kw)
            finally:
                self.__dict__["_init_depth"] = depth
            if depth == 0:
                from ._legacy import make_learnable

                make_learnable(self)

        __init__._applies_legacy = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    # -- defaults (PML's hooks) ----------------------------------------------------------
    def get_default_distance(self) -> BaseDistance:
        return LpDistance()

    def get_default_reducer(self) -> BaseReducer:
        return MeanReducer()

    def set_reducer(self, reducer: BaseReducer | None) -> None:
        """PML's rule: one reducer per sub-loss (deep copies), unless it is Multiple/DoNothing."""
        if isinstance(reducer, (MultipleReducers, DoNothingReducer)):
            self.reducer = reducer
            return
        names = self.sub_loss_names()
        make = self.get_default_reducer if reducer is None else (lambda: copy.deepcopy(reducer))
        if len(names) == 1:
            self.reducer = make()
        else:
            self.reducer = MultipleReducers({name: make() for name in names})

    # -- sub-losses ----------------------------------------------------------------------
    def _sub_loss_names(self) -> list[str]:
        return ["loss"]

    def regularization_loss_names(self) -> list[str]:
        names = []
        if getattr(self, "_has_weight_regularizer", False):
            names.append("weight_reg_loss")
        if getattr(self, "_has_embedding_regularizer", False):
            names.append("embedding_reg_loss")
        return names

    def sub_loss_names(self) -> list[str]:
        return self._sub_loss_names() + self.regularization_loss_names()

    def zero_loss(self) -> dict[str, Any]:
        return zero_loss_entry()

    def zero_losses(self) -> dict[str, dict[str, Any]]:
        return {name: zero_loss_entry() for name in self.sub_loss_names()}

    # -- the call ------------------------------------------------------------------------
    def compute_loss(self, embeddings: Array, labels: Array, indices_tuple: Any, ref_emb: Array, ref_labels: Array) -> dict:
        """Return the loss dict. Subclasses implement this (inputs already validated)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_loss")

    def forward(
        self,
        embeddings: Array,
        labels: Any = None,
        indices_tuple: Any = None,
        ref_emb: Array | None = None,
        ref_labels: Any = None,
    ) -> Array:
        self.stats = {}
        embeddings, labels, ref_emb, ref_labels = check_loss_inputs(
            embeddings, labels, ref_emb, ref_labels, distance=self.distance,
            check_finite=getattr(self, "check_finite", True), where=type(self).__name__,
        )
        if indices_tuple is not None:
            indices_tuple = prepare_indices_tuple(indices_tuple, embeddings.shape[0], ref_emb.shape[0], embeddings)
        loss_dict = self.compute_loss(embeddings, labels, indices_tuple, ref_emb, ref_labels)
        self.add_embedding_regularization_to_loss_dict(loss_dict, embeddings)
        return self.reducer(loss_dict, embeddings, labels)

    # -- embedding regularizer (PML's EmbeddingRegularizerMixin, merged into the base) ----------
    def embedding_regularization_loss(self, embeddings: Array) -> dict[str, Any]:
        if self.embedding_regularizer is None:
            return zero_loss_entry()
        loss = self.embedding_regularizer(embeddings) * self.embedding_reg_weight
        return {"losses": loss, "indices": None, "reduction_type": "already_reduced"}

    def add_embedding_regularization_to_loss_dict(self, loss_dict: dict, embeddings: Array) -> None:
        if self.embedding_regularizer is not None:
            loss_dict["embedding_reg_loss"] = self.embedding_regularization_loss(embeddings)

    # -- learnable arrays ----------------------------------------------------------------------
    def param_like(self, param: Array, like: Array) -> Array:
        """``param`` as used with ``like``: same namespace and device, the working float dtype.

        Never casts the stored parameter in place (PML#309): the cast is an out-of-place,
        differentiable copy. float16/bfloat16 embeddings are computed against float32
        weights (the stored dtype), so nothing overflows under autocast. Host (NumPy)
        parameters of a core loss follow the embeddings' namespace and device. A parameter
        on another device than the embeddings raises here; the torch adapter moves it to the
        embeddings' device instead, as PML does.
        """
        xp, device = namespace_and_device(like)
        p = follow(param, xp, device, name="parameter") if not _same_namespace(param, xp) else param
        if not same_device(namespace_and_device(p)[1], device):
            p = self._move_parameter(p, device)
        work = floating_work_dtype(xp.result_type(like.dtype, p.dtype), xp)
        return p if p.dtype == work else xp.astype(p, work)

    def _move_parameter(self, p: Array, device: Any) -> Array:
        raise ValueError(
            f"{type(self).__name__}: a parameter is on device {namespace_and_device(p)[1]} but the "
            f"embeddings are on {device}; move the loss to the embeddings' device"
        )

    def check_distance(self, allowed: type | Sequence[type], **required: Any) -> None:
        """Raise ``ValueError`` unless ``self.distance`` is one of ``allowed`` with ``required`` attributes."""
        allowed_t = tuple(allowed) if isinstance(allowed, (list, tuple)) else (allowed,)
        if not isinstance(self.distance, allowed_t):
            names = ", ".join(t.__name__ for t in allowed_t)
            raise ValueError(f"{type(self).__name__} requires the distance to be {names}, got {type(self.distance).__name__}")
        for attr, value in required.items():
            if getattr(self.distance, attr) != value:
                raise ValueError(
                    f"{type(self).__name__} requires distance.{attr} == {value!r}, got {getattr(self.distance, attr)!r}"
                )


def _same_namespace(x: Any, xp: Any) -> bool:
    try:
        other, _ = namespace_and_device(x)
    except TypeError:
        return False
    return other is xp


class EmbeddingRegularizerMixin:
    """PML's name for the embedding-regularizer plumbing, kept for code that refers to it.

    :class:`BaseMetricLossFunction` already takes ``embedding_regularizer`` and
    ``embedding_reg_weight``; this mixin adds nothing and exists so that PML class
    hierarchies (``class MyLoss(EmbeddingRegularizerMixin, ...)``) keep importing.

    Examples
    --------
    Every loss adds ``embedding_reg_loss = embedding_regularizer(embeddings) * embedding_reg_weight``:

    >>> import numpy as np
    >>> from agnostic_ml.losses import ContrastiveLoss
    >>> from agnostic_ml.regularizers import LpRegularizer
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(ContrastiveLoss()(emb, [0, 0, 1, 1])), 4)
    0.738
    >>> loss = ContrastiveLoss(embedding_regularizer=LpRegularizer(), embedding_reg_weight=0.1)
    >>> round(float(loss(emb, [0, 0, 1, 1])), 4)  # + 0.1 * mean norm (1)
    0.838
    """


class WeightMixin:
    """Losses with learnable weights: ``weight_init_func`` (PML's ``WeightMixin``).

    ``weight_init_func`` is called on each freshly created weight array, in place (PML's
    semantics; in the torch adapter it is a ``torch.nn.init`` function such as
    ``torch.nn.init.normal_``). ``None`` uses the loss's default initialisation
    (:meth:`default_weight_init`, ``"normal"`` unless a loss says otherwise).

    Examples
    --------
    In the core the weights are NumPy arrays, so ``weight_init_func`` receives one:

    >>> from agnostic_ml.losses import ProxyAnchorLoss
    >>> loss = ProxyAnchorLoss(num_classes=2, embedding_size=3, weight_init_func=lambda w: w.fill(0.5))
    >>> loss.proxies.tolist(), loss.proxies.dtype
    ([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], dtype('float32'))
    >>> ProxyAnchorLoss(2, 3).default_weight_init()  # PML's kaiming_normal_(mode="fan_out")
    'kaiming_normal_fan_out'
    """

    def __init__(self, weight_init_func: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight_init_func = weight_init_func

    def default_weight_init(self) -> Any:
        return "normal"

    def make_weight(self, shape: tuple[int, ...]) -> Array:
        """A learnable array initialised by ``weight_init_func`` (or the default)."""
        init = self.weight_init_func if self.weight_init_func is not None else self.default_weight_init()
        return self.new_parameter(shape, init)  # type: ignore[attr-defined]


class WeightRegularizerMixin(WeightMixin):
    """``weight_regularizer`` and ``weight_reg_weight`` (PML's ``WeightRegularizerMixin``).

    Adds ``weight_reg_loss = weight_regularizer(weights) * weight_reg_weight`` to the loss
    dict (an already-reduced entry), where ``weights`` are the rows of the loss's class
    weights or proxies.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NormalizedSoftmaxLoss
    >>> from agnostic_ml.regularizers import RegularFaceRegularizer
    >>> loss = NormalizedSoftmaxLoss(2, 2, weight_regularizer=RegularFaceRegularizer(), weight_reg_weight=0.5)
    >>> loss.sub_loss_names()
    ['loss', 'weight_reg_loss']
    >>> loss.W = np.eye(2, dtype=np.float32)  # orthogonal class weights: no penalty
    >>> float(loss.weight_regularization_loss(loss.W.T)["losses"])
    0.0
    """

    def __init__(self, weight_regularizer: Any = None, weight_reg_weight: float = 1, **kwargs: Any) -> None:
        self._has_weight_regularizer = weight_regularizer is not None
        super().__init__(**kwargs)
        self.weight_regularizer = weight_regularizer
        self.weight_reg_weight = weight_reg_weight

    def weight_regularization_loss(self, weights: Array) -> dict[str, Any]:
        if self.weight_regularizer is None:
            return zero_loss_entry()
        loss = self.weight_regularizer(weights) * self.weight_reg_weight
        return {"losses": loss, "indices": None, "reduction_type": "already_reduced"}

    def add_weight_regularization_to_loss_dict(self, loss_dict: dict, weights: Array) -> None:
        if self.weight_regularizer is not None:
            loss_dict["weight_reg_loss"] = self.weight_regularization_loss(weights)
