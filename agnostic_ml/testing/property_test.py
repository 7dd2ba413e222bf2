"""One call that property-tests a miner: hypothesis batches, every backend, every invariant.

:func:`property_test_miner` draws batches with :func:`~agnostic_ml.testing.strategies.miner_batches`
(exact distance ties, duplicated rows, one class, all-distinct labels, ``N = 0`` and ``1``,
a separate reference set of another size), runs the miner on each of them on every
installed backend, and checks

=================  ===========================================================================
check              meaning
=================  ===========================================================================
``contract``       the output follows the miner contract (:func:`~agnostic_ml.testing.check_miner_output`),
                   without a reference set (``contract``) and with one (``contract_ref``)
``selection_rule`` the miner's own rule holds for every returned tuple (when ``selection_rule`` is given)
``deterministic``  two fresh miners with the same ``rng`` seed return identical tuples
``backends``       every backend returns the same tuples as the first one (as multisets), unless the
                   two backends' distance matrices differ by rounding (then a tie may break
                   differently; counted in ``rounding_differences``, not a failure)
``errors``         the miner rejects a batch only with ``ValueError`` / ``TypeError``
=================  ===========================================================================

When a check fails, hypothesis shrinks the batch to a minimal failing one, and
:class:`MinerPropertyError` reports it readably: the broken rule, the backend, the
batch (embeddings and labels), the offending tuples with their labels and the distance
values involved, the miner's output and a snippet that reproduces the failure with
:func:`~agnostic_ml.testing.check_miner`.

This module imports ``hypothesis`` (the ``test`` extra).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ._hypothesis_run import run_for_failure

from .._text import exception_line, raised_where, table
from ._calls import Mined, call_miner, miner_maker, miner_name
from .backends import KIT_DEFAULT_BACKEND_NAMES, Backend, backend_status, load_backend, parse_backend_names
from .batch import MinerBatch
from .invariants import (
    InvariantViolation,
    _check_condition,
    check_mined,
    compare_backends,
    compare_runs,
    distance_matrix,
    mine_seeded,
)
from .strategies import miner_batches

__all__ = ["CHECKS", "MinerPropertyError", "MinerPropertyReport", "property_test_miner"]

#: The checks, in report order: key -> what it means.
CHECKS: dict[str, str] = {
    "contract": "valid tuples, no reference set",
    "contract_ref": "valid tuples, with a reference set",
    "selection_rule": "the miner's selection rule holds for every tuple",
    "deterministic": "same seed -> same tuples",
    "backends": "same tuples on every backend",
    "errors": "rejects input only with ValueError/TypeError",
}

_MATRIX_SHOWN = 12  # print the whole distance matrix up to this many rows and columns


@dataclass
class MinerPropertyReport:
    """What :func:`property_test_miner` ran and what passed.

    Attributes
    ----------
    miner : str
        The miner's name.
    backends : list of str
        Backends the miner ran on; ``unavailable`` maps the others to the reason.
    examples : int
        Batches drawn by hypothesis (each run on every backend).
    passed : dict
        Check key (see :data:`CHECKS`) -> number of times it passed (batch x backend).
        A check absent from ``passed`` did not apply (no selection rule, one backend).
    rejected : int
        Batches the miner rejected with ``ValueError`` / ``TypeError`` (allowed).
    rounding_differences : int
        Backend comparisons whose tuples differed where the two backends' distance
        matrices differ by rounding only (a tie on one library that the other breaks in
        the last bit): not failures. Tuples that differ on *identical* matrices, or on
        matrices that differ beyond rounding, fail the ``backends`` check.
    coverage : dict
        How many batches had a reference set, one class, all-distinct labels, ``N <= 1``.
    random, allow_duplicates : bool
        Whether the miner was treated as random (its ``rng`` reset to ``rng_seed`` before
        each call) and whether a tuple could repeat.
    failure : MinerPropertyError or None
        Set on the report a failing run carries.
    """

    miner: str
    backends: list[str]
    unavailable: dict[str, str]
    random: bool
    allow_duplicates: bool
    checks: tuple[str, ...]
    examples: int = 0
    passed: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    rounding_differences: int = 0
    coverage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("with a reference set", "one class", "all labels distinct", "N <= 1"), 0))
    failure: MinerPropertyError | None = None

    def rows(self) -> list[list[str]]:
        """``[check description, pass/FAIL/skip, detail]`` per check."""
        out = []
        for key in self.checks:
            text = CHECKS[key]
            if self.failure is not None and self.failure.check == key:
                out.append([text, "FAIL", f"on {self.failure.backend}: {self.failure.rule}"])
            elif self.failure is not None:
                out.append([text, "-", "not decided: the run stopped at the first failure"])
            elif key == "backends" and len(self.backends) < 2:
                out.append([text, "skip", "one backend only"])
            elif self.passed.get(key, 0) == 0:
                why = "no batch with a reference set was accepted" if key == "contract_ref" else "nothing was accepted"
                out.append([text, "skip", why])
            else:
                detail = f"{self.passed[key]} checked"
                if key == "backends" and self.rounding_differences:
                    detail += (f" ({self.rounding_differences} more differed where the backends' distances "
                               "differ by rounding: not counted)")
                out.append([text, "pass", detail])
        return out

    def summary(self) -> str:
        """A readable table of the checks and what was run."""
        ran = (f"stopped at the first failure (then hypothesis shrank the batch)" if self.failure is not None
               else f"{self.examples} hypothesis batches")
        head = (
            f"{self.miner}: {ran} on {', '.join(self.backends)}; "
            f"duplicates {'allowed' if self.allow_duplicates else 'not allowed'}"
            + ("; random miner (rng reset to the seed before each call)" if self.random else "")
        )
        lines = [head, table(["check", "result", "detail"], self.rows(), align="lll")]
        if self.failure is None:
            cov = ", ".join(f"{v} {k}" for k, v in self.coverage.items())
            lines.append(f"batches: {cov}")
        if self.rejected and self.failure is None:
            lines.append(f"{self.rejected} batch(es) were rejected with ValueError/TypeError (allowed).")
        for name, reason in self.unavailable.items():
            lines.append(f"backend {name} not run: {reason}")
        return "\n".join(lines)


class MinerPropertyError(AssertionError):
    """A property of the miner fails; the message shows the minimal failing batch.

    Attributes
    ----------
    check : str
        The failing check (a key of :data:`CHECKS`).
    rule : str
        The broken rule (``InvariantViolation.rule``, or ``"crash"``).
    backend : str
        The backend it failed on.
    batch : MinerBatch or None
        The minimal failing batch, as NumPy arrays (None when no single batch fails,
        e.g. when the miner rejected every batch).
    report : MinerPropertyReport
        The run so far.
    """

    __module__ = "agnostic_ml.testing"

    def __init__(self, message: str, *, check: str, rule: str, backend: str, batch: MinerBatch | None,
                 report: MinerPropertyReport) -> None:
        super().__init__(message)
        self.check = check
        self.rule = rule
        self.backend = backend
        self.batch = batch
        self.report = report


def property_test_miner(
    miner: Any,
    *,
    backends: str | Sequence[str] | None = None,
    selection_rule: Callable[[np.ndarray, tuple[np.ndarray, ...]], Any] | None = None,
    random: bool | None = None,
    allow_duplicates: bool | None = None,
    expected_kind: str | int | None = None,
    same_on_every_backend: bool = True,
    max_examples: int = 100,
    seed: int | None = 0,
    rng_seed: int = 0,
    calls: int = 1,
    batches: st.SearchStrategy[MinerBatch] | None = None,
    max_n: int = 16,
    dtypes: Sequence[str] = ("float64", "float32"),
    with_ref: bool | None = None,
    unit_norm: bool = False,
    name: str | None = None,
) -> MinerPropertyReport:
    """Property-test a miner on hypothesis batches, on every installed backend; raise on the first failure.

    One line in a pytest test: ``property_test_miner(MyMiner)``.

    Parameters
    ----------
    miner
        A miner class, a zero-argument factory (``lambda: MyMiner(margin=0.2)``), or a
        miner instance (deep-copied for every call). A fresh miner is built for every
        call, so miners with state (memory banks) start empty each time.
    backends : str or sequence of str, optional
        Names from :data:`~agnostic_ml.testing.backends.BACKEND_NAMES` (a list or a
        comma-separated string); a named backend that cannot run here raises
        :class:`~agnostic_ml.testing.backends.BackendUnavailable`. Default: every backend
        of :data:`~agnostic_ml.testing.backends.KIT_DEFAULT_BACKEND_NAMES` available here
        (numpy always; torch, array-api-strict, torch on CUDA and CuPy when present).
        ``"array_api_strict_strictest"`` (no data-dependent shapes, no boolean indexing)
        runs only when named.
    selection_rule : callable, optional
        ``selection_rule(mat, output) -> bools``, the miner's own rule for the tuples it
        returns (``mat = miner.distance(embeddings, ref_emb)`` as NumPy; see
        :func:`~agnostic_ml.testing.check_miner`'s ``condition``).
    random : bool, optional
        Whether the miner draws at random. Default: it does if it has an ``rng``
        attribute. A random miner's ``rng`` is reset to ``numpy.random.default_rng(rng_seed)``
        before every call, so the same seed must give the same tuples (twice, and on
        every backend).
    allow_duplicates : bool, optional
        Whether a tuple may appear twice; default: ``random``.
    expected_kind : {"triplets", "pairs"}, optional
        Require triplets or pairs.
    same_on_every_backend : bool, default True
        Check that every backend returns the same tuples as the first (as multisets).
        Where the two backends' distance matrices (``miner.distance``) differ by rounding,
        a difference is forgiven (a tie that one library breaks in the last bit) and
        counted in ``report.rounding_differences``; on identical matrices, or on matrices
        that differ beyond rounding, it fails. Turn it off for a miner that computes its
        distances in its own way.
    max_examples : int, default 100
        Batches hypothesis draws (each is run on every backend).
    seed : int or None, default 0
        Hypothesis's seed: the same seed draws the same batches. None draws new ones
        every run (and follows the active hypothesis profile).
    rng_seed : int, default 0
        The seed given to a random miner's ``rng``.
    calls : int, default 1
        Calls of each fresh miner on the batch, in a row; every output is checked, and
        the last one is compared between runs and backends. Use 2 or more for miners
        with memory (banks), whose later calls mine against what earlier calls stored.
    batches : hypothesis strategy, optional
        Batches to draw (:class:`~agnostic_ml.testing.MinerBatch` on any backend; they are
        copied to each backend). Default: ``miner_batches(max_n=max_n, dtype=d,
        with_ref=with_ref, unit_norm=unit_norm)`` for ``d`` in ``dtypes``.
    max_n, dtypes, with_ref, unit_norm
        Options of the default strategy (see :func:`~agnostic_ml.testing.strategies.miner_batches`).
    name : str, optional
        How reports name the miner (and build it in the reproduction snippet). Default:
        the miner's ``repr`` when it reads like a constructor call, else its class name.

    Returns
    -------
    MinerPropertyReport
        What ran and what passed (``print(report.summary())``).

    Raises
    ------
    MinerPropertyError
        (an ``AssertionError``) when a check fails, with the minimal failing batch, or
        when the miner rejected every batch (nothing was checked).

    Examples
    --------
    >>> from agnostic_ml.miners import BatchHardMiner
    >>> report = property_test_miner(BatchHardMiner, backends=["numpy"], max_examples=10)
    >>> report.passed["contract"] > 0, report.backends
    (True, ['numpy'])
    """
    for arg, value in (("max_examples", max_examples), ("calls", calls)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")
    if selection_rule is not None and not callable(selection_rule):
        raise TypeError(f"selection_rule must be callable, got {type(selection_rule).__name__}")
    if expected_kind not in (None, "triplets", "pairs", 3, 4):
        raise ValueError(f"expected_kind must be 'triplets', 'pairs', 3, 4 or None, got {expected_kind!r}")
    make = miner_maker(miner)
    probe = make()
    is_random = hasattr(probe, "rng") if random is None else bool(random)
    dup = is_random if allow_duplicates is None else bool(allow_duplicates)
    chosen, unavailable = _choose_backends(backends)
    checks = ["contract", "contract_ref"]
    if selection_rule is not None:
        checks.append("selection_rule")
    checks.append("deterministic")
    if same_on_every_backend:
        checks.append("backends")
    checks.append("errors")
    report = MinerPropertyReport(
        miner=name or _label(probe), backends=[b.name for b in chosen], unavailable=unavailable,
        random=is_random, allow_duplicates=dup, checks=tuple(checks),
    )
    runner = _Runner(make, chosen, report, selection_rule=selection_rule, rng_seed=rng_seed, calls=calls,
                     expected_kind=expected_kind, same_on_every_backend=same_on_every_backend)
    strategy = batches if batches is not None else _default_batches(max_n, dtypes, with_ref, unit_norm)

    opts: dict[str, Any] = dict(
        max_examples=max_examples, deadline=None, database=None, report_multiple_bugs=False, print_blob=False,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.large_base_example],
    )
    if seed is not None:
        opts["derandomize"] = False

    @settings(**opts)
    @given(batch=strategy)
    def run_one(batch: MinerBatch) -> None:
        runner.run(batch)

    if seed is not None:
        run_one = hypothesis_seed(seed)(run_one)
    exc = run_for_failure(run_one, MinerPropertyError)
    if exc is not None:
        report.failure = exc
        if hasattr(exc, "__notes__"):  # hypothesis's repr of the batch: the message shows it readably
            del exc.__notes__
        raise exc.with_traceback(None) from None
    if report.passed.get("contract", 0) + report.passed.get("contract_ref", 0) == 0:
        exc = MinerPropertyError(
            f"{report.miner} rejected every one of the {report.examples} batches with ValueError/TypeError, "
            f"so nothing was checked; first rejection: {runner.first_rejection}",
            check="contract", rule="every batch rejected", backend=report.backends[0], batch=None, report=report,
        )
        report.failure = exc
        raise exc
    return report


def _label(probe: Any) -> str:
    """The built miner's repr when it reads like a constructor call, else its class (or function) name."""
    text = repr(probe)
    if text.startswith(f"{type(probe).__name__}(") and len(text) <= 100:
        return text
    if inspect.isfunction(probe) or inspect.ismethod(probe):
        return miner_name(probe)
    return type(probe).__name__


def _choose_backends(names: str | Sequence[str] | None) -> tuple[list[Backend], dict[str, str]]:
    if names is None:
        status = backend_status(KIT_DEFAULT_BACKEND_NAMES)
        chosen = [b for b in status.values() if isinstance(b, Backend)]
        unavailable = {n: s.reason for n, s in status.items() if not isinstance(s, Backend)}
        return chosen, unavailable
    return [load_backend(n) for n in parse_backend_names(names)], {}


def _default_batches(max_n: int, dtypes: Sequence[str], with_ref: bool | None, unit_norm: bool) -> st.SearchStrategy[MinerBatch]:
    if isinstance(dtypes, str) or not dtypes:
        raise ValueError(f"dtypes must be a non-empty sequence of float dtype names, got {dtypes!r}")
    return st.sampled_from(list(dtypes)).flatmap(
        lambda dt: miner_batches(dtype=dt, max_n=max_n, with_ref=with_ref, unit_norm=unit_norm)
    )


@dataclass
class _Attempt:
    """One backend's run of one batch."""

    backend: Backend
    batch: MinerBatch
    mined: Mined | None = None
    host: tuple[np.ndarray, ...] | None = None
    rejected: BaseException | None = None
    miner: Any = None
    earlier: list[Mined] = field(default_factory=list)  # outputs of the calls before the last (calls > 1)


class _Runner:
    """Runs one hypothesis batch on every backend and raises MinerPropertyError on a failure."""

    def __init__(self, make: Callable[[], Any], backends: list[Backend], report: MinerPropertyReport, *,
                 selection_rule: Any, rng_seed: int, calls: int, expected_kind: Any,
                 same_on_every_backend: bool) -> None:
        self.calls = calls
        self.make = make
        self.backends = backends
        self.report = report
        self.rule = selection_rule
        self.rng_seed = rng_seed
        self.expected_kind = expected_kind
        self.same = same_on_every_backend
        self.first_rejection = ""

    # -- one batch --------------------------------------------------------------------
    def run(self, batch: MinerBatch) -> None:
        host_batch = batch.to_numpy()
        self._cover(host_batch)
        attempts: list[_Attempt] = []
        for i, backend in enumerate(self.backends):
            attempts.append(self._run_backend(backend, host_batch, first=i == 0))
        accepted = [a for a in attempts if a.rejected is None]
        if len(accepted) < len(attempts):
            self.report.rejected += 1
        if self.same and accepted and len(accepted) < len(attempts):
            ok, bad = accepted[0], next(a for a in attempts if a.rejected is not None)
            self._fail("backends", "backends", bad, host_batch,
                       f"{bad.backend.name} rejected the batch ({exception_line(bad.rejected)}) but "
                       f"{ok.backend.name} accepted it", attempts=attempts)
        if self.same and len(accepted) > 1:
            ref = accepted[0]
            for other in accepted[1:]:
                try:
                    compare_backends(ref.backend.name, ref.host, other.backend.name, other.host)
                except InvariantViolation as v:
                    why = _rounding_explains(ref, other)
                    if why is None:
                        self.report.rounding_differences += 1
                        continue
                    self._fail("backends", v.rule, other, host_batch, f"{v}\n{why}", violation=v,
                               attempts=[ref, other])
                self._passed("backends")
        self.report.examples += 1

    def _run_backend(self, backend: Backend, host_batch: MinerBatch, *, first: bool) -> _Attempt:
        with backend.context():
            nb = host_batch.to(backend.xp, backend.device)
            att = _Attempt(backend, nb)
            try:
                *att.earlier, att.mined = self._mine(nb)
                att.miner = att.mined.miner
            except (ValueError, TypeError) as exc:
                att.rejected = exc
                if not self.first_rejection:
                    self.first_rejection = f"{exception_line(exc)} (on {backend.name})"
                self._passed("errors")
                return att
            except Exception as exc:  # noqa: BLE001 - any other exception is a violation
                self._fail("errors", "crash", att, host_batch,
                           f"the miner raised {exception_line(exc)}{raised_where(exc)}; a miner may reject a batch only with "
                           "ValueError or TypeError")
            self._passed("errors")
            key = "contract_ref" if nb.has_ref else "contract"
            for i, mined in enumerate([*att.earlier, att.mined]):
                try:
                    host = check_mined(mined, allow_duplicates=self.report.allow_duplicates,
                                       expected_kind=self.expected_kind)
                except InvariantViolation as v:
                    if mined is not att.mined:  # report the call that failed
                        att.mined = mined
                    nth = f"call {i + 1} of {self.calls} on the same fresh miner: " if self.calls > 1 else ""
                    self._fail(key, v.rule, att, host_batch, nth + str(v), violation=v)
            att.host = host
            self._passed(key)
            if self.rule is not None:
                try:
                    _check_condition(self.rule, distance_matrix(att.miner, att.mined.checked), att.host)
                except InvariantViolation as v:
                    self._fail("selection_rule", v.rule, att, host_batch, str(v), violation=v)
                self._passed("selection_rule")
            if first:
                try:
                    second = check_mined(self._mine(nb)[-1], allow_duplicates=True)
                    compare_runs(att.host, second, self.rng_seed)
                except InvariantViolation as v:
                    self._fail("deterministic", v.rule, att, host_batch, str(v), violation=v)
                except Exception as exc:  # noqa: BLE001 - the second run failed where the first did not
                    self._fail("deterministic", "deterministic", att, host_batch,
                               f"a second run with the same seed raised {exception_line(exc)}; the first run succeeded")
                self._passed("deterministic")
        return att

    def _mine(self, batch: MinerBatch) -> list[Mined]:
        """A fresh miner (rng reset to the seed) called ``calls`` times on ``batch``."""
        first = mine_seeded(self.make, batch, self.rng_seed)
        out = [first]
        for _ in range(self.calls - 1):
            out.append(call_miner(first.miner, batch))
        return out

    # -- bookkeeping --------------------------------------------------------------------
    def _passed(self, key: str) -> None:
        self.report.passed[key] = self.report.passed.get(key, 0) + 1

    def _cover(self, b: MinerBatch) -> None:
        cov = self.report.coverage
        lab = np.asarray(b.labels)
        cov["with a reference set"] += b.has_ref
        cov["one class"] += lab.size > 1 and np.unique(lab).size == 1
        cov["all labels distinct"] += lab.size > 1 and np.unique(lab).size == lab.size
        cov["N <= 1"] += lab.size <= 1

    def _fail(self, check: str, rule: str, att: _Attempt, host_batch: MinerBatch, message: str, *,
              violation: InvariantViolation | None = None, attempts: Sequence[_Attempt] = ()) -> None:
        text = _format_failure(self.report, check, att, host_batch, message, violation, attempts or [att])
        raise MinerPropertyError(text, check=check, rule=rule, backend=att.backend.name, batch=host_batch,
                                 report=self.report)


def _rounding_explains(ref: _Attempt, other: _Attempt) -> str | None:
    """None when two backends' different tuples are explained by rounding: their distance
    matrices differ, but only by rounding (e.g. a tie on NumPy that torch's kernels break by
    one unit in the last place). Otherwise the reason the difference is a bug."""
    try:
        with ref.backend.context():
            m0 = distance_matrix(ref.miner, ref.mined.checked)
        with other.backend.context():
            m1 = distance_matrix(other.miner, other.mined.checked)
    except Exception:  # noqa: BLE001 - no .distance: the tuples alone decide
        return "(the miner has no usable .distance, so the difference cannot be put down to rounding)"
    if m0.shape != m1.shape:
        return f"(the distance matrices have different shapes, {m0.shape} and {m1.shape})"
    if np.array_equal(m0, m1, equal_nan=True):
        return (f"the distance matrices of {ref.backend.name} and {other.backend.name} are identical, "
                "so the miner itself resolves the same input differently")
    # Rounding bound: a distance is often the square root of a difference of Gram terms, so
    # near 0 an error of eps in the square becomes sqrt(eps) in the distance (identical rows
    # give 2e-8 on one library and 0 on another in float64, 5e-4 in float32).
    eps = float(np.finfo(m0.dtype).eps) if np.issubdtype(m0.dtype, np.floating) else 0.0
    scale = max(1.0, float(np.nanmax(np.abs(m0))) if m0.size else 1.0)
    if np.allclose(m0, m1, rtol=1e3 * eps, atol=8 * np.sqrt(eps) * scale, equal_nan=True):
        return None
    worst = np.unravel_index(int(np.nanargmax(np.abs(m0 - m1))), m0.shape)
    return (f"the distance matrices differ beyond rounding: mat{list(map(int, worst))} = {m0[worst]!s} on "
            f"{ref.backend.name}, {m1[worst]!s} on {other.backend.name}")


# -- the failure report ----------------------------------------------------------------------




def _arr(x: np.ndarray, prefix: str = "") -> str:
    """An array as text that NumPy reads back exactly (shortest round-trip float digits)."""
    return np.array2string(np.asarray(x), separator=", ", prefix=prefix, max_line_width=100, threshold=10_000,
                           formatter={"float_kind": lambda v: str(v)})


def _assign(name: str, x: np.ndarray) -> str:
    return f"{name} = " + _arr(x, prefix=f"{name} = ")


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line for line in text.splitlines())


def _dtype_name(b: MinerBatch) -> str:
    return np.asarray(b.embeddings).dtype.name


def _format_failure(report: MinerPropertyReport, check: str, att: _Attempt, host_batch: MinerBatch, message: str,
                    violation: InvariantViolation | None, attempts: Sequence[_Attempt]) -> str:
    b = host_batch
    ref_txt = f"a reference set of {b.ref_emb.shape[0]}" if b.has_ref else "no reference set"
    lines = [
        f"{report.miner}: check '{check}' ({CHECKS[check]}) fails on {att.backend.name}; "
        "minimal failing batch found by hypothesis:",
        "",
        _indent(message, "  "),
        "",
        f"  batch: {b.n} embeddings of dimension {b.embeddings.shape[1]} ({_dtype_name(b)}), {ref_txt}",
        _indent(_assign("embeddings", b.embeddings), "    "),
        _indent(_assign("labels", b.labels), "    "),
    ]
    if b.has_ref:
        lines += [_indent(_assign("ref_emb", b.ref_emb), "    "), _indent(_assign("ref_labels", b.ref_labels), "    ")]
    mined = att.mined
    if mined is not None and mined.extended:
        ext = mined.checked.to_numpy()
        lines += ["  the miner's indices refer to its extended set (mine_extended):",
                  _indent(_assign("extended embeddings", ext.embeddings), "    "),
                  _indent(_assign("extended labels", ext.labels), "    ")]
    lines += _distance_lines(violation, attempts)
    if att.host is not None or mined is not None:
        out = att.host if att.host is not None else _safe_host(mined.output)
        if out is not None:
            names = ("a", "p", "n") if len(out) == 3 else ("a1", "p", "a2", "n")
            lines.append("  miner output on " + att.backend.name + ": "
                         + ", ".join(f"{k}={_arr(v)}" for k, v in zip(names, out)))
    lines += ["", "  reproduce:", _indent(_reproduce(b, att.backend.name, report.miner, check), "    ")]
    return "\n".join(lines)


def _safe_host(output: Any) -> tuple[np.ndarray, ...] | None:
    from .._array_api import to_numpy

    try:
        return tuple(np.asarray(to_numpy(t)) for t in output)
    except Exception:  # noqa: BLE001 - malformed output: shown by the message already
        return None


def _distance_lines(violation: InvariantViolation | None, attempts: Sequence[_Attempt]) -> list[str]:
    lines: list[str] = []
    shown_matrix = False
    for att in attempts:
        if att.mined is None or att.miner is None:
            continue
        try:
            with att.backend.context():
                mat = distance_matrix(att.miner, att.mined.checked)
        except Exception:  # noqa: BLE001 - a plain function miner has no .distance
            lines.append(f"  (distances not shown: the miner has no usable .distance on {att.backend.name})")
            continue
        dist = att.miner.distance
        order = "larger is closer" if getattr(dist, "is_inverted", False) else "smaller is closer"
        lines.append(f"  distances on {att.backend.name}: {type(dist).__name__} ({order})")
        for t in (violation.tuples if violation is not None else [])[:3]:
            lines.append("    " + _tuple_distances(t, mat))
        if not shown_matrix and mat.shape[0] <= _MATRIX_SHOWN and mat.shape[1] <= _MATRIX_SHOWN:
            lines.append(_indent(_assign("mat", mat), "    "))
            shown_matrix = len(attempts) == 1
    return lines


def _tuple_distances(t: dict[str, int], mat: np.ndarray) -> str:
    keys = list(t)
    anchor = keys[0]
    parts = []
    for k in keys[1:]:
        i, j = t[anchor], t[k]
        if 0 <= i < mat.shape[0] and 0 <= j < mat.shape[1]:
            parts.append(f"mat[{anchor}, {k}] = {mat[i, j]!s}")
        else:
            parts.append(f"mat[{anchor}, {k}] out of range")
    return ", ".join(f"{k}={v}" for k, v in t.items()) + ": " + ", ".join(parts)


def _reproduce(b: MinerBatch, backend: str, label: str, check: str) -> str:
    dt = _dtype_name(b)

    def arr(name: str, x: np.ndarray, dtype: str) -> str:
        head = f"{name} = np.array("
        return head + _arr(x, prefix=head) + f", dtype=np.{dtype})"

    build = label if label.endswith(")") else f"{label}()"
    lines = ["import numpy as np", "from agnostic_ml.testing import check_miner",
             f"miner = {build}  # built as the test builds it",
             arr("embeddings", b.embeddings, dt), arr("labels", b.labels, "int64")]
    args = "embeddings, labels"
    if b.has_ref:
        lines += [arr("ref_emb", b.ref_emb, dt), arr("ref_labels", b.ref_labels, "int64")]
        args += ", ref_emb, ref_labels"
    if check == "selection_rule":
        args += ", condition=selection_rule"
    elif check == "deterministic":
        lines.append("# run it twice, with the miner's rng reset to the same seed, and compare")
    elif check == "backends":
        lines.append("# run it on both backends (agnostic_ml.testing.check_backend_consistency) and compare")
    note = "" if backend == "numpy" else f"  # it failed on {backend}: move the arrays there to see it"
    lines.append(f"check_miner(miner, {args}){note}")
    return "\n".join(lines)
