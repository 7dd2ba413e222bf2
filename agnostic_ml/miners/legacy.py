"""The 0.9-era miner API (``../shared/seeds/001`` and ``004``), accepted with a ``FutureWarning``.

PML 0.9 configured the geometry on the miner itself and had two miner flavours:

- ``normalize_embeddings``, ``use_similarity`` and ``squared_distances`` on every miner. Today a
  distance object carries them: ``use_similarity=True`` -> ``DotProductSimilarity()``
  (cosine with the default normalisation), ``squared_distances=True`` -> ``LpDistance(power=2)``,
  ``normalize_embeddings`` -> that distance's ``normalize_embeddings``. They are accepted as
  keywords by every miner, and positionally where 0.9 had them positionally
  (``PairMarginMiner(pos_margin, neg_margin, use_similarity, squared_distances)``,
  ``HDCMiner(filter_percentage, use_similarity, squared_distances)``,
  ``BatchHardMiner(use_similarity, squared_distances)``: leading bools).
- :class:`BasePostGradientMiner` (today's :class:`~agnostic_ml.miners.BaseMiner`: tuples of
  indices) and :class:`BasePreGradientMiner` (``output_batch_size``: the indices of a subset of
  the batch, to recompute with gradients; today's trainers call it a ``subset_batch_miner``),
  with :class:`MaximumLossMiner` as its one implementation.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import numpy as np

from .._array_api import from_host_indices, index_dtype, namespace_and_device, no_grad, take_rows, to_numpy
from .._checks import prepare_batch
from .._random import as_generator
from .._typing import Array
from .._validate import check_int
from ..distances import CosineSimilarity, DotProductSimilarity, LpDistance
from .base import BaseMiner

__all__ = ["LEGACY_MINER_ARGS", "BasePostGradientMiner", "BasePreGradientMiner", "MaximumLossMiner", "legacy_distance"]

LEGACY_MINER_ARGS = ("normalize_embeddings", "use_similarity", "squared_distances")

#: Where PML 0.9 took the legacy settings positionally, after the modern positional arguments
#: (keyed by the class that defines the ``__init__``).
LEGACY_POSITIONAL = {
    "PairMarginMiner": ("use_similarity", "squared_distances"),
    "HDCMiner": ("use_similarity", "squared_distances"),
}
#: Where 0.9's positional settings came *first* (today's first positional arguments are
#: ranges or None, never bools, so leading bools are the 0.9 spelling).
LEGACY_LEADING_BOOLS = {"BatchHardMiner": ("use_similarity", "squared_distances")}


def legacy_distance(owner: type, legacy: dict[str, Any]) -> Any:
    """The distance object that the 0.9-era ``legacy`` settings of miner class ``owner`` describe."""
    use_sim = bool(legacy.get("use_similarity", False))
    squared = bool(legacy.get("squared_distances", False))
    if use_sim and squared:
        raise ValueError(f"{owner.__name__}: use_similarity and squared_distances exclude each other")
    if use_sim:
        dist = DotProductSimilarity()
    elif squared:
        dist = LpDistance(power=2)
    elif "use_similarity" in legacy or "squared_distances" in legacy:
        dist = LpDistance()
    else:  # only normalize_embeddings: the miner's own default geometry
        dist = owner.default_distance(object.__new__(owner))
        if isinstance(dist, CosineSimilarity) and not legacy.get("normalize_embeddings", True):
            dist = DotProductSimilarity()  # cosine without normalisation is the dot product
    if "normalize_embeddings" in legacy:
        dist.normalize_embeddings = bool(legacy["normalize_embeddings"])
    return dist


def apply_legacy(cls: type, init: Callable[..., None], args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Map 0.9-era positional and keyword miner arguments onto ``distance=`` (with a warning)."""
    legacy = {k: kwargs.pop(k) for k in LEGACY_MINER_ARGS if k in kwargs}
    owner = init.__qualname__.split(".")[0]
    leading = LEGACY_LEADING_BOOLS.get(owner, ())
    if leading and args and isinstance(args[0], bool):
        n_bool = next((i for i, a in enumerate(args) if not isinstance(a, bool)), len(args))
        if n_bool > len(leading):
            raise TypeError(f"{cls.__name__} takes at most {len(leading)} leading 0.9-era flags {leading}")
        for name, value in zip(leading, args[:n_bool]):
            legacy[name] = value
        args = args[n_bool:]
    positional_names = LEGACY_POSITIONAL.get(owner, ())
    if positional_names:
        params = [p for p in inspect.signature(init).parameters.values() if p.name != "self"]
        n_modern = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        if len(args) > n_modern:
            extra = args[n_modern:]
            if len(extra) > len(positional_names):
                raise TypeError(f"{cls.__name__} takes at most {n_modern + len(positional_names)} positional arguments")
            for name, value in zip(positional_names, extra):
                if name in legacy:
                    raise TypeError(f"{cls.__name__} got {name} both positionally and as a keyword")
                legacy[name] = value
            args = args[:n_modern]
    if not legacy:
        return args, kwargs
    if kwargs.get("distance") is not None:
        raise ValueError(
            f"{cls.__name__}: pass either distance= or the 0.9-era {', '.join(sorted(legacy))}, not both"
        )
    kwargs["distance"] = legacy_distance(cls, legacy)
    warnings.warn(
        f"{cls.__name__}({', '.join(f'{k}=...' for k in sorted(legacy))}) is the PML 0.9 spelling; pass "
        f"distance={type(kwargs['distance']).__name__}(...) instead (use_similarity -> DotProductSimilarity, "
        "squared_distances -> LpDistance(power=2), normalize_embeddings -> the distance's normalize_embeddings)",
        FutureWarning,
        stacklevel=4,
    )
    return args, kwargs


class BasePostGradientMiner(BaseMiner):
    """PML 0.9's name of :class:`~agnostic_ml.miners.BaseMiner` (miners that return index tuples).

    Subclassing it works as subclassing ``BaseMiner``; constructing a subclass warns once
    (``FutureWarning``) that the modern base is ``BaseMiner``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("agnostic_ml_torch."):
            return  # the adapter's generated nn.Module shell of this class, not a user's subclass
        warnings.warn(
            f"{cls.__name__} subclasses BasePostGradientMiner, PML 0.9's name of BaseMiner; subclass BaseMiner",
            FutureWarning,
            stacklevel=2,
        )


class BasePreGradientMiner(BaseMiner):
    """A miner that returns the indices of a subset of the batch (PML 0.9's pre-gradient miner).

    ``miner(embeddings, labels)`` runs :meth:`mine` without autograd and returns a 1-D index
    array of length ``output_batch_size`` into the batch (the embeddings' namespace and
    device). A trainer then recomputes the embeddings of that subset with gradients (today's
    ``subset_batch_miner``). Subclasses implement ``mine(embeddings, labels)``.

    Parameters
    ----------
    output_batch_size : int
        The size of the subset; at most the batch size at call time (``ValueError`` otherwise).
    """

    def __init__(self, output_batch_size: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_batch_size = check_int(output_batch_size, "output_batch_size", minimum=1)

    def forward(self, embeddings: Array, labels: Any, ref_emb: Any = None, ref_labels: Any = None) -> Array:  # type: ignore[override]
        if ref_emb is not None or ref_labels is not None:
            raise ValueError(f"{type(self).__name__} selects a subset of the batch: ref_emb/ref_labels are not supported")
        b = prepare_batch(embeddings, labels)
        if self.output_batch_size > b.embeddings.shape[0]:
            raise ValueError(
                f"output_batch_size={self.output_batch_size} is larger than the batch ({b.embeddings.shape[0]} rows)"
            )
        self.stats = {}
        with no_grad(b.xp):
            out = self.mine(b.embeddings, b.labels)
        if not hasattr(out, "shape") or out.ndim != 1 or out.shape[0] != self.output_batch_size:
            got = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
            raise ValueError(f"{type(self).__name__}.mine must return {self.output_batch_size} indices, got {got}")
        idt = index_dtype(b.xp, b.device)
        return out if out.dtype == idt else b.xp.astype(out, idt)

    def mine(self, embeddings: Array, labels: Array) -> Array:  # type: ignore[override]  # pragma: no cover
        raise NotImplementedError


class MaximumLossMiner(BasePreGradientMiner):
    """The random subset of the batch with the highest loss (PML 0.9's ``MaximumLossMiner``).

    ``MaximumLossMiner(loss_function, mining_function=None, num_trials=5, output_batch_size=...)``:
    draws ``num_trials`` random subsets of ``output_batch_size`` rows (without replacement;
    PML 0.9 drew rows with replacement, so a "subset" could repeat a row), computes
    ``loss_function(emb[s], labels[s], mining_function(emb[s], labels[s]))`` on each (without
    autograd) and returns the indices of the subset with the largest loss (the first one
    on ties). Randomness comes only from ``rng`` (a NumPy Generator, an int seed or None).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ContrastiveLoss
    >>> from agnostic_ml.miners import MaximumLossMiner
    >>> x = np.random.default_rng(0).standard_normal((12, 3))
    >>> idx = MaximumLossMiner(ContrastiveLoss(), num_trials=4, output_batch_size=6, rng=0)(x, np.arange(12) % 3)
    >>> idx.shape, len(set(idx.tolist()))
    ((6,), 6)
    """

    def __init__(
        self,
        loss_function: Callable[..., Any],
        mining_function: Callable[..., Any] | None = None,
        num_trials: int = 5,
        *,
        output_batch_size: int,
        rng: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(output_batch_size=output_batch_size, **kwargs)
        if not callable(loss_function):
            raise TypeError(f"loss_function must be a loss, got {type(loss_function).__name__}")
        if mining_function is not None and not callable(mining_function):
            raise TypeError(f"mining_function must be a miner or None, got {type(mining_function).__name__}")
        self.loss_function = loss_function
        self.mining_function = mining_function
        self.num_trials = check_int(num_trials, "num_trials", minimum=1)
        self.rng = as_generator(rng)

    def mine(self, embeddings: Array, labels: Array) -> Array:  # type: ignore[override]
        xp, device = namespace_and_device(embeddings)
        n = embeddings.shape[0]
        subsets = np.stack([self.rng.choice(n, size=self.output_batch_size, replace=False) for _ in range(self.num_trials)])
        idx_all = from_host_indices(subsets, xp, device)
        values = []
        for t in range(self.num_trials):
            idx = idx_all[t, ...]
            emb, lab = take_rows(embeddings, idx, xp=xp), xp.take(labels, idx)
            tup = self.mining_function(emb, lab) if self.mining_function is not None else None
            values.append(float(to_numpy(self.loss_function(emb, lab, tup))))
        self.record(losses=values)
        return idx_all[int(np.argmax(values)), ...]
