"""Loss wrappers: BaseLossWrapper, MultipleLosses and SelfSupervisedLoss (PML's)."""

from __future__ import annotations

from typing import Any, Sequence

from .._array_api import index_dtype, namespace_and_device
from .._checks import check_all_finite
from .._component import Component

Array = Any

__all__ = ["BaseLossWrapper", "MultipleLosses", "SelfSupervisedLoss", "TUPLE_LOSSES"]

#: The tuple losses that PML's SelfSupervisedLoss and CrossBatchMemory accept.
TUPLE_LOSSES = (
    "AngularLoss",
    "CircleLoss",
    "ContrastiveLoss",
    "GeneralizedLiftedStructureLoss",
    "IntraPairVarianceLoss",
    "LiftedStructureLoss",
    "MultiSimilarityLoss",
    "NCALoss",
    "NTXentLoss",
    "SignalToNoiseRatioContrastiveLoss",
    "SupConLoss",
    "TripletMarginLoss",
    "TupletMarginLoss",
)


class BaseLossWrapper(Component):
    """Base of wrappers around one loss (PML's ``BaseLossWrapper(loss)``).

    Subclasses list the wrapped losses they support in :meth:`supported_losses` (class
    names); :meth:`check_loss_support` raises ``TypeError`` for others (PML raises a bare
    ``Exception``). A loss is supported when its class *or one of its base classes* has a
    supported name, so user subclasses of a supported loss work (PML compares the exact name).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import BaseLossWrapper, ContrastiveLoss, TripletMarginLoss
    >>> class Doubled(BaseLossWrapper):
    ...     @staticmethod
    ...     def supported_losses():
    ...         return ["ContrastiveLoss"]
    ...     def __init__(self, loss):
    ...         super().__init__(loss=loss)
    ...         self.loss = loss
    ...     def forward(self, embeddings, labels):
    ...         return 2 * self.loss(embeddings, labels)
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(Doubled(ContrastiveLoss())(emb, [0, 0, 1, 1])), 4)
    1.4761
    >>> Doubled(TripletMarginLoss())
    Traceback (most recent call last):
    ...
    TypeError: Doubled does not support TripletMarginLoss; supported: ContrastiveLoss
    """

    def __init__(self, loss: Any, **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {sorted(kwargs)}")
        self.check_loss_support(loss)

    @staticmethod
    def supported_losses() -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def check_loss_support(cls, loss: Any) -> None:
        names = {c.__name__ for c in type(loss).__mro__} if not isinstance(loss, str) else {loss}
        if not names & set(cls.supported_losses()):
            name = loss if isinstance(loss, str) else type(loss).__name__
            raise TypeError(f"{cls.__name__} does not support {name}; supported: {', '.join(cls.supported_losses())}")


class MultipleLosses(Component):
    """A weighted sum of losses, each optionally with its own miner (PML's ``MultipleLosses``).

    ``MultipleLosses(losses, miners=None, weights=None)`` where ``losses`` is a list or a
    dict of losses; ``miners`` (same container type; a dict may cover only some keys, a list
    has one entry per loss, ``None`` for none) mine the indices tuple of the loss they belong
    to; ``weights`` (same container type, every key) default to 1. Calling it with
    ``(embeddings, labels, indices_tuple=None)`` returns
    ``sum_i weights[i] * losses[i](embeddings, labels, tuple_i)``, where ``tuple_i`` is the
    loss's miner output or the given ``indices_tuple``. Passing an ``indices_tuple`` together
    with miners raises ``ValueError`` (PML asserts). Malformed containers raise errors that
    say what is wrong instead of PML's bare asserts.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import ContrastiveLoss, MultipleLosses, TripletMarginLoss
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> both = MultipleLosses([ContrastiveLoss(), TripletMarginLoss(margin=0.5)], weights=[1, 2])
    >>> round(float(both(emb, [0, 0, 1, 1])), 4)
    1.2141
    """

    def __init__(self, losses: Sequence[Any] | dict[str, Any], miners: Any = None, weights: Any = None) -> None:
        super().__init__()
        self.is_dict = isinstance(losses, dict)
        if not self.is_dict and not isinstance(losses, (list, tuple)):
            raise TypeError(f"losses must be a list or a dict of losses, got {type(losses).__name__}")
        if not losses:
            raise ValueError("losses must not be empty")
        keys = list(losses.keys()) if self.is_dict else list(range(len(losses)))
        for k in keys:
            if not callable(losses[k]):
                raise TypeError(f"losses[{k!r}] must be a loss, got {type(losses[k]).__name__}")
        self.losses = dict(losses) if self.is_dict else list(losses)
        if miners is not None:
            self._check_container(miners, "miners", keys, all_keys=False)
            self.miners = dict(miners) if self.is_dict else list(miners)
        else:
            self.miners = None
        if weights is not None:
            self._check_container(weights, "weights", keys, all_keys=True)
            self.weights = dict(weights) if self.is_dict else list(weights)
        else:
            self.weights = {k: 1 for k in keys} if self.is_dict else [1] * len(keys)

    def _check_container(self, x: Any, name: str, keys: list, *, all_keys: bool) -> None:
        if self.is_dict:
            if not isinstance(x, dict):
                raise TypeError(f"{name} must be a dict like losses, got {type(x).__name__}")
            unknown = sorted(set(x) - set(keys), key=str)
            if unknown:
                raise ValueError(f"{name} has keys {unknown} that are not keys of losses {keys}")
            if all_keys and set(x) != set(keys):
                raise ValueError(f"{name} must have exactly the keys of losses {keys}, got {sorted(x, key=str)}")
        else:
            if not isinstance(x, (list, tuple)):
                raise TypeError(f"{name} must be a list like losses, got {type(x).__name__}")
            if len(x) != len(keys):
                raise ValueError(f"{name} must have one entry per loss ({len(keys)}), got {len(x)}")

    def _items(self) -> list[tuple[Any, Any]]:
        if self.is_dict:
            return list(self.losses.items())
        return list(enumerate(self.losses))

    def _miner(self, key: Any) -> Any:
        if not self.miners:
            return None
        if self.is_dict:
            return self.miners[key] if key in self.miners else None
        return self.miners[key]

    def forward(self, embeddings: Array, labels: Any, indices_tuple: Any = None) -> Array:
        if self.miners and indices_tuple is not None:
            raise ValueError("MultipleLosses has miners: do not pass an indices_tuple as well")
        total = None
        for key, loss in self._items():
            miner = self._miner(key)
            tup = miner(embeddings, labels) if miner is not None else indices_tuple
            term = loss(embeddings, labels, tup) * self.weights[key]
            total = term if total is None else total + term
        return total


class SelfSupervisedLoss(BaseLossWrapper):
    """Labels from augmentations (PML's ``SelfSupervisedLoss(loss, symmetric=True)``).

    ``forward(embeddings, ref_emb)``: row ``i`` of ``ref_emb`` is an augmentation of row
    ``i`` of ``embeddings``, so the labels are ``arange(N)``. With ``symmetric`` both views
    are concatenated and the loss sees ``(concat(emb, ref), concat(arange, arange))``;
    otherwise ``loss(embeddings, arange, ref_emb=ref_emb, ref_labels=arange)``. The wrapped
    loss must be one of :data:`TUPLE_LOSSES` (or a subclass). Labels are created in the
    embeddings' namespace and on their device (PML creates them on the CPU).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.losses import NTXentLoss, SelfSupervisedLoss
    >>> view1 = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> view2 = np.array([[0.9, 0.1], [0.7, 0.7], [0.1, 0.9], [-0.5, 0.9]])  # augmentations, row by row
    >>> loss = SelfSupervisedLoss(NTXentLoss(temperature=0.5))
    >>> round(float(loss(view1, view2)), 4)
    1.1885
    >>> round(float(SelfSupervisedLoss(NTXentLoss(temperature=0.5), symmetric=False)(view1, view2)), 4)
    0.7555
    """

    def __init__(self, loss: Any, symmetric: bool = True, **kwargs: Any) -> None:
        super().__init__(loss=loss, **kwargs)
        self.loss = loss
        self.symmetric = bool(symmetric)

    @staticmethod
    def supported_losses() -> list[str]:
        return list(TUPLE_LOSSES)

    def forward(self, embeddings: Array, ref_emb: Array) -> Array:
        xp, device = namespace_and_device(embeddings, ref_emb)
        if tuple(ref_emb.shape) != tuple(embeddings.shape):
            raise ValueError(
                f"ref_emb must have the shape of embeddings {tuple(embeddings.shape)} (row i augments row i), "
                f"got {tuple(ref_emb.shape)}"
            )
        if getattr(self.loss, "check_finite", True):
            # here, so that a bad row is named in the caller's arrays (not in their concatenation)
            check_all_finite({"embeddings": embeddings, "ref_emb": ref_emb}, xp=xp, where="SelfSupervisedLoss")
        labels = xp.arange(embeddings.shape[0], dtype=index_dtype(xp, device), device=device)
        if self.symmetric:
            return self.loss(xp.concat([embeddings, ref_emb], axis=0), xp.concat([labels, labels]))
        return self.loss(embeddings, labels, None, ref_emb, xp.asarray(labels, copy=True))
