"""Invariant checks for miner outputs: ours and the miners users write.

Every check raises ``AssertionError`` with a message that says which rule broke, for which
tuple, with its indices and labels, so that a failing property test explains itself.

The rules (PML's miner contract, see :class:`agnostic_ml.miners.BaseMiner`):

- the output is a 3-tuple of triplets ``(a, p, n)`` or a 4-tuple of pairs ``(a1, p, a2, n)``;
- each element is a 1-D integer array of the embeddings' namespace and on their device;
- ``len(a) == len(p) == len(n)``, or ``len(a1) == len(p)`` and ``len(a2) == len(n)``;
- anchors index the batch (``labels``), positives and negatives the reference set
  (``ref_labels``; the batch itself when there is none), all in range;
- without a separate reference set an anchor is never its own positive (or negative);
- positives share the anchor's label, negatives do not;
- no tuple appears twice (unless ``allow_duplicates``: samplers with replacement).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import array_api_compat as aac

from .._array_api import to_numpy
from ._calls import Mined, call_miner, miner_maker, reset_rng, same_output, tuple_counts
from .batch import MinerBatch, as_batch

Array = Any

__all__ = [
    "InvariantViolation",
    "check_miner_output",
    "check_miner",
    "check_deterministic",
    "check_backend_consistency",
]

_KINDS = {"triplets": 3, "pairs": 4, 3: 3, 4: 4}
_NAMES = {3: ("a", "p", "n"), 4: ("a1", "p", "a2", "n")}
_MAX_SHOWN = 5


class InvariantViolation(AssertionError):
    """A miner broke an invariant: an ``AssertionError`` that also says which rule, and where.

    Attributes
    ----------
    rule : str
        The broken rule: ``"output type"``, ``"namespace"``, ``"device"``, ``"shape"``,
        ``"dtype"``, ``"lengths"``, ``"range"``, ``"self pair"``, ``"positive label"``,
        ``"negative label"``, ``"duplicate"``, ``"selection rule"``, ``"deterministic"``
        or ``"backends"``.
    tuples : list of dict
        The offending tuples (the first few), each as ``{"a": 3, "p": 3, "n": 0}``
        (triplets) or ``{"a1": 0, "p": 1}`` / ``{"a2": 0, "n": 4}`` (pairs); empty when the
        rule is about the whole output. Reports use them to show the distances involved.
    """

    __module__ = "agnostic_ml.testing"  # its public home, shown in tracebacks

    def __init__(self, message: str, *, rule: str, tuples: Sequence[dict[str, int]] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.tuples = [dict(t) for t in tuples]


def _host(x: Any, name: str) -> np.ndarray:
    if x is None:
        raise InvariantViolation(f"{name} is None", rule="output type")
    if isinstance(x, (list, tuple, np.ndarray, np.generic)):
        return np.asarray(x)
    try:
        return np.asarray(to_numpy(x))
    except Exception as exc:  # not an array of a known library
        raise InvariantViolation(f"{name} is not an array ({type(x).__name__}): {exc}", rule="output type") from exc


def _fmt(idx: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:_MAX_SHOWN])
    return f"[{shown}{', ...' if idx.size > _MAX_SHOWN else ''}]"


def check_miner_output(
    output: Any,
    labels: Any,
    ref_labels: Any = None,
    *,
    embeddings: Any = None,
    ref_emb: Any = None,
    allow_duplicates: bool = False,
    expected_kind: str | int | None = None,
) -> tuple[np.ndarray, ...]:
    """Check a miner's output against the labels it was given; raise ``AssertionError`` if wrong.

    Parameters
    ----------
    output : tuple
        What the miner returned.
    labels, ref_labels : array or sequence
        The batch labels and, when a separate reference set was given, its labels.
        ``ref_labels=None`` means "no reference set": then anchors must not pair with
        themselves.
    embeddings, ref_emb : array, optional
        When given, the outputs must be arrays of the embeddings' namespace and device,
        and the sizes are checked against them.
    allow_duplicates : bool, default False
        Allow a tuple to appear more than once (miners that sample with replacement).
    expected_kind : {"triplets", "pairs", 3, 4}, optional
        Require triplets (3-tuple) or pairs (4-tuple).

    Returns
    -------
    tuple of numpy.ndarray
        The output as int64 NumPy arrays (handy for further checks).

    Examples
    --------
    >>> import numpy as np
    >>> check_miner_output((np.array([0]), np.array([1]), np.array([2])), [0, 0, 1])[0]
    array([0])
    >>> check_miner_output((np.array([0]), np.array([0]), np.array([2])), [0, 0, 1])
    Traceback (most recent call last):
    ...
    agnostic_ml.testing.InvariantViolation: 1 triplet(s) pair an anchor with itself (a == p) although no separate reference set was given: tuple #0 (a=0, p=0, n=2)
    """
    if not isinstance(output, tuple):
        raise InvariantViolation(f"a miner must return a tuple, got {type(output).__name__}", rule="output type")
    if len(output) not in (3, 4):
        raise InvariantViolation(
            f"a miner must return a 3-tuple (a, p, n) or a 4-tuple (a1, p, a2, n), got a tuple of length {len(output)}",
            rule="output type",
        )
    k = len(output)
    kind = "triplets" if k == 3 else "pairs"
    if expected_kind is not None:
        if expected_kind not in _KINDS:
            raise ValueError(f"expected_kind must be 'triplets', 'pairs', 3 or 4, got {expected_kind!r}")
        if _KINDS[expected_kind] != k:
            want = "triplets (a 3-tuple)" if _KINDS[expected_kind] == 3 else "pairs (a 4-tuple)"
            raise InvariantViolation(f"expected {want}, got {kind} (a {k}-tuple)", rule="output type")
    if ref_emb is not None and ref_labels is None:
        raise ValueError("ref_emb was given without ref_labels; pass both (or neither)")
    names = _NAMES[k]

    lab = _host(labels, "labels")
    has_ref = ref_labels is not None
    rlab = _host(ref_labels, "ref_labels") if has_ref else lab
    if lab.ndim != 1 or rlab.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shapes {lab.shape} and {rlab.shape}")
    if embeddings is not None and embeddings.shape[0] != lab.shape[0]:
        raise ValueError(f"labels has length {lab.shape[0]} but embeddings has {embeddings.shape[0]} rows")
    if ref_emb is not None and ref_emb.shape[0] != rlab.shape[0]:
        raise ValueError(f"ref_labels has length {rlab.shape[0]} but ref_emb has {ref_emb.shape[0]} rows")

    # 1. arrays: namespace, device, rank, dtype
    xp_ref = dev_ref = None
    if embeddings is not None:
        xp_ref = aac.array_namespace(embeddings)
        dev_ref = aac.device(embeddings)
    host = []
    for name, t in zip(names, output):
        try:
            txp = aac.array_namespace(t)
        except TypeError:
            raise InvariantViolation(f"output {name} is not an array: {type(t).__name__}", rule="output type") from None
        if xp_ref is not None:
            if txp is not xp_ref:
                raise InvariantViolation(
                    f"output {name} is a {type(t).__module__}.{type(t).__name__} ({txp.__name__}) but the embeddings "
                    f"are {type(embeddings).__module__}.{type(embeddings).__name__} ({xp_ref.__name__}): outputs must "
                    "be arrays of the embeddings' namespace",
                    rule="namespace",
                )
            if str(aac.device(t)) != str(dev_ref):
                raise InvariantViolation(
                    f"output {name} is on device {aac.device(t)} but the embeddings are on {dev_ref}", rule="device"
                )
        if t.ndim != 1:
            raise InvariantViolation(f"output {name} must be 1-D, got shape {tuple(t.shape)}", rule="shape")
        if not txp.isdtype(t.dtype, "integral"):
            raise InvariantViolation(f"output {name} must have an integer dtype, got {t.dtype}", rule="dtype")
        host.append(np.asarray(to_numpy(t)).astype(np.int64, copy=False))

    # 2. lengths
    if k == 3:
        if not host[0].shape[0] == host[1].shape[0] == host[2].shape[0]:
            raise InvariantViolation(
                f"triplet outputs must have equal lengths, got len(a)={host[0].shape[0]}, "
                f"len(p)={host[1].shape[0]}, len(n)={host[2].shape[0]}",
                rule="lengths",
            )
    else:
        if host[0].shape[0] != host[1].shape[0]:
            raise InvariantViolation(
                f"pair outputs need len(a1) == len(p), got {host[0].shape[0]} and {host[1].shape[0]}", rule="lengths"
            )
        if host[2].shape[0] != host[3].shape[0]:
            raise InvariantViolation(
                f"pair outputs need len(a2) == len(n), got {host[2].shape[0]} and {host[3].shape[0]}", rule="lengths"
            )

    # 3. ranges: anchors index the batch, the others the reference set
    sizes = {name: (lab.shape[0] if name.startswith("a") else rlab.shape[0]) for name in names}
    for name, h in zip(names, host):
        size = sizes[name]
        bad = np.nonzero((h < 0) | (h >= size))[0]
        if bad.size:
            what = "the batch (labels)" if name.startswith("a") else ("ref_labels" if has_ref else "the batch (labels)")
            raise InvariantViolation(
                f"output {name} has {bad.size} index(es) out of range [0, {size}) of {what}: "
                f"at positions {_fmt(bad)}, values {_fmt(h[bad])}",
                rule="range",
                tuples=[_tuple_at(host, k, i, "neg" if name in ("a2", "n") else "pos") for i in bad[:_MAX_SHOWN]],
            )

    groups = [(host[0], host[1], host[2])] if k == 3 else [(host[0], host[1], None), (host[2], None, host[3])]
    for anchors, pos, neg in groups:
        # 4. self pairs
        if not has_ref:
            for other, tag in ((pos, "p"), (neg, "n")):
                if other is None:
                    continue
                same = np.nonzero(anchors == other)[0]
                if same.size:
                    aname = "a" if k == 3 else ("a1" if tag == "p" else "a2")
                    unit = "triplet(s)" if k == 3 else ("positive pair(s)" if tag == "p" else "negative pair(s)")
                    raise InvariantViolation(
                        f"{same.size} {unit} pair an anchor with itself ({aname} == {tag}) although no separate "
                        f"reference set was given: {_describe(host, k, same[0], lab, rlab)}",
                        rule="self pair",
                        tuples=[_tuple_at(host, k, i, "pos" if tag == "p" else "neg") for i in same[:_MAX_SHOWN]],
                    )
        # 5. labels
        if pos is not None:
            wrong = np.nonzero(lab[anchors] != rlab[pos])[0]
            if wrong.size:
                unit = "triplet(s)" if k == 3 else "positive pair(s)"
                raise InvariantViolation(
                    f"{wrong.size} {unit} have a positive whose label differs from the anchor's: "
                    f"{_describe(host, k, wrong[0], lab, rlab, part='pos')}",
                    rule="positive label",
                    tuples=[_tuple_at(host, k, i, "pos") for i in wrong[:_MAX_SHOWN]],
                )
        if neg is not None:
            wrong = np.nonzero(lab[anchors] == rlab[neg])[0]
            if wrong.size:
                unit = "triplet(s)" if k == 3 else "negative pair(s)"
                raise InvariantViolation(
                    f"{wrong.size} {unit} have a negative with the anchor's label: "
                    f"{_describe(host, k, wrong[0], lab, rlab, part='neg')}",
                    rule="negative label",
                    tuples=[_tuple_at(host, k, i, "neg") for i in wrong[:_MAX_SHOWN]],
                )
        # 6. duplicates
        if not allow_duplicates:
            cols = [c for c in (anchors, pos, neg) if c is not None]
            dup = _first_duplicate(np.stack(cols, axis=1) if cols[0].size else np.zeros((0, len(cols)), np.int64))
            if dup is not None:
                first, again, count = dup
                unit = "triplet" if k == 3 else ("positive pair" if pos is not None else "negative pair")
                raise InvariantViolation(
                    f"{unit} {tuple(int(v) for v in np.stack(cols, axis=1)[first])} appears {count} times "
                    f"(positions {first} and {again}); pass allow_duplicates=True if the miner samples with replacement",
                    rule="duplicate",
                    tuples=[_tuple_at(host, k, first, "pos" if pos is not None else "neg")],
                )
    return tuple(host)


def _first_duplicate(rows: np.ndarray) -> tuple[int, int, int] | None:
    if rows.shape[0] < 2:
        return None
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    dup_groups = np.nonzero(counts > 1)[0]
    if dup_groups.size == 0:
        return None
    positions = np.nonzero(np.isin(inverse, dup_groups))[0]
    first = int(positions[0])
    same = np.nonzero(inverse == inverse[first])[0]
    return first, int(same[1]), int(counts[inverse[first]])


def _tuple_at(host: Sequence[np.ndarray], k: int, i: int, part: str = "pos") -> dict[str, int]:
    """Tuple ``i`` of the output as a dict of indices (``part`` picks positive or negative pairs)."""
    i = int(i)
    if k == 3:
        return {name: int(h[i]) for name, h in zip(_NAMES[3], host)}
    if part == "neg":
        return {"a2": int(host[2][i]), "n": int(host[3][i])}
    return {"a1": int(host[0][i]), "p": int(host[1][i])}


def _describe(host: list[np.ndarray], k: int, i: int, lab: np.ndarray, rlab: np.ndarray, part: str = "") -> str:
    i = int(i)
    if k == 3:
        a, p, n = (int(h[i]) for h in host)
        return f"tuple #{i} (a={a}, p={p}, n={n})" + (
            f" with labels[a]={lab[a]!r}, ref_labels[p]={rlab[p]!r}, ref_labels[n]={rlab[n]!r}" if part else ""
        )
    if part == "neg":
        a, n = int(host[2][i]), int(host[3][i])
        return f"negative pair #{i} (a2={a}, n={n}) with labels[a2]={lab[a]!r}, ref_labels[n]={rlab[n]!r}"
    a, p = int(host[0][i]), int(host[1][i])
    return f"positive pair #{i} (a1={a}, p={p})" + (f" with labels[a1]={lab[a]!r}, ref_labels[p]={rlab[p]!r}" if part else "")


def check_miner(
    miner: Callable[..., Any],
    embeddings: Any,
    labels: Any,
    ref_emb: Any = None,
    ref_labels: Any = None,
    *,
    condition: Callable[[np.ndarray, tuple[np.ndarray, ...]], Any] | None = None,
    allow_duplicates: bool = False,
    expected_kind: str | int | None = None,
) -> tuple[Array, ...]:
    """Call ``miner`` on a batch, check its output with :func:`check_miner_output`, and
    optionally check the miner's own selection rule for every returned tuple.

    Parameters
    ----------
    miner : callable
        ``miner(embeddings, labels[, ref_emb, ref_labels])`` (any :class:`~agnostic_ml.miners.BaseMiner`).
        A miner with ``mine_extended`` (class centres, memory banks) called without a
        reference set is checked through ``mine_extended``, against the extended set its
        indices refer to.
    condition : callable, optional
        ``condition(mat, output) -> bool array``, called with NumPy arrays: ``mat`` is
        ``miner.distance(embeddings, ref_emb)`` and ``output`` the mined indices. For
        triplets it returns one bool per triplet; for pairs either one bool per pair
        (positive pairs first, then negative pairs) or a tuple ``(pos_ok, neg_ok)``.
    allow_duplicates, expected_kind
        As in :func:`check_miner_output`.

    Returns
    -------
    tuple
        The miner's output, unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import PairMarginMiner
    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.2, 1.0]])
    >>> out = check_miner(PairMarginMiner(), emb, [0, 0, 1, 1],
    ...                   condition=lambda d, t: (d[t[0], t[1]] > 0.2, d[t[2], t[3]] < 0.8))
    >>> len(out)
    4
    """
    batch = MinerBatch(embeddings, labels, ref_emb, ref_labels)
    mined = call_miner(miner, batch)
    host = check_mined(mined, allow_duplicates=allow_duplicates, expected_kind=expected_kind)
    if condition is not None:
        _check_condition(condition, distance_matrix(miner, mined.checked), host)
    return mined.output


def check_mined(mined: Mined, *, allow_duplicates: bool = False, expected_kind: str | int | None = None) -> tuple[np.ndarray, ...]:
    """:func:`check_miner_output` of a :class:`~agnostic_ml.testing._calls.Mined` against the batch it indexes."""
    b = mined.checked
    return check_miner_output(
        mined.output, b.labels, b.ref_labels, embeddings=b.embeddings, ref_emb=b.ref_emb,
        allow_duplicates=allow_duplicates, expected_kind=expected_kind,
    )


def distance_matrix(miner: Any, batch: MinerBatch) -> np.ndarray:
    """``miner.distance(embeddings, ref_emb)`` of ``batch`` as a NumPy array (for selection rules and reports)."""
    dist = getattr(miner, "distance", None)
    if dist is None or not callable(dist):
        raise TypeError("condition needs miner.distance (a distance object) to compute the matrix")
    return np.asarray(to_numpy(dist(batch.embeddings, batch.ref_emb)))


def _check_condition(condition: Callable[..., Any], mat: np.ndarray, host: tuple[np.ndarray, ...]) -> None:
    k = len(host)
    res = condition(mat, host)
    if k == 4 and isinstance(res, tuple):
        if len(res) != 2:
            raise TypeError(f"a pair condition returns (pos_ok, neg_ok), got a tuple of length {len(res)}")
        parts = [("positive pair", np.asarray(res[0]), host[0], host[1]), ("negative pair", np.asarray(res[1]), host[2], host[3])]
    else:
        ok = np.asarray(res)
        if k == 3:
            parts = [("triplet", ok, host[0], None)]
        else:
            npos = host[0].shape[0]
            if ok.shape != (npos + host[2].shape[0],):
                raise TypeError(
                    f"a pair condition returns {npos + host[2].shape[0]} bools (positive pairs then negative pairs) "
                    f"or a tuple (pos_ok, neg_ok), got shape {ok.shape}"
                )
            parts = [("positive pair", ok[:npos], host[0], host[1]), ("negative pair", ok[npos:], host[2], host[3])]
    for unit, ok, a, other in parts:
        expected = a.shape[0]
        if ok.shape != (expected,):
            raise TypeError(f"condition must return one bool per {unit} ({expected}), got shape {ok.shape}")
        if ok.dtype != np.bool_:
            raise TypeError(f"condition must return booleans, got dtype {ok.dtype}")
        bad = np.nonzero(~ok)[0]
        if bad.size:
            i = int(bad[0])
            if k == 3:
                ta, tp, tn = (int(h[i]) for h in host)
                detail = f"(a={ta}, p={tp}, n={tn}) with mat[a, p]={mat[ta, tp]!s}, mat[a, n]={mat[ta, tn]!s}"
            else:
                ta, to = int(a[i]), int(other[i])
                detail = f"({ta}, {to}) with mat={mat[ta, to]!s}"
            if k == 3:
                offending = [_tuple_at(host, 3, j) for j in bad[:_MAX_SHOWN]]
            else:
                key_a, key_o = ("a1", "p") if unit == "positive pair" else ("a2", "n")
                offending = [{key_a: int(a[j]), key_o: int(other[j])} for j in bad[:_MAX_SHOWN]]
            raise InvariantViolation(
                f"the miner's condition fails for {bad.size} of {expected} {unit}(s); first: #{i} {detail}",
                rule="selection rule",
                tuples=offending,
            )


def check_deterministic(miner: Any, batch: Any, rng_seeds: Iterable[int] = (0, 1, 2)) -> dict[int, tuple[np.ndarray, ...]]:
    """Same seed, same output: run the miner twice per seed and compare the tuples exactly (order too).

    ``miner`` is a miner instance (each run uses a deep copy of it, so the instance itself
    and its ``rng`` are left untouched and state such as a memory bank does not carry
    from one run to the next), a miner *class* or a zero-argument factory (a fresh miner
    per run). Before each run a miner with an ``rng`` attribute gets
    ``numpy.random.default_rng(seed)``.

    Returns
    -------
    dict
        ``seed -> output`` (int64 NumPy arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import PairMarginMiner
    >>> emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> sorted(check_deterministic(PairMarginMiner(), (emb, [0, 0, 1]), [0, 1]))
    [0, 1]
    """
    b = as_batch(batch)
    seeds = list(rng_seeds)
    if not seeds:
        raise ValueError("rng_seeds must name at least one seed")
    make = miner_maker(miner)
    results: dict[int, tuple[np.ndarray, ...]] = {}
    for seed in seeds:
        first = check_mined(mine_seeded(make, b, seed), allow_duplicates=True)
        second = check_mined(mine_seeded(make, b, seed), allow_duplicates=True)
        compare_runs(first, second, seed)
        results[seed] = first
    return results


def mine_seeded(make: Callable[[], Any], batch: MinerBatch, seed: int) -> Mined:
    """A fresh miner from ``make()``, its ``rng`` reset to ``seed``, called on ``batch``."""
    m = make()
    reset_rng(m, seed)
    return call_miner(m, batch)


def compare_runs(first: tuple[np.ndarray, ...], second: tuple[np.ndarray, ...], seed: int) -> None:
    """Raise ``InvariantViolation(rule="deterministic")`` unless two runs gave identical tuples."""
    if same_output(first, second):
        return
    tuples = []
    for part, (c0, c1) in enumerate(zip(tuple_counts(first), tuple_counts(second))):
        diff = sorted(((c0 - c1) + (c1 - c0)).elements())[:_MAX_SHOWN]
        tuples += [_as_tuple_dict(t, len(first), part) for t in diff]
    raise InvariantViolation(
        f"the miner is not deterministic: two runs with rng seed {seed} returned different tuples "
        f"(lengths {[len(h) for h in first]} vs {[len(h) for h in second]}; first run "
        f"{_preview(first)}, second run {_preview(second)})",
        rule="deterministic",
        tuples=tuples,
    )


def _as_tuple_dict(t: tuple[int, ...], k: int, part: int) -> dict[str, int]:
    if k == 3:
        return dict(zip(_NAMES[3], (int(v) for v in t)))
    return dict(zip(("a1", "p") if part == 0 else ("a2", "n"), (int(v) for v in t)))


def _preview(host: Sequence[np.ndarray]) -> str:
    return "(" + ", ".join(_fmt(h) for h in host) + ")"


def compare_backends(name0: str, host0: tuple[np.ndarray, ...], name1: str, host1: tuple[np.ndarray, ...]) -> None:
    """Raise ``InvariantViolation(rule="backends")`` unless both outputs hold the same tuples
    (as multisets: the order may differ between backends)."""
    if len(host0) != len(host1):
        raise InvariantViolation(
            f"{name0} returned a {len(host0)}-tuple but {name1} a {len(host1)}-tuple", rule="backends"
        )
    for part, (c0, c1) in enumerate(zip(tuple_counts(host0), tuple_counts(host1))):
        if c0 != c1:
            only0 = sorted((c0 - c1).elements())[:_MAX_SHOWN]
            only1 = sorted((c1 - c0).elements())[:_MAX_SHOWN]
            unit = "triplets" if len(host0) == 3 else ("positive pairs" if part == 0 else "negative pairs")
            raise InvariantViolation(
                f"{unit} differ between {name0} ({sum(c0.values())}) and {name1} ({sum(c1.values())}): "
                f"only in {name0}: {only0}; only in {name1}: {only1}",
                rule="backends",
                tuples=[_as_tuple_dict(t, len(host0), part) for t in (only0 + only1)[:_MAX_SHOWN]],
            )


def _backend_spec(spec: Any) -> tuple[str, Any, Any, Callable[[], Any]]:
    """``(name, xp, device, context)`` of a backend given as a name, a Backend, a namespace or ``(namespace, device)``."""
    from .backends import Backend, load_backend

    if isinstance(spec, str):
        spec = load_backend(spec)
    if isinstance(spec, Backend):
        return spec.name, spec.xp, spec.device, spec.context
    xp, device = spec if isinstance(spec, tuple) else (spec, None)
    name = getattr(xp, "__name__", repr(xp)) + ("" if device is None else f"@{device}")
    return name, xp, device, contextlib.nullcontext


def check_backend_consistency(
    miner: Any,
    batch: Any,
    backends: Sequence[Any],
    *,
    rng_seed: int = 0,
    allow_duplicates: bool = False,
) -> dict[str, tuple[np.ndarray, ...]]:
    """The same tuples (as sets, with multiplicities) on several namespaces.

    Parameters
    ----------
    miner
        A miner instance (deep-copied for each backend), a miner class or a zero-argument
        factory; a miner with an ``rng`` gets ``numpy.random.default_rng(rng_seed)`` before
        each backend runs (house rule: same seed, same output on every backend).
    batch : MinerBatch or tuple
        The input, on any backend; it is copied to each backend with the same float dtype
        name and int64 labels.
    backends : sequence
        Backend names of :mod:`agnostic_ml.testing.backends` (``"numpy"``, ``"torch"``,
        ...) or :class:`~agnostic_ml.testing.backends.Backend` objects, array namespaces
        (compat-wrapped, e.g. ``array_api_compat.array_namespace(torch.empty(0))``, or
        plain modules) or ``(namespace, device)`` pairs.

    Each output is also checked with :func:`check_miner_output` on its backend (namespace,
    device). Note that distances are computed by each backend's own kernels: inputs with
    near-ties can legitimately flip a strict comparison; the kit's grid batches produce
    *exact* ties on purpose, which a robust miner must resolve the same way everywhere.

    Returns
    -------
    dict
        backend name -> output (int64 NumPy arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import BatchHardMiner
    >>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> sorted(check_backend_consistency(BatchHardMiner(), (emb, [0, 0, 1, 1]), ["numpy", "array_api_strict"]))
    ['array_api_strict', 'numpy']
    """
    b = as_batch(batch)
    if len(backends) < 1:
        raise ValueError("backends must name at least one namespace")
    make = miner_maker(miner)
    results: dict[str, tuple[np.ndarray, ...]] = {}
    first: tuple[str, tuple[np.ndarray, ...]] | None = None
    for spec in backends:
        name, xp, device, context = _backend_spec(spec)
        with context():
            nb = b.to(xp, device)
            host = check_mined(mine_seeded(make, nb, rng_seed), allow_duplicates=allow_duplicates)
        results[name] = host
        if first is None:
            first = (name, host)
        else:
            compare_backends(first[0], first[1], name, host)
    return results
