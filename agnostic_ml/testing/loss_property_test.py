"""One call that property-tests a metric loss: hypothesis batches, every invariant of :func:`check_loss`.

:func:`property_test_loss` builds the loss once (under ``torch.manual_seed(seed)``), draws
batches with :func:`loss_batches` (duplicated rows and all-identical batches, one class,
all-distinct labels, ``N = 0`` and ``1``, with and without an indices tuple), and runs the
checks of :data:`~agnostic_ml.testing.loss_checks.LOSS_CHECKS` on each, every run on a
deep copy of the same built loss (so learnable weights and state are identical; the float32
run casts that copy). A loss may reject a batch only with ``ValueError`` / ``TypeError``
(check ``errors``).

When a check fails, hypothesis shrinks the batch, and :class:`LossPropertyError` reports
the minimal one: the rule, the embeddings, labels and indices tuple, the two values
compared, the tolerance, and a line reproducing it with :func:`check_loss`.

This module imports ``hypothesis`` (the ``test`` extra) and ``torch``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ._hypothesis_run import run_for_failure

from .._text import exception_line, raised_where, table
from .loss_checks import (
    LOSS_CHECKS,
    LossBatch,
    LossInvariantViolation,
    _LossChecker,
    _validate,
    all_pairs,
    all_triplets,
    format_violation,
    loss_label,
    loss_maker,
)
from .strategies import _copies, _grid_rows
from .strategies import labels as label_arrays

__all__ = ["LOSS_PROPERTY_CHECKS", "LossPropertyError", "LossPropertyReport", "loss_batches", "property_test_loss"]

#: The checks of the property test: those of ``check_loss`` plus ``errors``.
LOSS_PROPERTY_CHECKS: dict[str, str] = {**LOSS_CHECKS, "errors": "rejects input only with ValueError/TypeError"}


# -- batches ------------------------------------------------------------------------------------


def loss_batches(
    dim: int = 4,
    *,
    min_n: int = 0,
    max_n: int = 10,
    max_classes: int = 4,
    labels_kind: str = "ids",
    num_classes: int | None = None,
    with_tuple: bool = True,
    with_ref_emb: bool = False,
    zero_rows: bool = False,
) -> st.SearchStrategy[LossBatch]:
    """Hypothesis batches for losses (:class:`~agnostic_ml.testing.loss_checks.LossBatch` of NumPy arrays).

    Embeddings come from a small grid (so distances tie), in three layouts: some rows copied
    onto others, no two rows alike, or every row identical; labels have one class, random, balanced or all-distinct
    layouts (see :func:`~agnostic_ml.testing.strategies.labels`).

    Parameters
    ----------
    dim : int
        Embedding size (fixed: learnable losses have one).
    min_n, max_n : int
        Range of the batch size.
    max_classes : int
        Most distinct labels in a batch.
    labels_kind : {"ids", "class_index", "none"}
        Arbitrary class ids; indices in ``range(num_classes)``; or no labels.
    num_classes : int, optional
        Required for ``"class_index"``.
    with_tuple : bool
        Sometimes add an indices tuple (a random subset of every pair or triplet).
    with_ref_emb : bool
        Add a second view ``ref_emb`` of the same shape (self-supervised losses).
    zero_rows : bool, default False
        Allow all-zero rows. Off by default: losses that L2-normalise divide by a clamp of
        about ``1e-12`` there, so the gradient of a zero row is rounding noise times ``1e12``
        and no comparison of gradients means anything (a zero row becomes ``[0.5, 0, ...]``).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(loss_batches(3, max_n=5))
    ... def test(b):
    ...     assert b.embeddings.shape[1] == 3 and b.embeddings.shape[0] <= 5
    >>> test()
    """
    for arg, v in (("dim", dim), ("max_n", max_n), ("max_classes", max_classes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{arg} must be a positive int, got {v!r}")
    if isinstance(min_n, bool) or not isinstance(min_n, int) or not 0 <= min_n <= max_n:
        raise ValueError(f"min_n must be an int in [0, max_n={max_n}], got {min_n!r}")
    if labels_kind not in ("ids", "class_index", "none"):
        raise ValueError(f"labels_kind must be 'ids', 'class_index' or 'none', got {labels_kind!r}")
    if labels_kind == "class_index" and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                         or num_classes < 1):
        raise ValueError(f"num_classes must be a positive int for labels_kind='class_index', got {num_classes!r}")
    return _loss_batches(dim, min_n, max_n, max_classes, labels_kind, num_classes, with_tuple, with_ref_emb,
                         zero_rows)


@st.composite
def _loss_batches(draw: Any, dim: int, min_n: int, max_n: int, max_classes: int, labels_kind: str,
                  num_classes: int | None, with_tuple: bool, with_ref_emb: bool, zero_rows: bool) -> LossBatch:
    n = draw(st.integers(min_n, max_n))
    emb = _no_zero_rows(draw(_grid_rows(n, dim)), zero_rows)
    layout = draw(st.sampled_from(["copies", "distinct", "identical"]))
    if layout == "identical" and n > 1:
        emb[:] = emb[0]  # every row identical
    elif layout == "distinct":
        emb[:, 0] += 0.25 * np.arange(1, n + 1)  # no two rows alike (ties of distances remain)
    else:
        for src, dst in _copies(draw, n, n):
            emb[dst] = emb[src]
    lab = None
    if labels_kind != "none":
        k = max_classes if num_classes is None else min(max_classes, num_classes)
        lab = draw(label_arrays(n, max_classes=k))
        if labels_kind == "class_index":
            _, inv = np.unique(lab, return_inverse=True)
            order = np.asarray(draw(st.permutations(range(num_classes))), dtype=np.int64)
            lab = order[inv.reshape(-1)] if n else np.zeros(0, dtype=np.int64)
    tup = None
    if with_tuple and lab is not None and n:
        kind = draw(st.sampled_from(["none", "pairs", "triplets"]))
        if kind != "none":
            full = all_pairs(lab) if kind == "pairs" else all_triplets(lab)
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            if len(full) == 4:
                keep_p = rng.random(full[0].size) < 0.5
                keep_n = rng.random(full[2].size) < 0.5
                tup = (full[0][keep_p], full[1][keep_p], full[2][keep_n], full[3][keep_n])
            else:
                keep = rng.random(full[0].size) < 0.5
                tup = tuple(t[keep] for t in full)
    ref = None
    if with_ref_emb:
        ref = emb.copy() if draw(st.booleans()) else _no_zero_rows(draw(_grid_rows(n, dim)), zero_rows)
    return LossBatch(emb, lab, tup, ref)


def _no_zero_rows(x: np.ndarray, allowed: bool) -> np.ndarray:
    if allowed or x.size == 0:
        return x
    zero = ~np.any(x != 0, axis=1)
    x[zero, 0] = 0.5
    return x


# -- report -------------------------------------------------------------------------------------


@dataclass
class LossPropertyReport:
    """What :func:`property_test_loss` ran and what passed.

    Attributes
    ----------
    loss : str
        The loss's name.
    checks : tuple of str
        The checks asked for (keys of :data:`LOSS_PROPERTY_CHECKS`).
    declared : dict
        ``{check: reason}`` declared as not applying.
    examples : int
        Batches drawn by hypothesis.
    passed : dict
        Check -> batches it passed on.
    skipped : dict
        Check -> reasons it did not apply to some batches (e.g. ``"fewer than 2 rows"``).
    rejected : int
        Batches the loss rejected with ``ValueError`` / ``TypeError`` (allowed).
    coverage : dict
        How many batches had duplicated rows, one class, all-distinct labels, ``N <= 1``
        and an indices tuple.
    failure : LossPropertyError or None
        Set when a check failed.
    """

    loss: str
    checks: tuple[str, ...]
    declared: dict[str, str]
    dtype: str
    examples: int = 0
    passed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, set] = field(default_factory=dict)
    rejected: int = 0
    first_rejection: str = ""
    coverage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("duplicate rows", "one class", "all labels distinct", "N <= 1", "with an indices tuple"), 0))
    failure: LossPropertyError | None = None

    def rows(self) -> list[list[str]]:
        """``[check description, pass/FAIL/skip, detail]`` per check."""
        out = []
        for key in self.checks:
            text = LOSS_PROPERTY_CHECKS[key]
            if key in self.declared:
                out.append([text, "skip", f"declared: {self.declared[key]}"])
            elif self.failure is not None and self.failure.check == key:
                out.append([text, "FAIL", self.failure.detail])
            elif self.failure is not None:
                out.append([text, "-", "not decided: the run stopped at the first failure"])
            elif self.passed.get(key, 0) == 0:
                why = "; ".join(sorted(self.skipped.get(key, ()))) or "no batch was accepted"
                out.append([text, "skip", why])
            else:
                out.append([text, "pass", f"{self.passed[key]} batches"])
        return out

    def summary(self) -> str:
        """A readable table of the checks and what was run."""
        ran = ("stopped at the first failure (then hypothesis shrank the batch)" if self.failure is not None
               else f"{self.examples} hypothesis batches")
        lines = [f"{self.loss}: {ran} in {self.dtype}", table(["check", "result", "detail"], self.rows(), align="lll")]
        if self.failure is None:
            lines.append("batches: " + ", ".join(f"{v} {k}" for k, v in self.coverage.items()))
            if self.rejected:
                lines.append(f"{self.rejected} batch(es) were rejected with ValueError/TypeError (allowed), "
                             f"e.g. {self.first_rejection}")
        return "\n".join(lines)


class LossPropertyError(AssertionError):
    """A property of the loss fails; the message shows the minimal failing batch.

    Attributes
    ----------
    check : str
        The failing check (a key of :data:`LOSS_PROPERTY_CHECKS`).
    rule : str
        What broke, in a few words.
    detail : str
        The first line of the failure, as the report's table shows it.
    batch : LossBatch or None
        The minimal failing batch (None when the loss rejected every batch).
    violation : LossInvariantViolation or None
        The single-batch violation behind it.
    report : LossPropertyReport
        The run so far.
    """

    __module__ = "agnostic_ml.testing"

    def __init__(self, message: str, *, check: str, rule: str, batch: LossBatch | None,
                 violation: LossInvariantViolation | None, report: LossPropertyReport) -> None:
        super().__init__(message)
        self.check = check
        self.rule = rule
        # The first line of what broke, for the report's table.
        lines = [ln.strip() for ln in message.splitlines()[2:3]] if batch is not None else []
        first = lines[0] if lines else rule
        self.detail = first if len(first) <= 70 else first[:67] + "..."
        self.batch = batch
        self.violation = violation
        self.report = report


# -- the property test ---------------------------------------------------------------------------


def property_test_loss(
    loss: Any,
    *,
    max_examples: int = 50,
    seed: int | None = 0,
    dim: int | None = None,
    min_n: int = 0,
    max_n: int = 10,
    max_classes: int = 4,
    labels_kind: str | None = None,
    num_classes: int | None = None,
    empty_tuple: str = "zero",
    tuples: bool = True,
    self_supervised: bool = False,
    skip: Mapping[str, str] | None = None,
    checks: Sequence[str] | None = None,
    call: Callable[..., Any] | None = None,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
    dtype_rtol: float = 1e-3,
    dtype_atol: float = 1e-3,
    batches: st.SearchStrategy[LossBatch] | None = None,
    name: str | None = None,
) -> LossPropertyReport:
    """Property-test a metric loss on hypothesis batches; raise on the first failure.

    One line in a pytest test: ``property_test_loss(lambda: MyLoss(margin=0.2))``.

    Parameters
    ----------
    loss
        A loss class, a zero-argument factory or a built loss. It is built **once**, under
        ``torch.manual_seed(0)``, and every run uses a deep copy of it (the float32 run a
        float32 copy), so learnable weights are the same everywhere.
    max_examples : int, default 50
        Batches hypothesis draws.
    seed : int or None, default 0
        Hypothesis's seed (None: new batches every run); also the seed of
        :func:`~agnostic_ml.testing.check_loss` (permutation, renaming, ``torch.manual_seed``).
    dim : int, optional
        Embedding size; default ``loss.embedding_size`` (or ``loss.l``), else 4.
    min_n, max_n, max_classes
        Batch sizes and the most distinct labels drawn.
    labels_kind, num_classes, empty_tuple, tuples, skip, checks, call, rtol, atol, dtype_rtol, dtype_atol
        As for :func:`~agnostic_ml.testing.check_loss`.
    self_supervised : bool, default False
        The loss takes ``(embeddings, ref_emb=...)`` and no labels (``labels_kind="none"``,
        no tuples): a second view is drawn with each batch.
    dtype : {"float64", "float32"}
        The dtype the batches are checked in (the ``dtype`` check compares float32 and
        float64 either way).
    batches : hypothesis strategy of LossBatch, optional
        Replaces :func:`loss_batches`.
    name : str, optional
        How reports name the loss (default: its class name).

    Returns
    -------
    LossPropertyReport
        What ran and what passed (``print(report.summary())``).

    Raises
    ------
    LossPropertyError
        (an ``AssertionError``) with the minimal failing batch when a check fails, or when
        the loss rejected every batch.

    Examples
    --------
    >>> from agnostic_ml_torch.losses import TripletMarginLoss
    >>> report = property_test_loss(lambda: TripletMarginLoss(margin=0.1), max_examples=5)
    >>> report.passed["permutation"] > 0
    True
    """
    import torch

    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if not isinstance(self_supervised, bool):
        raise TypeError(f"self_supervised must be a bool, got {type(self_supervised).__name__}")
    make = loss_maker(loss)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        base = make()
    if self_supervised:
        labels_kind, tuples = "none", False
    f32 = dtype == "float32"
    opts = _validate(
        checks=checks, skip=skip, labels_kind=labels_kind, num_classes=num_classes, empty_tuple=empty_tuple,
        call=call, rtol=(1e-4 if f32 else 1e-6) if rtol is None else rtol,
        atol=(1e-6 if f32 else 1e-9) if atol is None else atol, dtype_rtol=dtype_rtol, dtype_atol=dtype_atol,
        seed=0 if seed is None else seed, name=name or loss_label(base), probe=base, tuples=tuples,
    )
    if dim is None:
        dim = next((v for v in (getattr(base, a, None) for a in ("embedding_size", "l"))
                    if isinstance(v, int) and not isinstance(v, bool) and v > 0), 4)
    strategy = batches if batches is not None else loss_batches(
        dim, min_n=min_n, max_n=max_n, max_classes=max_classes, labels_kind=opts.labels_kind,
        num_classes=opts.num_classes, with_tuple=opts.tuples, with_ref_emb=self_supervised,
    )
    report = LossPropertyReport(loss=opts.name, checks=(*opts.checks, "errors"), declared=dict(opts.skip),
                                dtype=dtype)
    runner = _Runner(base, opts, report, np.float32 if f32 else np.float64)

    settings_kw: dict[str, Any] = dict(
        max_examples=max_examples, deadline=None, database=None, report_multiple_bugs=False, print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.large_base_example],
    )

    @settings(**settings_kw)
    @given(batch=strategy)
    def run_one(batch: LossBatch) -> None:
        runner.run(batch)

    if seed is not None:
        run_one = hypothesis_seed(seed)(run_one)
    exc = run_for_failure(run_one, LossPropertyError)
    if exc is not None:
        report.failure = exc
        if hasattr(exc, "__notes__"):  # hypothesis's repr of the batch: the message shows it readably
            del exc.__notes__
        raise exc.with_traceback(None) from None
    if report.examples and report.rejected == report.examples:
        exc = LossPropertyError(
            f"{report.loss} rejected every one of the {report.examples} batches with ValueError/TypeError, so "
            f"nothing was checked; first rejection: {report.first_rejection}",
            check="errors", rule="every batch rejected", batch=None, violation=None, report=report,
        )
        report.failure = exc
        raise exc
    return report


class _Runner:
    """Runs the checks on one hypothesis batch and raises LossPropertyError on a failure."""

    def __init__(self, base: Any, opts: Any, report: LossPropertyReport, dtype: Any) -> None:
        self.base = base
        self.opts = opts
        self.report = report
        self.dtype = dtype

    def run(self, batch: LossBatch) -> None:
        b = LossBatch(np.asarray(batch.embeddings, dtype=self.dtype), batch.labels, batch.indices_tuple,
                      None if batch.ref_emb is None else np.asarray(batch.ref_emb, dtype=self.dtype))
        self._cover(b)
        self.report.examples += 1
        checker = _LossChecker(copy.deepcopy(self.base), self.opts)
        try:
            results = checker.run(b)
        except LossInvariantViolation as v:
            self._fail(v.rule if v.rule in LOSS_PROPERTY_CHECKS else "errors", v, b)
        except (ValueError, TypeError) as exc:
            self.report.rejected += 1
            if not self.report.first_rejection:
                self.report.first_rejection = exception_line(exc)
            self._passed("errors")
            return
        except Exception as exc:  # noqa: BLE001 - anything else is a bug of the loss
            text = format_violation(self.opts.name, "finite", f"the loss raised {exception_line(exc)}{raised_where(exc)}; "
                                    "a loss may reject a batch only with ValueError or TypeError", b)
            text = text.replace("check 'finite' (finite value and gradient)",
                                f"check 'errors' ({LOSS_PROPERTY_CHECKS['errors']})", 1)
            self._raise("errors", "crash", text, b, None)
        self._passed("errors")
        for key, res in results.items():
            if res == "pass":
                self._passed(key)
            elif key not in self.opts.skip:
                self.report.skipped.setdefault(key, set()).add(res.removeprefix("skip: "))

    def _passed(self, key: str) -> None:
        self.report.passed[key] = self.report.passed.get(key, 0) + 1

    def _cover(self, b: LossBatch) -> None:
        cov = self.report.coverage
        n = b.n
        cov["duplicate rows"] += n > 1 and np.unique(b.embeddings, axis=0).shape[0] < n
        if b.labels is not None:
            k = np.unique(b.labels).size
            cov["one class"] += n > 1 and k == 1
            cov["all labels distinct"] += n > 1 and k == n
        cov["N <= 1"] += n <= 1
        cov["with an indices tuple"] += b.indices_tuple is not None

    def _fail(self, check: str, v: LossInvariantViolation, b: LossBatch) -> None:
        self._raise(check, v.rule, str(v), b, v)

    def _raise(self, check: str, rule: str, text: str, b: LossBatch, v: LossInvariantViolation | None) -> None:
        head = "minimal failing batch found by hypothesis:"
        raise LossPropertyError(f"{head}\n{text}", check=check, rule=rule, batch=b, violation=v, report=self.report)
