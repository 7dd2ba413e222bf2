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

from collections import Counter
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import array_api_compat as aac

from .._array_api import to_numpy
from .batch import MinerBatch, as_batch

Array = Any

__all__ = ["check_miner_output", "check_miner", "check_deterministic", "check_backend_consistency"]

_KINDS = {"triplets": 3, "pairs": 4, 3: 3, 4: 4}
_NAMES = {3: ("a", "p", "n"), 4: ("a1", "p", "a2", "n")}
_MAX_SHOWN = 5


def _host(x: Any, name: str) -> np.ndarray:
    if x is None:
        raise AssertionError(f"{name} is None")
    if isinstance(x, (list, tuple, np.ndarray, np.generic)):
        return np.asarray(x)
    try:
        return np.asarray(to_numpy(x))
    except Exception as exc:  # not an array of a known library
        raise AssertionError(f"{name} is not an array ({type(x).__name__}): {exc}") from exc


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
    AssertionError: 1 triplet(s) pair an anchor with itself (a == p) although no separate reference set was given: tuple #0 (a=0, p=0, n=2)
    """
    if not isinstance(output, tuple):
        raise AssertionError(f"a miner must return a tuple, got {type(output).__name__}")
    if len(output) not in (3, 4):
        raise AssertionError(
            f"a miner must return a 3-tuple (a, p, n) or a 4-tuple (a1, p, a2, n), got a tuple of length {len(output)}"
        )
    k = len(output)
    kind = "triplets" if k == 3 else "pairs"
    if expected_kind is not None:
        if expected_kind not in _KINDS:
            raise ValueError(f"expected_kind must be 'triplets', 'pairs', 3 or 4, got {expected_kind!r}")
        if _KINDS[expected_kind] != k:
            want = "triplets (a 3-tuple)" if _KINDS[expected_kind] == 3 else "pairs (a 4-tuple)"
            raise AssertionError(f"expected {want}, got {kind} (a {k}-tuple)")
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
            raise AssertionError(f"output {name} is not an array: {type(t).__name__}") from None
        if xp_ref is not None:
            if txp is not xp_ref:
                raise AssertionError(
                    f"output {name} is a {type(t).__module__}.{type(t).__name__} ({txp.__name__}) but the embeddings "
                    f"are {type(embeddings).__module__}.{type(embeddings).__name__} ({xp_ref.__name__}): outputs must "
                    "be arrays of the embeddings' namespace"
                )
            if str(aac.device(t)) != str(dev_ref):
                raise AssertionError(f"output {name} is on device {aac.device(t)} but the embeddings are on {dev_ref}")
        if t.ndim != 1:
            raise AssertionError(f"output {name} must be 1-D, got shape {tuple(t.shape)}")
        if not txp.isdtype(t.dtype, "integral"):
            raise AssertionError(f"output {name} must have an integer dtype, got {t.dtype}")
        host.append(np.asarray(to_numpy(t)).astype(np.int64, copy=False))

    # 2. lengths
    if k == 3:
        if not host[0].shape[0] == host[1].shape[0] == host[2].shape[0]:
            raise AssertionError(
                f"triplet outputs must have equal lengths, got len(a)={host[0].shape[0]}, "
                f"len(p)={host[1].shape[0]}, len(n)={host[2].shape[0]}"
            )
    else:
        if host[0].shape[0] != host[1].shape[0]:
            raise AssertionError(f"pair outputs need len(a1) == len(p), got {host[0].shape[0]} and {host[1].shape[0]}")
        if host[2].shape[0] != host[3].shape[0]:
            raise AssertionError(f"pair outputs need len(a2) == len(n), got {host[2].shape[0]} and {host[3].shape[0]}")

    # 3. ranges: anchors index the batch, the others the reference set
    sizes = {name: (lab.shape[0] if name.startswith("a") else rlab.shape[0]) for name in names}
    for name, h in zip(names, host):
        size = sizes[name]
        bad = np.nonzero((h < 0) | (h >= size))[0]
        if bad.size:
            what = "the batch (labels)" if name.startswith("a") else ("ref_labels" if has_ref else "the batch (labels)")
            raise AssertionError(
                f"output {name} has {bad.size} index(es) out of range [0, {size}) of {what}: "
                f"at positions {_fmt(bad)}, values {_fmt(h[bad])}"
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
                    raise AssertionError(
                        f"{same.size} {unit} pair an anchor with itself ({aname} == {tag}) although no separate "
                        f"reference set was given: {_describe(host, k, same[0], lab, rlab)}"
                    )
        # 5. labels
        if pos is not None:
            wrong = np.nonzero(lab[anchors] != rlab[pos])[0]
            if wrong.size:
                unit = "triplet(s)" if k == 3 else "positive pair(s)"
                raise AssertionError(
                    f"{wrong.size} {unit} have a positive whose label differs from the anchor's: "
                    f"{_describe(host, k, wrong[0], lab, rlab, part='pos')}"
                )
        if neg is not None:
            wrong = np.nonzero(lab[anchors] == rlab[neg])[0]
            if wrong.size:
                unit = "triplet(s)" if k == 3 else "negative pair(s)"
                raise AssertionError(
                    f"{wrong.size} {unit} have a negative with the anchor's label: "
                    f"{_describe(host, k, wrong[0], lab, rlab, part='neg')}"
                )
        # 6. duplicates
        if not allow_duplicates:
            cols = [c for c in (anchors, pos, neg) if c is not None]
            dup = _first_duplicate(np.stack(cols, axis=1) if cols[0].size else np.zeros((0, len(cols)), np.int64))
            if dup is not None:
                first, again, count = dup
                unit = "triplet" if k == 3 else ("positive pair" if pos is not None else "negative pair")
                raise AssertionError(
                    f"{unit} {tuple(int(v) for v in np.stack(cols, axis=1)[first])} appears {count} times "
                    f"(positions {first} and {again}); pass allow_duplicates=True if the miner samples with replacement"
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


def _call(miner: Callable[..., Any], batch: MinerBatch) -> Any:
    if batch.has_ref:
        return miner(batch.embeddings, batch.labels, batch.ref_emb, batch.ref_labels)
    return miner(batch.embeddings, batch.labels)


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
    out = _call(miner, batch)
    host = check_miner_output(
        out,
        labels,
        ref_labels,
        embeddings=embeddings,
        ref_emb=ref_emb,
        allow_duplicates=allow_duplicates,
        expected_kind=expected_kind,
    )
    if condition is not None:
        dist = getattr(miner, "distance", None)
        if dist is None or not callable(dist):
            raise TypeError("condition needs miner.distance (a distance object) to compute the matrix")
        mat = np.asarray(to_numpy(dist(embeddings, ref_emb)))
        _check_condition(condition, mat, host)
    return out


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
                detail = f"(a={ta}, p={tp}, n={tn}) with mat[a, p]={mat[ta, tp]!r}, mat[a, n]={mat[ta, tn]!r}"
            else:
                ta, to = int(a[i]), int(other[i])
                detail = f"({ta}, {to}) with mat={mat[ta, to]!r}"
            raise AssertionError(
                f"the miner's condition fails for {bad.size} of {expected} {unit}(s); first: #{i} {detail}"
            )


def _reset_rng(miner: Any, seed: int) -> None:
    if hasattr(miner, "rng"):
        miner.rng = np.random.default_rng(seed)


def _same_output(x: tuple[np.ndarray, ...], y: tuple[np.ndarray, ...]) -> bool:
    return len(x) == len(y) and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(x, y))


def check_deterministic(miner: Any, batch: Any, rng_seeds: Iterable[int] = (0, 1, 2)) -> dict[int, tuple[np.ndarray, ...]]:
    """Same seed, same output: run the miner twice per seed and compare the tuples exactly (order too).

    ``miner`` is either a miner instance (if it has an ``rng`` attribute, it is replaced by
    ``numpy.random.default_rng(seed)`` before each call and restored afterwards) or a miner
    *class*, called as ``miner(rng=seed)`` to build a fresh miner per run.

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
    factory = isinstance(miner, type)
    saved = None if factory or not hasattr(miner, "rng") else miner.rng
    results: dict[int, tuple[np.ndarray, ...]] = {}
    try:
        for seed in seeds:
            runs = []
            for _ in range(2):
                m = miner(rng=seed) if factory else miner
                if not factory:
                    _reset_rng(m, seed)
                out = _call(m, b)
                host = check_miner_output(
                    out, b.labels, b.ref_labels, embeddings=b.embeddings, ref_emb=b.ref_emb, allow_duplicates=True
                )
                runs.append(host)
            if not _same_output(runs[0], runs[1]):
                raise AssertionError(
                    f"the miner is not deterministic: two runs with rng seed {seed} returned different tuples "
                    f"(lengths {[len(h) for h in runs[0]]} vs {[len(h) for h in runs[1]]}; first run "
                    f"{_preview(runs[0])}, second run {_preview(runs[1])})"
                )
            results[seed] = runs[0]
    finally:
        if saved is not None:
            miner.rng = saved
    return results


def _preview(host: Sequence[np.ndarray]) -> str:
    return "(" + ", ".join(_fmt(h) for h in host) + ")"


def _tuple_counts(host: tuple[np.ndarray, ...]) -> list[Counter]:
    if len(host) == 3:
        return [Counter(zip(*(h.tolist() for h in host)))]
    return [Counter(zip(host[0].tolist(), host[1].tolist())), Counter(zip(host[2].tolist(), host[3].tolist()))]


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
        A miner instance; if it has an ``rng`` it is reset to ``rng_seed`` before each
        backend runs (house rule: same seed, same output on every backend).
    batch : MinerBatch or tuple
        The input, on any backend; it is copied to each backend with the same float dtype
        name and int64 labels.
    backends : sequence
        Array namespaces (compat-wrapped, e.g. ``array_api_compat.array_namespace(torch.empty(0))``,
        or plain modules) or ``(namespace, device)`` pairs.

    Each output is also checked with :func:`check_miner_output` on its backend (namespace,
    device). Note that distances are computed by each backend's own kernels: inputs with
    near-ties can legitimately flip a strict comparison; the kit's grid batches produce
    *exact* ties on purpose, which a robust miner must resolve the same way everywhere.

    Returns
    -------
    dict
        backend name -> output (int64 NumPy arrays).
    """
    b = as_batch(batch)
    if len(backends) < 1:
        raise ValueError("backends must name at least one namespace")
    saved = getattr(miner, "rng", None)
    results: dict[str, tuple[np.ndarray, ...]] = {}
    first_name = None
    first_counts: list[Counter] | None = None
    try:
        for spec in backends:
            xp, device = spec if isinstance(spec, tuple) else (spec, None)
            name = getattr(xp, "__name__", repr(xp)) + ("" if device is None else f"@{device}")
            nb = b.to(xp, device)
            _reset_rng(miner, rng_seed)
            out = _call(miner, nb)
            host = check_miner_output(
                out, nb.labels, nb.ref_labels, embeddings=nb.embeddings, ref_emb=nb.ref_emb, allow_duplicates=allow_duplicates
            )
            results[name] = host
            counts = _tuple_counts(host)
            if first_counts is None:
                first_name, first_counts = name, counts
                continue
            for part, (c0, c1) in enumerate(zip(first_counts, counts)):
                if c0 != c1:
                    only0 = sorted((c0 - c1).elements())[:_MAX_SHOWN]
                    only1 = sorted((c1 - c0).elements())[:_MAX_SHOWN]
                    unit = "triplets" if len(host) == 3 else ("positive pairs" if part == 0 else "negative pairs")
                    raise AssertionError(
                        f"{unit} differ between {first_name} ({sum(c0.values())}) and {name} ({sum(c1.values())}): "
                        f"only in {first_name}: {only0}; only in {name}: {only1}"
                    )
    finally:
        if saved is not None:
            miner.rng = saved
    return results
