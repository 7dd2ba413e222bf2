"""BaseMiner: the contract every miner follows (PML's ``BaseMiner``)."""

from __future__ import annotations

import functools
from typing import Any

from .._array_api import index_dtype, namespace_and_device, no_grad
from .._checks import prepare_batch
from .._stats import RecordsStats
from .._typing import Array
from ..distances import BaseDistance, LpDistance


class BaseMiner(RecordsStats):
    """Base class of miners.

    Calling ``miner(embeddings, labels, ref_emb=None, ref_labels=None)`` validates the
    inputs, converts host labels once to the embeddings' namespace and device, runs
    :meth:`mine` (without autograd on torch), checks its output and returns it:

    - triplets ``(a, p, n)``: anchors index ``embeddings``; ``p`` and ``n`` index the
      reference set (``ref_emb``, the batch itself when not given);
    - pairs ``(a1, p, a2, n)``.

    All are 1-D integer arrays of the embeddings' namespace and device (the indexing
    dtype, int64). Without a separate reference set, an anchor is never its own positive
    (PML's self-pair rule); with one, ``mine`` receives ``ref_labels is not labels``.

    Subclass and implement ``mine(embeddings, labels, ref_emb, ref_labels)``; inside it,
    ``ref_labels is labels`` tells that no reference set was given. A miner that builds
    its own reference set (class centres, a memory bank) sets ``builds_own_reference``:
    its call then refuses ``ref_emb`` / ``ref_labels``.

    Parameters
    ----------
    collect_stats : bool, default False
        Record statistics of each call in ``self.stats`` (a dict of 0-D arrays: no host
        sync is made when recording; ``num_triplets`` etc. are Python ints). Off by
        default, and then nothing is computed for them.
    distance : BaseDistance, optional
        Default ``LpDistance()`` (normalised Euclidean), as in PML; subclasses may differ.
    check_finite : bool, default True
        The library's non-finite policy: a NaN or inf in ``embeddings`` or ``ref_emb`` raises
        ``ValueError`` naming the array and its first bad row, before anything is mined (a
        NaN row would otherwise win as "hardest" negative or silently drop out). It costs
        one reduction over the inputs and one host sync per call (miners sync anyway to
        turn masks into indices). Set ``miner.check_finite = False`` (every miner has the
        attribute, whatever its constructor takes) to skip it when the inputs are known
        to be finite.
    """

    #: True for miners whose reference set is built internally: they refuse ``ref_emb`` / ``ref_labels``.
    builds_own_reference: bool = False
    #: The non-finite policy (see ``check_finite`` above); an instance attribute overrides it.
    check_finite: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # PML 0.9's miner arguments (normalize_embeddings, use_similarity, squared_distances)
        # are mapped onto distance= before a subclass's __init__ sees them (miners/legacy.py).
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_maps_legacy", False):
            return

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kw: Any) -> None:
            from .legacy import LEGACY_LEADING_BOOLS, LEGACY_MINER_ARGS, LEGACY_POSITIONAL, apply_legacy

            owner = init.__qualname__.split(".")[0]
            if any(k in kw for k in LEGACY_MINER_ARGS) or owner in LEGACY_POSITIONAL or owner in LEGACY_LEADING_BOOLS:
                args, kw = apply_legacy(type(self), init, args, kw)
            init(self, *args, **kw)

        __init__._maps_legacy = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]

    def __init__(
        self, collect_stats: bool = False, distance: BaseDistance | None = None, check_finite: bool = True, **legacy: Any
    ) -> None:
        if legacy:
            from .legacy import apply_legacy

            _, kw = apply_legacy(BaseMiner, BaseMiner.__init__, (), {**legacy, "distance": distance})
            if kw:
                unknown = sorted(set(kw) - {"distance"})
                if unknown:
                    raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {unknown}")
                distance = kw.get("distance")
        super().__init__()
        if distance is not None and not isinstance(distance, BaseDistance):
            raise TypeError(f"distance must be an agnostic_ml distance, got {type(distance).__name__}")
        if not isinstance(check_finite, bool):
            raise TypeError(f"check_finite must be a bool, got {check_finite!r}")
        if not check_finite:
            self.check_finite = False
        self.collect_stats = bool(collect_stats)
        self.distance = self.default_distance() if distance is None else distance
        self.stats: dict[str, Any] = {}

    def default_distance(self) -> BaseDistance:
        return LpDistance()

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, ...]:
        raise NotImplementedError

    def forward(
        self,
        embeddings: Array,
        labels: Any,
        ref_emb: Array | None = None,
        ref_labels: Any = None,
    ) -> tuple[Array, ...]:
        if self.builds_own_reference:
            refuse_ref_args(self, ref_emb, ref_labels)
        batch = self.prepare_inputs(embeddings, labels, ref_emb, ref_labels)
        self.stats = {}
        with no_grad(batch.xp):
            out = self.mine(batch.embeddings, batch.labels, batch.ref_emb, batch.ref_labels)
        out = self._check_output(out, batch.xp, batch.device)
        if self.collect_stats:
            if len(out) == 3:
                self.stats["num_triplets"] = int(out[0].shape[0])
            else:
                self.stats["num_pos_pairs"] = int(out[0].shape[0])
                self.stats["num_neg_pairs"] = int(out[2].shape[0])
        return out

    def prepare_inputs(self, embeddings: Array, labels: Any, ref_emb: Array | None = None, ref_labels: Any = None) -> Any:
        """:func:`agnostic_ml._checks.prepare_batch` with this miner's ``check_finite`` and name in errors.

        Every entry point of a miner (``forward``, ``mine_extended``, ...) validates its
        inputs through this method, so that the non-finite policy applies to all of them.
        """
        return prepare_batch(
            embeddings,
            labels,
            ref_emb,
            ref_labels,
            check_finite=bool(self.check_finite),
            where=type(self).__name__,
            distance=self.distance,
        )

    @staticmethod
    def _check_output(out: Any, xp: Any, device: Any) -> tuple[Array, ...]:
        if not isinstance(out, tuple) or len(out) not in (3, 4):
            raise TypeError(
                f"a miner must return a 3-tuple (a, p, n) or a 4-tuple (a1, p, a2, n), got {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, tuple) else "")
            )
        idt = index_dtype(xp, device)
        fixed = []
        for i, t in enumerate(out):
            txp, _ = namespace_and_device(t)
            if txp is not xp:
                raise TypeError(f"miner output {i} is not an array of the embeddings' namespace")
            if t.ndim != 1:
                raise ValueError(f"miner output {i} must be 1-D, got shape {tuple(t.shape)}")
            fixed.append(t if t.dtype == idt else xp.astype(t, idt))
        if len(out) == 3:
            if not fixed[0].shape[0] == fixed[1].shape[0] == fixed[2].shape[0]:
                raise ValueError("triplet outputs (a, p, n) must have equal lengths")
        elif fixed[0].shape[0] != fixed[1].shape[0] or fixed[2].shape[0] != fixed[3].shape[0]:
            raise ValueError("pair outputs need len(a1) == len(p) and len(a2) == len(n)")
        return tuple(fixed)


def refuse_ref_args(miner: Any, ref_emb: Any, ref_labels: Any, *, labels: Any = None) -> None:
    """Raise when ``ref_emb`` / ``ref_labels`` reach a miner that builds its own reference set.

    Called with the user's arguments (``None`` = not given), or from ``mine`` with ``labels``
    too, where "not given" is ``ref_labels is labels`` (see :class:`BaseMiner`).
    """
    given = (ref_labels is not labels) if labels is not None else (ref_emb is not None or ref_labels is not None)
    if given:
        raise ValueError(
            f"{type(miner).__name__} builds its own reference set and does not accept ref_emb/ref_labels "
            f"(got ref_emb={type(ref_emb).__name__}, ref_labels={type(ref_labels).__name__}); "
            "call it as miner(embeddings, labels)"
        )
