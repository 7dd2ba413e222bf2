"""Single-batch invariant checks of a metric loss: :func:`check_loss`.

Every metric loss must satisfy these, whatever its formula:

=================  ===========================================================================
check              meaning
=================  ===========================================================================
``finite``         the value is a finite 0-D tensor and its gradient is finite
``permutation``    permuting the batch together with its labels (and remapping the indices
                   tuple) leaves the value unchanged and permutes the gradient the same way
``relabel``        renaming the class ids leaves the value and the gradient unchanged (for
                   losses whose labels index class weights, the renaming is a permutation of
                   ``range(num_classes)`` applied to the weight rows too)
``empty_tuple``    an empty indices tuple (triplets and pairs) gives 0 with a zero gradient
                   (or, for losses that weigh samples by the tuple, the value without a tuple)
``tuples``         both pair (``a1, p, a2, n``) and triplet (``a, p, n``) miner outputs are
                   accepted: finite value and gradient
``dtype``          float32 and float64 give the same value within a tolerance (on batches
                   without duplicated rows: their distance is 0 in float64 but about
                   ``sqrt(eps)`` = 5e-4 in float32, which crosses hinges at 0)
=================  ===========================================================================

Checks that do not apply to a loss are declared with ``skip={"relabel": "why"}``; the
reason is kept in the result. A failing check raises :class:`LossInvariantViolation` (an
``AssertionError``) whose message shows the batch (embeddings, labels, indices tuple), the
two values compared and the tolerance, and a line that reproduces it.

The checks run the loss on torch tensors on the CPU (gradients need autograd); the loss
may be a torch module of :mod:`agnostic_ml_torch.losses` or any callable taking torch
tensors, including the core classes of :mod:`agnostic_ml.losses`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._text import exception_line, raised_where
from ._calls import _zero_arg_callable
from .invariants import InvariantViolation

__all__ = ["LOSS_CHECKS", "LossBatch", "LossInvariantViolation", "check_loss", "default_loss_call", "loss_maker"]

#: The checks, in the order they run: key -> what it means.
LOSS_CHECKS: dict[str, str] = {
    "finite": "finite value and gradient",
    "permutation": "unchanged when the batch is permuted with its labels",
    "relabel": "unchanged when the class ids are renamed",
    "empty_tuple": "an empty indices tuple gives 0 with a zero gradient",
    "tuples": "pair and triplet miner outputs are accepted",
    "dtype": "float32 and float64 agree",
}

_LABEL_KINDS = ("ids", "class_index", "none")
_EMPTY_TUPLE = ("zero", "no_tuple", "either")


class LossInvariantViolation(InvariantViolation):
    """A loss broke an invariant; the message shows the batch, the values and the tolerance.

    Attributes
    ----------
    rule : str
        The failing check (a key of :data:`LOSS_CHECKS`), or ``"crash"``.
    embeddings, labels : numpy.ndarray or None
        The batch the check ran on (host copies).
    indices_tuple : tuple of numpy.ndarray or None
        The indices tuple given with the batch.
    values : tuple
        The two quantities compared (e.g. the value on the batch and on the permuted batch).
    tolerance : str
        The tolerance they were compared with.
    """

    __module__ = "agnostic_ml.testing"

    def __init__(self, message: str, *, rule: str, embeddings: np.ndarray | None = None,
                 labels: np.ndarray | None = None, indices_tuple: tuple[np.ndarray, ...] | None = None,
                 values: tuple[Any, ...] = (), tolerance: str = "") -> None:
        super().__init__(message, rule=rule)
        self.embeddings = embeddings
        self.labels = labels
        self.indices_tuple = indices_tuple
        self.values = values
        self.tolerance = tolerance


# -- how the kit builds and calls a loss ----------------------------------------------------


def loss_maker(loss: Any) -> Callable[[], Any]:
    """A zero-argument function building the loss: a class or a zero-argument factory is
    called; a built loss (a module) or a loss function ``f(embeddings, labels, ...)`` is
    returned as it is (the checks deep-copy a built loss before every call)."""
    if isinstance(loss, type):
        return loss
    if not callable(loss):
        raise TypeError(f"loss must be a loss class, a zero-argument factory or a loss, got {type(loss).__name__}")
    if _is_loss_object(loss) or not _zero_arg_callable(loss):
        return lambda: loss
    return loss


def _is_loss_object(obj: Any) -> bool:
    """A built loss (a module or an object with ``compute_loss`` / ``forward``), not a factory."""
    try:
        import torch

        if isinstance(obj, torch.nn.Module):
            return True
    except ImportError:  # pragma: no cover - the checks need torch anyway
        pass
    return any(hasattr(obj, a) for a in ("compute_loss", "forward", "reducer"))


def default_loss_call(loss: Any, embeddings: Any, labels: Any, indices_tuple: Any, ref_emb: Any) -> Any:
    """How the checks call a loss: ``loss(embeddings, labels, indices_tuple)``, or
    ``loss(embeddings, ref_emb=ref_emb)`` for a self-supervised loss (no labels, a ``ref_emb``).

    Pass your own ``call(loss, embeddings, labels, indices_tuple, ref_emb)`` to
    :func:`check_loss` for a loss called another way.
    """
    if labels is None and ref_emb is not None:
        return loss(embeddings, ref_emb=ref_emb)
    if indices_tuple is None:
        return loss(embeddings, labels)
    return loss(embeddings, labels, indices_tuple)


@dataclass(frozen=True)
class LossOptions:
    """What :func:`check_loss` was told about the loss (validated once)."""

    checks: tuple[str, ...]
    skip: Mapping[str, str]
    labels_kind: str
    num_classes: int | None
    empty_tuple: str
    call: Callable[..., Any]
    rtol: float
    atol: float
    dtype_rtol: float
    dtype_atol: float
    seed: int
    name: str
    tuples: bool = True


def _validate(*, checks: Sequence[str] | None, skip: Mapping[str, str] | None, labels_kind: str | None,
              num_classes: int | None, empty_tuple: str, call: Any, rtol: float, atol: float,
              dtype_rtol: float, dtype_atol: float, seed: int, name: str, probe: Any,
              tuples: bool = True) -> LossOptions:
    if checks is None:
        chosen = tuple(LOSS_CHECKS)
    else:
        if isinstance(checks, str):
            checks = [c.strip() for c in checks.split(",") if c.strip()]
        unknown = [c for c in checks if c not in LOSS_CHECKS]
        if unknown or not checks:
            raise ValueError(f"checks must be a non-empty list of {', '.join(LOSS_CHECKS)}, got {list(checks)!r}")
        chosen = tuple(c for c in LOSS_CHECKS if c in checks)
    skip = dict(skip or {})
    for key, why in skip.items():
        if key not in LOSS_CHECKS:
            raise ValueError(f"skip: unknown check {key!r}; the checks are {', '.join(LOSS_CHECKS)}")
        if not isinstance(why, str) or not why.strip():
            raise ValueError(f"skip[{key!r}] must be a non-empty reason (a str), got {why!r}")
    if labels_kind is None:
        n_cls = getattr(probe, "num_classes", None)
        labels_kind = "class_index" if isinstance(n_cls, int) and not isinstance(n_cls, bool) else "ids"
    if labels_kind not in _LABEL_KINDS:
        raise ValueError(f"labels_kind must be one of {', '.join(_LABEL_KINDS)} or None, got {labels_kind!r}")
    if labels_kind == "class_index":
        num_classes = num_classes if num_classes is not None else getattr(probe, "num_classes", None)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError("num_classes must be a positive int when labels_kind='class_index' "
                             f"(the loss has no int num_classes attribute), got {num_classes!r}")
    if empty_tuple not in _EMPTY_TUPLE:
        raise ValueError(f"empty_tuple must be 'zero', 'no_tuple' or 'either', got {empty_tuple!r}")
    if call is not None and not callable(call):
        raise TypeError(f"call must be callable, got {type(call).__name__}")
    for arg, v in (("rtol", rtol), ("atol", atol), ("dtype_rtol", dtype_rtol), ("dtype_atol", dtype_atol)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{arg} must be a non-negative number, got {v!r}")
    return LossOptions(checks=chosen, skip=skip, labels_kind=labels_kind, num_classes=num_classes,
                       empty_tuple=empty_tuple, call=call or default_loss_call, rtol=float(rtol), atol=float(atol),
                       dtype_rtol=float(dtype_rtol), dtype_atol=float(dtype_atol), seed=int(seed), name=name,
                       tuples=bool(tuples))


def loss_label(probe: Any) -> str:
    """A short name of a built loss for reports: its class name."""
    return type(probe).__name__


# -- the checks --------------------------------------------------------------------------------


def check_loss(
    loss: Any,
    embeddings: Any,
    labels: Any = None,
    *,
    indices_tuple: Any = None,
    ref_emb: Any = None,
    checks: Sequence[str] | None = None,
    skip: Mapping[str, str] | None = None,
    labels_kind: str | None = None,
    num_classes: int | None = None,
    empty_tuple: str = "zero",
    tuples: bool = True,
    call: Callable[..., Any] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    dtype_rtol: float = 1e-3,
    dtype_atol: float = 1e-3,
    seed: int = 0,
    name: str | None = None,
) -> dict[str, str]:
    """Check the invariants of :data:`LOSS_CHECKS` on one batch; raise on the first failure.

    Parameters
    ----------
    loss
        A built loss (deep-copied before every call, so learnable weights and any state are
        the same in every run), a loss class or a zero-argument factory (called once, under
        ``torch.manual_seed(seed)``).
    embeddings : array_like, shape (N, D)
        A float batch (NumPy, torch or lists); the checks run in its dtype (float64 when
        not floating) on torch, on the CPU.
    labels : array_like, shape (N,), optional
        Integer labels (None for a self-supervised loss).
    indices_tuple : tuple of array_like, optional
        Triplets ``(a, p, n)`` or pairs ``(a1, p, a2, n)`` passed with the batch; the
        ``permutation`` check remaps them.
    ref_emb : array_like, shape (N, D), optional
        The second view of a self-supervised loss (``loss(embeddings, ref_emb=...)``),
        permuted together with the batch.
    checks : sequence of str, optional
        The checks to run (default: all of :data:`LOSS_CHECKS`).
    skip : dict, optional
        ``{check: reason}`` for invariants that do not apply to this loss; reported as
        ``"skip: reason"``.
    labels_kind : {"ids", "class_index", "none"}, optional
        ``"ids"``: labels are arbitrary class ids, renamed to other distinct integers;
        ``"class_index"``: labels index class weights (ArcFace, proxies), renamed by a
        permutation of ``range(num_classes)`` that also permutes the class axis of every
        parameter and buffer; ``"none"``: the loss takes no labels. Default:
        ``"class_index"`` when the loss has an int ``num_classes``, else ``"ids"``.
    num_classes : int, optional
        Classes of a ``"class_index"`` loss (default: ``loss.num_classes``).
    empty_tuple : {"zero", "no_tuple", "either"}, default "zero"
        What an empty indices tuple means: nothing to compute (0 with a zero gradient), or,
        for losses that weigh samples by the tuple (PML's ``convert_to_weights``), every
        sample weighted 1 (the value without a tuple); ``"either"`` accepts whichever of the
        two holds (the command line's default, for a loss whose kind it does not know).
    tuples : bool, default True
        Whether the loss takes an ``indices_tuple`` (False skips ``empty_tuple`` and ``tuples``).
    call : callable, optional
        ``call(loss, embeddings, labels, indices_tuple, ref_emb) -> value`` for a loss called
        its own way (default :func:`default_loss_call`).
    rtol, atol : float, optional
        Tolerance of the ``permutation``, ``relabel`` and ``empty_tuple`` comparisons:
        ``|a - b| <= atol + rtol * max(|a|, |b|)`` (gradients: scaled by their largest entry,
        and ``atol`` at least ``sqrt(eps)`` of the dtype, the rounding of a distance at 0).
        Default: ``1e-6`` and ``1e-9`` for float64 batches, ``1e-4`` and ``1e-6`` for float32.
    dtype_rtol, dtype_atol : float
        Tolerance of the float32 / float64 comparison.
    seed : int, default 0
        Seeds the permutation, the renaming and ``torch.manual_seed`` before each call.
    name : str, optional
        How messages name the loss (default: its class name).

    Returns
    -------
    dict
        ``{check: "pass" | "skip: reason"}`` for the checks asked for.

    Raises
    ------
    LossInvariantViolation
        (an ``AssertionError``) on the first failing check.
    ValueError, TypeError
        When the loss rejects the batch itself, or for bad arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml_torch.losses import ContrastiveLoss
    >>> emb = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    >>> check_loss(ContrastiveLoss(), emb, [0, 0, 1, 1])["permutation"]
    'pass'
    """
    import torch

    make = loss_maker(loss)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        base = make()
    f32 = _host(embeddings).dtype == np.float32
    rtol = (1e-4 if f32 else 1e-6) if rtol is None else rtol
    atol = (1e-6 if f32 else 1e-9) if atol is None else atol
    opts = _validate(checks=checks, skip=skip, labels_kind=labels_kind, num_classes=num_classes,
                     empty_tuple=empty_tuple, call=call, rtol=rtol, atol=atol, dtype_rtol=dtype_rtol,
                     dtype_atol=dtype_atol, seed=seed, name=name or loss_label(base), probe=base,
                     tuples=tuples)
    batch = LossBatch.from_inputs(embeddings, labels, indices_tuple, ref_emb, opts)
    return _LossChecker(base, opts).run(batch)


@dataclass(frozen=True)
class LossBatch:
    """One loss input as NumPy arrays: embeddings, labels, an indices tuple, a second view.

    Attributes
    ----------
    embeddings : numpy.ndarray, shape (N, D)
    labels : numpy.ndarray of int64, shape (N,), or None
    indices_tuple : tuple of numpy.ndarray or None
        Triplets ``(a, p, n)`` or pairs ``(a1, p, a2, n)``.
    ref_emb : numpy.ndarray, shape (N, D), or None
        The second view of a self-supervised loss.
    """

    embeddings: np.ndarray
    labels: np.ndarray | None
    indices_tuple: tuple[np.ndarray, ...] | None
    ref_emb: np.ndarray | None

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @classmethod
    def from_inputs(cls, embeddings: Any, labels: Any, indices_tuple: Any, ref_emb: Any,
                    opts: LossOptions) -> LossBatch:
        emb = _host_float(embeddings, "embeddings")
        if emb.ndim != 2:
            raise ValueError(f"embeddings must be 2-D (N, D), got shape {emb.shape}")
        lab = None
        if labels is not None:
            lab = _host(labels)
            if lab.ndim != 1 or lab.shape[0] != emb.shape[0] or not np.issubdtype(lab.dtype, np.integer):
                raise ValueError(f"labels must be {emb.shape[0]} integers (one per embedding), got "
                                 f"shape {lab.shape} of {lab.dtype}")
            lab = lab.astype(np.int64)
            if opts.labels_kind == "class_index" and lab.size and (lab.min() < 0 or lab.max() >= opts.num_classes):
                raise ValueError(f"labels must lie in range({opts.num_classes}) for a class-index loss, got "
                                 f"{lab.min()}..{lab.max()}")
        elif opts.labels_kind != "none" and ref_emb is None:
            raise ValueError("labels are required unless labels_kind='none' or ref_emb is given")
        tup = None
        if indices_tuple is not None:
            if not isinstance(indices_tuple, (tuple, list)) or len(indices_tuple) not in (3, 4):
                raise ValueError("indices_tuple must be a tuple of 3 (triplets) or 4 (pairs) index arrays, got "
                                 f"{type(indices_tuple).__name__}")
            tup = tuple(_host(t).astype(np.int64).reshape(-1) for t in indices_tuple)
        ref = None if ref_emb is None else _host_float(ref_emb, "ref_emb").astype(emb.dtype)
        if ref is not None and ref.shape != emb.shape:
            raise ValueError(f"ref_emb must have the shape of embeddings {emb.shape}, got {ref.shape}")
        return cls(emb, lab, tup, ref)


def _host(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _host_float(x: Any, name: str) -> np.ndarray:
    arr = _host(x)
    if arr.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be a float array, got {arr.dtype}")
        arr = arr.astype(np.float64)
    return arr


@dataclass
class _Run:
    """One call of the loss: its value and the gradients of the embeddings (and ref_emb)."""

    value: float
    grad: np.ndarray
    grad_ref: np.ndarray | None


class _LossChecker:
    def __init__(self, base: Any, opts: LossOptions) -> None:
        self.base = base
        self.opts = opts
        self.batch: LossBatch | None = None

    # -- calling the loss ------------------------------------------------------------------
    def fresh(self, dtype: Any) -> Any:
        """A deep copy of the built loss (same weights and state), cast to ``dtype``."""
        import torch

        loss = copy.deepcopy(self.base)
        if isinstance(loss, torch.nn.Module):
            loss = loss.to(dtype)
        return loss

    def evaluate(self, b: LossBatch, *, dtype: Any = None, loss: Any = None, tup: Any = "batch") -> _Run:
        import torch

        dtype = dtype or _torch_dtype(b.embeddings.dtype)
        loss = self.fresh(dtype) if loss is None else loss
        x = torch.tensor(b.embeddings, dtype=dtype, requires_grad=True)
        r = None if b.ref_emb is None else torch.tensor(b.ref_emb, dtype=dtype, requires_grad=True)
        y = None if b.labels is None else torch.as_tensor(b.labels, dtype=torch.int64)
        t = b.indices_tuple if isinstance(tup, str) else tup
        tt = None if t is None else tuple(torch.as_tensor(a, dtype=torch.int64) for a in t)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.opts.seed)
            v = self.opts.call(loss, x, y, tt, r)
        if not isinstance(v, torch.Tensor) or v.ndim != 0:
            got = f"a tensor of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else type(v).__name__
            self.fail("finite", f"the loss must return a 0-D tensor, got {got}")
        inputs = [x] if r is None else [x, r]
        if v.requires_grad:
            gs = torch.autograd.grad(v, inputs, allow_unused=True)
        else:
            gs = [None] * len(inputs)
        host = [np.zeros(i.shape) if g is None else g.detach().double().numpy() for g, i in zip(gs, inputs)]
        return _Run(float(v.detach().double()), host[0], host[1] if r is not None else None)

    def attempt(self, check: str, what: str, b: LossBatch, **kw: Any) -> _Run:
        """``evaluate`` for a derived batch: any exception there is a violation of ``check``."""
        try:
            return self.evaluate(b, **kw)
        except LossInvariantViolation:
            raise
        except Exception as exc:  # noqa: BLE001 - the original batch was accepted, so this is a bug
            self.fail(check, f"the loss raised {exception_line(exc)}{raised_where(exc)} on {what}, "
                             "but accepted the original batch", rule=check)
            raise  # unreachable: fail raises

    # -- driver ----------------------------------------------------------------------------
    def run(self, b: LossBatch) -> dict[str, str]:
        self.batch = b
        out: dict[str, str] = {}
        first = self.evaluate(b)  # ValueError/TypeError here: the loss rejects the batch
        for check in self.opts.checks:
            if check in self.opts.skip:
                out[check] = f"skip: {self.opts.skip[check]}"
                continue
            why_not = getattr(self, f"check_{check}")(first)
            out[check] = "pass" if why_not is None else f"skip: {why_not}"
        return out

    # -- the invariants --------------------------------------------------------------------
    def check_finite(self, first: _Run) -> str | None:
        if not np.isfinite(first.value):
            self.fail("finite", f"the loss is {first.value}", values=(first.value,))
        for g, what in ((first.grad, "embeddings"), (first.grad_ref, "ref_emb")):
            if g is not None and not np.all(np.isfinite(g)):
                rows = sorted({int(i) for i in np.argwhere(~np.isfinite(g))[:, 0]})
                self.fail("finite", f"the gradient of {what} is not finite in rows {rows} "
                                    f"(the loss is {first.value}):\n{_arr(g, 'grad')}", values=(first.value,))
        return None

    def check_permutation(self, first: _Run) -> str | None:
        b = self.batch
        if b.n < 2:
            return "fewer than 2 rows"
        rng = np.random.default_rng(self.opts.seed)
        perm = rng.permutation(b.n)
        if np.array_equal(perm, np.arange(b.n)):
            perm = perm[::-1].copy()
        inv = np.argsort(perm)
        pb = LossBatch(
            b.embeddings[perm], None if b.labels is None else b.labels[perm],
            None if b.indices_tuple is None else tuple(inv[t] for t in b.indices_tuple),
            None if b.ref_emb is None else b.ref_emb[perm],
        )
        what = f"the batch permuted by perm = {perm.tolist()} (row i of the permuted batch is row perm[i])"
        got = self.attempt("permutation", what, pb)
        extra = f"perm = {perm.tolist()}; permuted labels = {None if pb.labels is None else pb.labels.tolist()}"
        if pb.indices_tuple is not None:
            extra += f"; remapped indices_tuple = {_tuple_text(pb.indices_tuple)}"
        self.compare("permutation", "value on the batch", first.value, "value on the permuted batch", got.value,
                     note=extra)
        self.compare_grads("permutation", first.grad[perm], got.grad, "grad[perm] of the batch",
                           "grad of the permuted batch", note=extra)
        return None

    def check_relabel(self, first: _Run) -> str | None:
        b, o = self.batch, self.opts
        if b.labels is None or o.labels_kind == "none":
            return "the loss takes no labels"
        if b.n == 0:
            return "no labels in an empty batch"
        rng = np.random.default_rng(o.seed + 1)
        if o.labels_kind == "ids":
            classes = np.unique(b.labels)
            pool = np.setdiff1d(np.arange(-1000, 1001), classes)
            new_ids = rng.choice(pool, size=classes.size, replace=False)
            new_labels = new_ids[np.searchsorted(classes, b.labels)]
            loss = None
            mapping = dict(zip(classes.tolist(), new_ids.tolist()))
        else:
            cperm = rng.permutation(o.num_classes)
            if o.num_classes > 1 and np.array_equal(cperm, np.arange(o.num_classes)):
                cperm = np.roll(cperm, 1)
            loss, why = self.permuted_classes(cperm, _torch_dtype(b.embeddings.dtype))
            if loss is None:
                return why
            new_labels = cperm[b.labels]
            mapping = {c: int(cperm[c]) for c in range(o.num_classes)}
        rb = LossBatch(b.embeddings, new_labels.astype(np.int64), b.indices_tuple, b.ref_emb)
        note = f"renamed class ids {mapping}; renamed labels = {rb.labels.tolist()}"
        if o.labels_kind == "class_index":
            note += " (the class axis of the weights permuted the same way)"
        got = self.attempt("relabel", "the batch with renamed class ids", rb, loss=loss)
        self.compare("relabel", "value with the original ids", first.value, "value with renamed ids", got.value,
                     note=note)
        self.compare_grads("relabel", first.grad, got.grad, "grad with the original ids", "grad with renamed ids",
                           note=note)
        return None

    def permuted_classes(self, cperm: np.ndarray, dtype: Any) -> tuple[Any, str]:
        """A copy of the loss whose class weights are permuted by ``cperm`` (new class
        ``cperm[c]`` has old class ``c``'s rows), or (None, why not)."""
        import torch

        loss = self.fresh(dtype)
        if not isinstance(loss, torch.nn.Module):
            return None, "the loss is not a torch module, so its class weights cannot be permuted"
        c, d = self.opts.num_classes, self.batch.embeddings.shape[1]
        state = loss.state_dict()
        inv = np.argsort(cperm)
        changed = 0
        for key, t in state.items():
            if not isinstance(t, torch.Tensor) or t.ndim == 0:
                continue
            axes = [a for a, s in enumerate(t.shape) if s == c]
            if not axes:  # class-major blocks of sub-centres: an axis of k * num_classes
                multiples = [a for a, s in enumerate(t.shape) if s % c == 0 and s > c]
                axes = [a for a in multiples if t.shape[a] != d]
                if multiples and not axes:
                    return None, (f"the class axis of {key} (shape {tuple(t.shape)}) has the embedding size "
                                  f"{d}, so it cannot be told apart; use an embedding size that is not a "
                                  f"multiple of the {c} classes")
            if len(axes) > 1:
                return None, (f"cannot tell which axis of {key} (shape {tuple(t.shape)}) indexes the "
                              f"{c} classes; declare skip={{'relabel': ...}} or use an embedding size "
                              "other than the number of classes")
            if not axes:
                continue
            axis, size = axes[0], t.shape[axes[0]]
            k = size // c  # class-major blocks of k sub-centres (SoftTriple, SubCenterArcFace)
            idx = (inv[:, None] * k + np.arange(k)[None, :]).reshape(-1)
            state[key] = t.index_select(axis, torch.as_tensor(idx, dtype=torch.int64))
            changed += 1
        if not changed:
            return None, f"no parameter or buffer has an axis of the {c} classes to permute"
        loss.load_state_dict(state)
        return loss, ""

    def check_empty_tuple(self, first: _Run) -> str | None:
        b, o = self.batch, self.opts
        if not o.tuples:
            return "the loss takes no indices tuple"
        base = None
        for arity in (3, 4):
            empty = tuple(np.zeros(0, dtype=np.int64) for _ in range(arity))
            kind = "triplets" if arity == 3 else "pairs"
            got = self.attempt("empty_tuple", f"an empty indices tuple of {kind}", b, tup=empty)
            note = f"indices_tuple = {_tuple_text(empty)} ({kind})"
            if o.empty_tuple == "either" and abs(got.value) <= o.atol and (
                    not got.grad.size or float(np.max(np.abs(got.grad))) <= o.atol):
                continue  # 0 with a zero gradient: the "zero" reading holds
            if o.empty_tuple == "zero":
                tol = o.atol
                if not abs(got.value) <= tol:
                    self.fail("empty_tuple", f"with an empty tuple of {kind} the loss is {got.value}, not 0 "
                                             f"(tolerance {tol:g}); {note}. A loss that weighs samples by the tuple "
                                             "declares empty_tuple='no_tuple'",
                              values=(got.value, 0.0), tolerance=f"{tol:g}")
                worst = float(np.max(np.abs(got.grad))) if got.grad.size else 0.0
                if not worst <= tol:
                    self.fail("empty_tuple", f"with an empty tuple of {kind} the loss is {got.value} but its "
                                             f"gradient is not zero (largest |grad| = {worst}); {note}:\n"
                                             f"{_arr(got.grad, 'grad')}", values=(worst, 0.0), tolerance=f"{tol:g}")
            else:
                if base is None:
                    base = first if b.indices_tuple is None else self.attempt(
                        "empty_tuple", "the batch without an indices tuple", b, tup=None)
                self.compare("empty_tuple", "value without a tuple", base.value, f"value with an empty tuple of {kind}",
                             got.value, note=note)
        return None

    def check_tuples(self, first: _Run) -> str | None:
        b, o = self.batch, self.opts
        if not o.tuples:
            return "the loss takes no indices tuple"
        if b.labels is None:
            return "no labels to build pairs and triplets from"
        for kind, tup in (("pairs", all_pairs(b.labels)), ("triplets", all_triplets(b.labels))):
            note = f"indices_tuple = {_tuple_text(tup)} (all {kind} of the labels)"
            got = self.attempt("tuples", f"all {kind} of the batch as indices_tuple", b, tup=tup)
            if not np.isfinite(got.value):
                self.fail("tuples", f"with all {kind} as indices_tuple the loss is {got.value}; {note}",
                          values=(got.value,))
            if not np.all(np.isfinite(got.grad)):
                self.fail("tuples", f"with all {kind} as indices_tuple the gradient is not finite; {note}:\n"
                                    f"{_arr(got.grad, 'grad')}", values=(got.value,))
        return None

    def check_dtype(self, first: _Run) -> str | None:
        import torch

        b, o = self.batch, self.opts
        rows = b.embeddings if b.ref_emb is None else np.concatenate([b.embeddings, b.ref_emb])
        if rows.shape[0] > 1 and np.unique(rows, axis=0).shape[0] < rows.shape[0]:
            # Identical rows are at distance exactly 0 in float64 but about sqrt(eps32) = 5e-4
            # in float32 (Gram-matrix distances, angles): that moves them across a hinge at 0
            # and changes what a counting reducer counts, a jump no tolerance covers.
            return "duplicated rows, or a second view equal to a row (float32 distance about 5e-4, not 0)"
        r32 = self.attempt("dtype", "the batch in float32", b, dtype=torch.float32)
        r64 = first if b.embeddings.dtype == np.float64 else self.attempt(
            "dtype", "the batch in float64", b, dtype=torch.float64)
        a, c = r32.value, r64.value
        tol = o.dtype_atol + o.dtype_rtol * abs(c)
        if not np.isfinite(a) and not np.isfinite(c):
            return None  # the finite check reports it
        if not abs(a - c) <= tol:
            self.fail("dtype", f"float32 gives {a!r}, float64 gives {c!r}: |difference| = {abs(a - c):.3g} > "
                               f"tolerance {tol:.3g} (dtype_atol {o.dtype_atol:g} + dtype_rtol {o.dtype_rtol:g} "
                               "* |float64 value|); the float32 run uses a float32 copy of the same loss "
                               "(its weights cast)", values=(a, c), tolerance=f"{tol:.3g}")
        return None

    # -- comparing and reporting ------------------------------------------------------------
    def compare(self, check: str, what_a: str, a: float, what_b: str, b: float, *, note: str = "") -> None:
        o = self.opts
        tol = o.atol + o.rtol * max(abs(a), abs(b))
        same_nonfinite = not (np.isfinite(a) and np.isfinite(b)) and (a == b or (np.isnan(a) and np.isnan(b)))
        if same_nonfinite or abs(a - b) <= tol:
            return
        self.fail(check, f"{what_a} = {a!r}, {what_b} = {b!r}: |difference| = {abs(a - b):.3g} > tolerance "
                         f"{tol:.3g} (atol {o.atol:g} + rtol {o.rtol:g} * max |value|)"
                         + (f"\n{note}" if note else ""), values=(a, b), tolerance=f"{tol:.3g}")

    def compare_grads(self, check: str, ga: np.ndarray, gb: np.ndarray, what_a: str, what_b: str, *,
                      note: str = "") -> None:
        o = self.opts
        if ga.size == 0:
            return
        scale = max(float(np.nanmax(np.abs(ga))) if np.isfinite(ga).any() else 0.0,
                    float(np.nanmax(np.abs(gb))) if np.isfinite(gb).any() else 0.0)
        # Plus sqrt(eps) of the working dtype: the rounding of a distance or an angle at 0
        # (identical rows) is sqrt(eps), and gradients there are that noise, not a signal.
        floor = float(np.sqrt(np.finfo(self.batch.embeddings.dtype).eps))
        tol = max(o.atol, floor) + o.rtol * scale
        diff = np.abs(ga - gb)
        both_nan = np.isnan(ga) & np.isnan(gb)
        bad = ~(both_nan | (diff <= tol))
        if not bad.any():
            return
        row, col = (int(v) for v in np.argwhere(bad)[0])
        a, b = float(ga[row, col]), float(gb[row, col])
        self.fail(check, f"{what_a} and {what_b} differ: at [{row}, {col}] {a!r} vs {b!r} "
                         f"(tolerance {tol:.3g} = max(atol {o.atol:g}, sqrt(eps) {floor:.2g}) + rtol {o.rtol:g} * "
                         "largest |grad|)"
                         + (f"\n{note}" if note else "") + f"\n{_arr(ga, 'expected')}\n{_arr(gb, 'got')}",
                  values=(a, b), tolerance=f"{tol:.3g}")

    def fail(self, check: str, message: str, *, values: tuple[Any, ...] = (), tolerance: str = "",
             rule: str | None = None) -> None:
        b = self.batch
        text = format_violation(self.opts.name, check, message, b)
        raise LossInvariantViolation(
            text, rule=rule or check, embeddings=b.embeddings, labels=b.labels, indices_tuple=b.indices_tuple,
            values=values, tolerance=tolerance,
        )


# -- tuples of a batch -------------------------------------------------------------------------


def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every positive pair ``(a1, p)`` (``a1 != p``) and negative pair ``(a2, n)`` of ``labels``."""
    same = labels[:, None] == labels[None, :]
    a1, p = np.nonzero(same & ~np.eye(labels.size, dtype=bool))
    a2, n = np.nonzero(~same)
    return tuple(v.astype(np.int64) for v in (a1, p, a2, n))


def all_triplets(labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every triplet ``(a, p, n)`` of ``labels``: ``p`` a positive of ``a``, ``n`` a negative."""
    same = labels[:, None] == labels[None, :]
    pos = same & ~np.eye(labels.size, dtype=bool)
    a, p, n = np.nonzero(pos[:, :, None] & ~same[:, None, :])
    return tuple(v.astype(np.int64) for v in (a, p, n))


# -- text ---------------------------------------------------------------------------------------


def _torch_dtype(dt: np.dtype) -> Any:
    import torch

    return torch.float32 if dt == np.float32 else torch.float64




def _arr(x: Any, name: str | None = None) -> str:
    """An array as text NumPy reads back exactly (shortest round-trip float digits)."""
    prefix = f"{name} = " if name else ""
    body = np.array2string(np.asarray(x), separator=", ", prefix=prefix, max_line_width=100, threshold=10_000,
                           formatter={"float_kind": lambda v: str(v)})
    return prefix + body


def _tuple_text(tup: tuple[np.ndarray, ...] | None) -> str:
    if tup is None:
        return "None"
    names = ("a", "p", "n") if len(tup) == 3 else ("a1", "p", "a2", "n")
    return "(" + ", ".join(f"{k}={np.asarray(v).tolist()}" for k, v in zip(names, tup)) + ")"


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line for line in text.splitlines())


def format_violation(name: str, check: str, message: str, b: LossBatch) -> str:
    """The message of a :class:`LossInvariantViolation`: the rule, the batch, a reproduction."""
    dims = b.embeddings.shape
    lines = [
        f"{name}: check '{check}' ({LOSS_CHECKS[check]}) fails:",
        _indent(message, "  "),
        f"  batch: {dims[0]} embeddings of dimension {dims[1]} ({b.embeddings.dtype.name})",
        _indent(_arr(b.embeddings, "embeddings"), "    "),
        f"    labels = {None if b.labels is None else b.labels.tolist()}",
        f"    indices_tuple = {_tuple_text(b.indices_tuple)}",
    ]
    if b.ref_emb is not None:
        lines.append(_indent(_arr(b.ref_emb, "ref_emb"), "    "))
    args = "embeddings, labels"
    if b.indices_tuple is not None:
        args += ", indices_tuple=indices_tuple"
    if b.ref_emb is not None:
        args += ", ref_emb=ref_emb"
    lines.append(f"  reproduce: check_loss(loss, {args}, checks=[{check!r}])  (with the arrays above)")
    return "\n".join(lines)
