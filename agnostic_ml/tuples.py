"""Pairs and triplets from labels, and conversions between tuple formats.

This is PML's ``utils/loss_and_miner_utils`` written once against the array API standard.
Names, arguments and output order follow PML 2.9.0; what differs is said per function:
no B x R x R cube (all triplets are built per block of anchors in O(B*R + output)
memory), no Python loop over classes (random triplets are drawn in a few vectorised
host passes), an explicit ``rng`` instead of torch's global random state, and clear
errors for bad input.

Namespace and device
--------------------
Every function takes an optional keyword ``like`` (e.g. the embeddings). Outputs are in
``like``'s namespace and on its device when it is given; otherwise in the namespace of
the first array argument that is not host data (labels, reference labels, tuple arrays);
otherwise (all host lists / NumPy) in NumPy. Host labels are converted once. Index
outputs have the namespace's indexing dtype (int64).

Tuples
------
Triplets are ``(a, p, n)``, pairs ``(a1, p, a2, n)``: 1-D integer arrays; anchors index
the batch (``labels``), positives and negatives the reference set (``ref_labels``, the
batch itself when not given). Without a separate reference set (``ref_labels`` is None
or *is* ``labels``) an anchor is never its own positive (PML's self-pair rule). Tuples
given to the conversions are checked: an index outside its set (negative, or past the end
of ``labels`` / ``ref_labels``) raises ``ValueError`` naming the array (PML passes it on,
to fail later as an IndexError or a CUDA device-side assert).

Output budgets
--------------
The functions whose output size is known before it is built (all pairs, all triplets,
random triplets, pairs -> triplets) take ``output_budget`` (default
:data:`agnostic_ml.DEFAULT_OUTPUT_BUDGET`, 2**28 tuples; None: no limit) and raise
:class:`agnostic_ml.OutputTooLargeError` before allocating a larger output.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._budget import DEFAULT_OUTPUT_BUDGET, check_output_budget, check_output_size
from ._checks import prepare_indices, prepare_labels
from ._array_api import (
    at,
    default_floating_dtype,
    empty_indices,
    from_host_indices,
    index_dtype,
    infer_namespace,
    namespace_and_device,
    nonzero,
    nonzero_2d,
    repeat,
    take_nonneg,
    to_numpy,
)
from ._label_masks import label_masks
from ._random import as_generator
from ._typing import Array
from ._validate import is_int

__all__ = [
    "get_matches_and_diffs",
    "get_all_pairs_indices",
    "get_all_triplets_indices",
    "get_random_triplet_indices",
    "convert_to_pairs",
    "convert_to_triplets",
    "convert_to_weights",
    "logsumexp",
    "remove_self_comparisons",
    "pos_pairs_from_tuple",
    "neg_pairs_from_tuple",
    "get_anchors",
    "DEFAULT_OUTPUT_BUDGET",
]

_MINER_WAY_OUT = (
    "mine fewer tuples with a miner (e.g. BatchHardMiner, TripletMarginMiner(type_of_triplets='semihard')) "
    "and pass its indices_tuple, or use a smaller batch"
)

#: Number of triplets built per block of anchors in :func:`get_all_triplets_indices`
#: (at least one anchor per block). Bounds the intermediates to about five int64 arrays of
#: this length next to the output (2**23: 320 MiB); N = 1024 with 8 per class (7.3M
#: triplets) is one block.
TRIPLET_BLOCK = 1 << 23


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------
def _setup(labels: Any, ref_labels: Any, like: Any, *extra: Any) -> tuple[Any, Any, Array, Array, bool]:
    """(xp, device, labels, ref_labels, self_ref); ``self_ref`` is PML's ``ref_labels is labels``."""
    self_ref = ref_labels is None or ref_labels is labels
    xp, device = infer_namespace(*extra, labels, ref_labels, like=like)
    lab = prepare_labels(labels, xp=xp, device=device, name="labels")
    rlab = lab if self_ref else prepare_labels(ref_labels, xp=xp, device=device, name="ref_labels")
    return xp, device, lab, rlab, self_ref


def _check_tuple(indices_tuple: Any, xp: Any, device: Any, sizes: Sequence[int] = (3, 4)) -> tuple[Array, ...]:
    """Validate a triplet / pair tuple and return its arrays with the indexing dtype."""
    if not isinstance(indices_tuple, (tuple, list)) or len(indices_tuple) not in sizes:
        got = f"a {type(indices_tuple).__name__}"
        if isinstance(indices_tuple, (tuple, list)):
            got += f" of length {len(indices_tuple)}"
        want = " or ".join({3: "a 3-tuple (a, p, n)", 4: "a 4-tuple (a1, p, a2, n)"}[s] for s in sizes)
        raise ValueError(f"indices_tuple must be {want}, got {got}")
    arrs = tuple(prepare_indices(t, xp=xp, device=device, name=f"indices_tuple[{i}]") for i, t in enumerate(indices_tuple))
    if len(arrs) == 3 and not arrs[0].shape[0] == arrs[1].shape[0] == arrs[2].shape[0]:
        raise ValueError(
            "triplet arrays (a, p, n) must have equal lengths, got "
            f"{arrs[0].shape[0]}, {arrs[1].shape[0]}, {arrs[2].shape[0]}"
        )
    if len(arrs) == 4 and (arrs[0].shape[0] != arrs[1].shape[0] or arrs[2].shape[0] != arrs[3].shape[0]):
        raise ValueError(
            "pair arrays need len(a1) == len(p) and len(a2) == len(n), got "
            f"{arrs[0].shape[0]}, {arrs[1].shape[0]}, {arrs[2].shape[0]}, {arrs[3].shape[0]}"
        )
    return arrs


def _check_tuple_range(tup: tuple[Array, ...], n_anchor: int | None, n_ref: int | None, xp: Any, where: str) -> None:
    """``ValueError`` naming the first array of ``tup`` with an index outside its set (one host sync).

    Anchors (``a``, ``a1``, ``a2``) must lie in ``[0, n_anchor)``, the others in ``[0, n_ref)``;
    a bound of None checks only that indices are non-negative.
    """
    names = ("a", "p", "n") if len(tup) == 3 else ("a1", "p", "a2", "n")
    limits = (n_anchor, n_ref, n_ref) if len(tup) == 3 else (n_anchor, n_ref, n_anchor, n_ref)
    flags = []
    for t, lim in zip(tup, limits):
        if t.shape[0] == 0:
            continue
        bad = xp.min(t) < 0
        if lim is not None:
            bad = xp.logical_or(bad, xp.max(t) >= lim)
        flags.append(bad)
    if not flags or not bool(to_numpy(xp.any(xp.stack(flags)))):
        return
    for i, (name, t, lim) in enumerate(zip(names, tup, limits)):
        if t.shape[0] == 0:
            continue
        lo, hi = int(to_numpy(xp.min(t))), int(to_numpy(xp.max(t)))
        if lo < 0 or (lim is not None and hi >= lim):
            if name.startswith("a"):
                role, what = "anchor", "anchors index labels"
            else:
                role, what = "reference", "positives and negatives index ref_labels (labels when ref_labels is None)"
            bound = f"be in [0, {lim})" if lim is not None else "be >= 0"
            raise ValueError(
                f"{where}: indices_tuple[{i}] ({name}): {role} indices must {bound}, got values in [{lo}, {hi}]; {what}"
            )


def _labels_length(labels: Any, xp: Any, device: Any, name: str) -> int | None:
    """Length of ``labels`` (None when not given), converting host data once."""
    if labels is None:
        return None
    return int(prepare_labels(labels, xp=xp, device=device, name=name).shape[0])


def _check_t_per_anchor(t_per_anchor: Any, allow_all: bool) -> None:
    if t_per_anchor is None or (allow_all and isinstance(t_per_anchor, str) and t_per_anchor == "all"):
        return
    if not is_int(t_per_anchor) or t_per_anchor < 0:
        want = 'a non-negative int, None or "all"' if allow_all else "a non-negative int or None"
        raise ValueError(f"t_per_anchor must be {want}, got {t_per_anchor!r}")


def _exclusive_cumsum(x: Array, xp: Any) -> Array:
    return xp.cumulative_sum(x, include_initial=True)[: x.shape[0]]


# --------------------------------------------------------------------------------------
# all pairs / all triplets
# --------------------------------------------------------------------------------------
def get_matches_and_diffs(labels: Any, ref_labels: Any = None, *, like: Any = None) -> tuple[Array, Array]:
    """Boolean (B, R) matrices ``matches[i, j] = labels[i] == ref_labels[j]`` and its negation.

    The diagonal of ``matches`` is cleared only when no separate reference set is given
    (``ref_labels`` is None or *is* ``labels``), PML's self-pair rule. PML returns uint8;
    we return booleans.

    Examples
    --------
    >>> m, d = get_matches_and_diffs([0, 0, 1])
    >>> m.astype(int).tolist(), d.astype(int).tolist()
    ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    """
    xp, device, lab, rlab, self_ref = _setup(labels, ref_labels, like)
    return label_masks(lab, rlab, exclude_self=self_ref, xp=xp, device=device)


def get_all_pairs_indices(
    labels: Any, ref_labels: Any = None, *, like: Any = None, output_budget: int | None = DEFAULT_OUTPUT_BUDGET
) -> tuple[Array, Array, Array, Array]:
    """All positive and negative pairs ``(a1, p, a2, n)``, each in row-major order (as PML).

    ``(a1[k], p[k])`` enumerates ``{(i, j): labels[i] == ref_labels[j]}`` (without ``i == j``
    when there is no separate reference set) and ``(a2[k], n[k])`` the pairs with
    different labels. O(B*R) memory. There are ``B*R`` pairs in all (``B*(B-1)`` without a
    reference set); more than ``output_budget`` raise :class:`~agnostic_ml.OutputTooLargeError`
    before anything is built.

    Examples
    --------
    >>> [x.tolist() for x in get_all_pairs_indices([0, 0, 1])]
    [[0, 1], [1, 0], [0, 1, 2, 2], [2, 2, 0, 1]]
    """
    budget = check_output_budget(output_budget)
    xp, device, lab, rlab, self_ref = _setup(labels, ref_labels, like)
    b, r = lab.shape[0], rlab.shape[0]
    check_output_size(
        b * r - (b if self_ref else 0), budget, where="get_all_pairs_indices", what="pairs", bytes_per_item=16,
        way_out=_MINER_WAY_OUT,
    )
    matches, diffs = label_masks(lab, rlab, exclude_self=self_ref, xp=xp, device=device)
    a1, p = nonzero_2d(matches, xp=xp)
    a2, n = nonzero_2d(diffs, xp=xp)
    return a1, p, a2, n


def get_all_triplets_indices(
    labels: Any, ref_labels: Any = None, *, like: Any = None, output_budget: int | None = DEFAULT_OUTPUT_BUDGET
) -> tuple[Array, Array, Array]:
    """All triplets ``(a, p, n)``: ``labels[a] == ref_labels[p]``, ``labels[a] != ref_labels[n]``.

    Same set *and order* as PML (lexicographic in ``(a, p, n)``), without ``p == a`` when
    there is no separate reference set. The count is
    ``sum_a P_a * N_a`` with ``P_a``/``N_a`` the positives/negatives of anchor ``a``
    (``sum_c n_c (n_c - 1) (N - n_c)`` over classes without a reference set).

    PML builds a B x R x R cube (cubic memory, PML#645, #688). Here anchors are processed
    in blocks of about :data:`TRIPLET_BLOCK` triplets: per block, the positive pairs and
    the negatives of each anchor come from ``nonzero`` on the block's rows, and anchor
    ``a``'s cartesian product ``positives x negatives`` is laid out with a ``repeat`` of
    each positive pair ``N_a`` times plus an offset ``arange`` into the anchor's negatives.
    Peak memory is O(B*R + output). The count is known before the triplets are built: more
    than ``output_budget`` raise :class:`~agnostic_ml.OutputTooLargeError` at once (2000 rows
    of two classes ask for 2e9 triplets, 48 GB).

    Examples
    --------
    >>> [x.tolist() for x in get_all_triplets_indices([0, 0, 1])]
    [[0, 1], [1, 0], [2, 2]]
    """
    budget = check_output_budget(output_budget)
    xp, device, lab, rlab, self_ref = _setup(labels, ref_labels, like)
    matches, diffs = label_masks(lab, rlab, exclude_self=self_ref, xp=xp, device=device)
    return _all_triplets_from_masks(matches, diffs, xp, device, budget=budget)


def _all_triplets_from_masks(
    matches: Array, diffs: Array, xp: Any, device: Any, *, budget: int | None = DEFAULT_OUTPUT_BUDGET,
    where: str = "get_all_triplets_indices", way_out: str = _MINER_WAY_OUT,
) -> tuple[Array, Array, Array]:
    idt = index_dtype(xp, device)
    n_pos = xp.sum(xp.astype(matches, idt), axis=1)
    n_neg = xp.sum(xp.astype(diffs, idt), axis=1)
    counts = to_numpy(n_pos * n_neg).astype(np.int64)  # one sync: the output size
    check_output_size(int(counts.sum()), budget, where=where, what="triplets", way_out=way_out)
    if counts.sum() == 0:
        return empty_indices(3, xp=xp, device=device)
    blocks = [(s, e, int(counts[s:e].sum())) for s, e in _anchor_blocks(counts, TRIPLET_BLOCK)]
    blocks = [blk for blk in blocks if blk[2] > 0]
    if len(blocks) == 1:
        s, e, total = blocks[0]
        return _block_triplets(matches[s:e, :], diffs[s:e, :], n_neg[s:e], s, total, xp, device)
    # Several blocks: write each into preallocated outputs (a concat would double the peak).
    out = [xp.empty((int(counts.sum()),), dtype=idt, device=device) for _ in range(3)]
    pos = 0
    for s, e, total in blocks:
        blk = _block_triplets(matches[s:e, :], diffs[s:e, :], n_neg[s:e], s, total, xp, device)
        out = [at(o, slice(pos, pos + total)).set(b) for o, b in zip(out, blk)]
        pos += total
    return out[0], out[1], out[2]


def _anchor_blocks(counts: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split anchors into consecutive blocks of at most ``budget`` triplets (>= 1 anchor each)."""
    cum = np.cumsum(counts)
    blocks, s, done = [], 0, 0
    while s < counts.shape[0]:
        e = max(int(np.searchsorted(cum, done + budget, side="right")), s + 1)
        blocks.append((s, e))
        done = int(cum[e - 1])
        s = e
    return blocks


def _block_triplets(
    matches: Array, diffs: Array, n_neg: Array, offset: int, total: int, xp: Any, device: Any
) -> tuple[Array, Array, Array]:
    idt = index_dtype(xp, device)
    ai, pj = nonzero_2d(matches, xp=xp)  # positive pairs, anchor-major
    _, nk = nonzero_2d(diffs, xp=xp)  # negatives, anchor-major: anchor a's are nk[neg_start[a]:][:n_neg[a]]
    rep = xp.take(n_neg, ai)  # each positive pair repeats once per negative of its anchor
    shift = xp.take(_exclusive_cumsum(n_neg, xp), ai) - _exclusive_cumsum(rep, xp)
    n_idx = repeat(shift, rep, total=total, xp=xp) + xp.arange(total, dtype=idt, device=device)
    a = repeat(ai + offset, rep, total=total, xp=xp)
    p = repeat(pj, rep, total=total, xp=xp)
    return a, p, take_nonneg(nk, n_idx, xp=xp)


# --------------------------------------------------------------------------------------
# random triplets
# --------------------------------------------------------------------------------------
def get_random_triplet_indices(
    labels: Any,
    ref_labels: Any = None,
    t_per_anchor: int | None = None,
    weights: Any = None,
    rng: np.random.Generator | int | None = None,
    *,
    like: Any = None,
    output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
) -> tuple[Array, Array, Array]:
    """Random triplets: per anchor, ``t_per_anchor`` positives and one negative each.

    PML semantics (``get_random_triplet_indices``):

    - an anchor ``a`` of class ``c`` gets ``k = t_per_anchor`` triplets, by default
      ``k = |{j : ref_labels[j] == c}|`` (the class size in the reference set, which
      includes the anchor itself when there is no separate reference set, as in PML);
    - each positive is drawn uniformly *with replacement* among the same-label
      references other than the anchor itself;
    - each negative is drawn uniformly among references of another label, or, when
      ``weights`` (shape (B, R), non-negative) is given, with probability
      ``weights[a, n] / sum_{n' negative} weights[a, n']``;
    - anchors of a class with fewer than 2 members in the reference set (1 with a separate
      reference set) or without any negative are skipped, and so are anchors whose weight
      row over their negatives sums to 0.

    Triplets come grouped by anchor label (ascending), then anchor index, as in PML.

    Differences from PML: randomness comes only from ``rng`` (a ``numpy.random.Generator``,
    an int seed or None), never from torch's global state; drawing happens on the host in
    float64 from host copies of ``labels`` and ``weights``, so the same seed gives the same
    triplets on every backend and device. There is no loop over classes (PML's is
    O(N^3) with weights): positives and uniform negatives are one integer draw each, and
    weighted negatives are an inverse-CDF draw on each anchor's cumulative weights (a
    vectorised binary search; a zero-weight negative can never be drawn). More than
    ``output_budget`` triplets in all raise :class:`~agnostic_ml.OutputTooLargeError` before
    anything is drawn.

    Examples
    --------
    >>> a, p, n = get_random_triplet_indices([0, 0, 1, 1], rng=0)
    >>> len(a), all(a != p)
    (8, True)
    """
    _check_t_per_anchor(t_per_anchor, allow_all=False)
    budget = check_output_budget(output_budget)
    xp, device, lab, rlab, self_ref = _setup(labels, ref_labels, like, weights)
    gen = as_generator(rng)
    la = to_numpy(lab)
    lr = la if self_ref else to_numpy(rlab)
    b, r = la.shape[0], lr.shape[0]
    w = None
    if weights is not None:
        w = np.asarray(to_numpy(weights) if not isinstance(weights, (list, tuple)) else weights, dtype=np.float64)
        if w.shape != (b, r):
            raise ValueError(f"weights must have shape (len(labels), len(ref_labels)) = {(b, r)}, got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative (set NaN/inf entries to 0 first)")
    a, p, n = _random_triplets_host(la, lr, self_ref, t_per_anchor, w, gen, budget)
    return tuple(from_host_indices(x, xp=xp, device=device) for x in (a, p, n))  # type: ignore[return-value]


def _random_triplets_host(
    la: np.ndarray,
    lr: np.ndarray,
    self_ref: bool,
    t_per_anchor: int | None,
    w: np.ndarray | None,
    gen: np.random.Generator,
    budget: int | None = DEFAULT_OUTPUT_BUDGET,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b, r = la.shape[0], lr.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    if b == 0 or r == 0:
        return empty, empty, empty
    _, codes = np.unique(np.concatenate([la, lr]), return_inverse=True)
    codes = codes.reshape(-1)
    ca, cr = codes[:b], codes[b:]
    n_classes = int(codes.max()) + 1
    size = np.bincount(cr, minlength=n_classes)  # class sizes in the reference set
    order = np.argsort(cr, kind="stable")  # references grouped by class, index order inside
    start = np.cumsum(size) - size
    n_pos = size[ca] - (1 if self_ref else 0)
    n_neg = r - size[ca]
    valid = (n_pos >= 1) & (n_neg >= 1)
    anchors = np.argsort(ca, kind="stable")  # PML order: by label, then index
    anchors = anchors[valid[anchors]]
    rows = None
    if w is not None and anchors.size:
        cdf = w[anchors]  # a copy: the caller's weights are not modified
        cdf[cr[None, :] == ca[anchors][:, None]] = 0.0  # keep the anchor's negatives only
        np.cumsum(cdf, axis=1, out=cdf)
        keep = cdf[:, -1] > 0
        anchors, cdf = anchors[keep], cdf[keep]
        rows = np.arange(anchors.size)
    k = size[ca[anchors]] if t_per_anchor is None else np.full(anchors.size, int(t_per_anchor))
    check_output_size(
        int(k.sum()), budget, where="get_random_triplet_indices", what="triplets",
        way_out="use a smaller t_per_anchor or a smaller batch",
    )
    a = np.repeat(anchors, k)
    if a.size == 0:
        return empty, empty, empty
    c = ca[a]
    # positives: the u-th same-class reference, skipping the anchor itself
    u = gen.integers(0, n_pos[a])
    if self_ref:
        rank = np.empty(r, dtype=np.int64)
        rank[order] = np.arange(r) - start[cr[order]]
        u = u + (u >= rank[a])
    p = order[start[c] + u]
    if w is None:
        # negatives: the v-th reference in class order, skipping the anchor's class block
        v = gen.integers(0, n_neg[a])
        n = order[v + (v >= start[c]) * size[c]]
    else:
        n = _inverse_cdf(cdf, np.repeat(rows, k), gen)
    return a.astype(np.int64), p.astype(np.int64), n.astype(np.int64)


def _inverse_cdf(cdf: np.ndarray, row: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """For each ``row[t]``, the first column ``j`` with ``cdf[row[t], j] > x_t``, ``x_t ~ U[0, total)``.

    A column with zero weight has ``cdf[j] == cdf[j - 1]`` and can never be the first one to
    exceed ``x``; clamping ``x`` below the row total keeps the draw inside the row.
    """
    m = cdf.shape[1]
    total = cdf[row, -1]
    x = np.minimum(gen.random(row.shape[0]) * total, np.nextafter(total, 0))
    flat = cdf.reshape(-1)
    base = row * m
    lo = np.zeros(row.shape[0], dtype=np.int64)
    hi = np.full(row.shape[0], m - 1, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(max(m, 2)))) + 1):
        mid = (lo + hi) // 2
        right = flat[base + mid] <= x
        lo = np.where(right, mid + 1, lo)
        hi = np.where(right, hi, mid)
    return lo


# --------------------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------------------
def convert_to_pairs(
    indices_tuple: Any,
    labels: Any,
    ref_labels: Any = None,
    *,
    like: Any = None,
    output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
) -> tuple[Array, Array, Array, Array]:
    """Any tuple as pairs ``(a1, p, a2, n)``.

    None gives all pairs (:func:`get_all_pairs_indices`, with ``output_budget``); pairs pass
    through; triplets ``(a, p, n)`` become ``(a, p, a, n)`` (which can repeat a pair, as in
    PML). A given tuple is checked: anchors in ``[0, len(labels))``, the others in
    ``[0, len(ref_labels))`` (``labels`` when ``ref_labels`` is None; only ``>= 0`` when
    ``labels`` is None), else ``ValueError`` naming the array (one host sync).

    Examples
    --------
    >>> [x.tolist() for x in convert_to_pairs(([0], [1], [2]), [0, 0, 1])]
    [[0], [1], [0], [2]]
    """
    if indices_tuple is None:
        return get_all_pairs_indices(labels, ref_labels, like=like, output_budget=output_budget)
    xp, device = infer_namespace(*_arrays_of(indices_tuple), labels, ref_labels, like=like)
    tup = _check_tuple(indices_tuple, xp, device)
    _check_given_tuple(tup, labels, ref_labels, xp, device, "convert_to_pairs")
    if len(tup) == 4:
        return tup  # type: ignore[return-value]
    a, p, n = tup
    return a, p, a, n


def _check_given_tuple(tup: tuple[Array, ...], labels: Any, ref_labels: Any, xp: Any, device: Any, where: str) -> None:
    n_anchor = _labels_length(labels, xp, device, "labels")
    n_ref = n_anchor if ref_labels is None or ref_labels is labels else _labels_length(ref_labels, xp, device, "ref_labels")
    _check_tuple_range(tup, n_anchor, n_ref, xp, where)


def _arrays_of(indices_tuple: Any) -> tuple[Any, ...]:
    return tuple(indices_tuple) if isinstance(indices_tuple, (tuple, list)) else ()


def convert_to_triplets(
    indices_tuple: Any,
    labels: Any,
    ref_labels: Any = None,
    t_per_anchor: int | str | None = 100,
    rng: np.random.Generator | int | None = None,
    *,
    like: Any = None,
    output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
) -> tuple[Array, Array, Array]:
    """Any tuple as triplets ``(a, p, n)``.

    None gives all triplets when ``t_per_anchor == "all"``, otherwise random triplets
    (:func:`get_random_triplet_indices` with ``t_per_anchor`` and ``rng``). Triplets pass
    through. Pairs become every (positive pair, negative pair) combination that shares the
    anchor index, in PML's order (positive pairs in input order, then each one's negative
    pairs in input order). PML compares every positive with every negative pair (a P x N
    matrix); here negative pairs are sorted by anchor once and each positive pair's block
    is found with ``searchsorted``: O((P + N) log N + output).

    A given tuple is range-checked as in :func:`convert_to_pairs`. Every path checks its
    output size against ``output_budget`` before building it
    (:class:`~agnostic_ml.OutputTooLargeError`).

    Examples
    --------
    >>> [x.tolist() for x in convert_to_triplets(([0, 1], [1, 0], [0, 0], [2, 3]), [0, 0, 1, 2])]
    [[0, 0], [1, 1], [2, 3]]
    """
    _check_t_per_anchor(t_per_anchor, allow_all=True)
    budget = check_output_budget(output_budget)
    if indices_tuple is None:
        if t_per_anchor == "all":
            return get_all_triplets_indices(labels, ref_labels, like=like, output_budget=budget)
        return get_random_triplet_indices(
            labels, ref_labels, t_per_anchor=t_per_anchor, rng=rng, like=like, output_budget=budget
        )
    xp, device = infer_namespace(*_arrays_of(indices_tuple), labels, ref_labels, like=like)
    tup = _check_tuple(indices_tuple, xp, device)
    _check_given_tuple(tup, labels, ref_labels, xp, device, "convert_to_triplets")
    if len(tup) == 3:
        return tup  # type: ignore[return-value]
    return _pairs_to_triplets(*tup, xp=xp, device=device, budget=budget)


def _pairs_to_triplets(
    a1: Array, p: Array, a2: Array, n: Array, *, xp: Any, device: Any, budget: int | None = DEFAULT_OUTPUT_BUDGET
) -> tuple[Array, Array, Array]:
    idt = index_dtype(xp, device)
    order = xp.argsort(a2, stable=True)
    a2s = xp.take(a2, order)
    ns = xp.take(n, order)
    lo = xp.searchsorted(a2s, a1, side="left")
    rep = xp.astype(xp.searchsorted(a2s, a1, side="right") - lo, idt)
    total = int(to_numpy(xp.sum(rep))) if rep.shape[0] else 0
    check_output_size(
        total, budget, where="convert_to_triplets", what="triplets (pairs combined per anchor)",
        way_out="mine fewer pairs, or use a smaller batch",
    )
    if total == 0:
        return empty_indices(3, xp=xp, device=device)
    shift = xp.astype(lo, idt) - _exclusive_cumsum(rep, xp)
    n_idx = repeat(shift, rep, total=total, xp=xp) + xp.arange(total, dtype=idt, device=device)
    return repeat(a1, rep, total=total, xp=xp), repeat(p, rep, total=total, xp=xp), take_nonneg(ns, n_idx, xp=xp)


def convert_to_weights(
    indices_tuple: Any, labels: Any, dtype: Any = None, using_ref: bool = False, *, like: Any = None
) -> Array:
    """Per-sample weights from how often each batch index occurs in a tuple.

    ``w[i] = count(i) / max_j count(j)`` over all indices of the tuple, or over its
    anchors only when ``using_ref`` (then positives/negatives index a reference set).
    Every weight is 1 when the tuple is None or empty. ``dtype`` defaults to ``like``'s
    dtype when it is floating, else the namespace's default floating dtype.

    Counting is a sort and two ``searchsorted`` calls (fixed shapes, no bincount needed).
    Indices outside ``[0, len(labels))`` raise ``ValueError`` (PML raises IndexError).

    Examples
    --------
    >>> convert_to_weights(([0, 0], [1, 1], [2, 3]), [0, 0, 1, 1, 2]).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.0]
    """
    xp, device = infer_namespace(*_arrays_of(indices_tuple), labels, like=like)
    lab = prepare_labels(labels, xp=xp, device=device, name="labels")
    if dtype is None:
        if like is not None and hasattr(like, "dtype") and xp.isdtype(like.dtype, "real floating"):
            dtype = like.dtype
        else:
            dtype = default_floating_dtype(xp, device)
    b = lab.shape[0]
    if indices_tuple is None:
        return xp.ones((b,), dtype=dtype, device=device)
    tup = _check_tuple(indices_tuple, xp, device)
    if all(t.shape[0] == 0 for t in tup):
        return xp.ones((b,), dtype=dtype, device=device)
    idx = _anchors_of(tup, xp) if using_ref else xp.concat(list(tup))
    if idx.shape[0] == 0:
        return xp.zeros((b,), dtype=dtype, device=device)
    idt = index_dtype(xp, device)
    srt = xp.sort(idx)
    if bool(to_numpy(xp.logical_or(srt[0] < 0, srt[-1] >= b))):
        raise ValueError(f"indices_tuple holds indices outside [0, {b}) (len(labels) = {b})")
    ids = xp.arange(b, dtype=idt, device=device)
    counts = xp.searchsorted(srt, ids, side="right") - xp.searchsorted(srt, ids, side="left")
    counts = xp.astype(counts, dtype)
    return counts / xp.max(counts)


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def logsumexp(x: Array, keep_mask: Array | None = None, add_one: bool = True, dim: int = 1) -> Array:
    """Masked ``log(sum(exp(x)))`` along ``dim`` of a 2-D array, keeping that dimension.

    ``out = log(1 + sum_{j kept} exp(x_j))`` with ``add_one`` (PML's default: a zero column
    is appended), else ``log(sum_{j kept} exp(x_j))``. Masked-out entries count as
    ``-inf`` (they add exactly 0); rows (or columns) with nothing kept give 0. Computed as
    ``m + log(sum(exp(x - m)))`` with ``m`` the maximum; differentiable on torch, and the
    gradient of a row with nothing kept is 0 (not NaN).

    Examples
    --------
    >>> import numpy as np
    >>> logsumexp(np.zeros((1, 2)), np.asarray([[True, False]])).round(4).tolist()
    [[0.6931]]
    """
    xp, device = namespace_and_device(x, keep_mask)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D, got shape {tuple(x.shape)}")
    if dim not in (0, 1, -1, -2):
        raise ValueError(f"dim must be 0 or 1 for a 2-D array, got {dim}")
    dim = dim % 2
    has = None
    if keep_mask is not None:
        if tuple(keep_mask.shape) != tuple(x.shape):
            raise ValueError(f"keep_mask must have x's shape {tuple(x.shape)}, got {tuple(keep_mask.shape)}")
        # Masked entries are -inf (exp gives exactly 0): finfo.min would give the same sums but
        # sends exp down its slow path for huge negative inputs (3-5x slower per element, torch
        # and NumPy). Rows with nothing kept get a finite stand-in max and sum, so that no inf or
        # NaN appears in the value or the gradient.
        x = xp.where(keep_mask, x, xp.asarray(-xp.inf, dtype=x.dtype, device=device))
        has = xp.any(keep_mask, axis=dim, keepdims=True)
    if add_one:
        shape = (x.shape[0], 1) if dim == 1 else (1, x.shape[1])
        x = xp.concat([x, xp.zeros(shape, dtype=x.dtype, device=device)], axis=dim)
    if x.shape[dim] == 0:
        shape = (x.shape[0], 1) if dim == 1 else (1, x.shape[1])
        return xp.zeros(shape, dtype=x.dtype, device=device)
    m = xp.max(x, axis=dim, keepdims=True)
    if has is not None:
        m = xp.where(has, m, xp.zeros_like(m))
        total = xp.sum(xp.exp(x - m), axis=dim, keepdims=True)
        total = xp.where(has, total, xp.ones_like(total))
        return xp.where(has, m + xp.log(total), xp.zeros_like(m))
    return m + xp.log(xp.sum(xp.exp(x - m), axis=dim, keepdims=True))


def remove_self_comparisons(
    indices_tuple: Any,
    curr_batch_idx: Any,
    ref_size: int,
    ref_is_subset: bool = False,
    *,
    like: Any = None,
) -> tuple[Array, ...]:
    """Drop the tuples that compare a batch row with its own copy in a memory bank.

    For CrossBatchMemory: row ``k`` of the current batch was written at memory slot
    ``curr_batch_idx[k]``. A positive pair / triplet ``(a, p)`` is a self-comparison when
    ``p`` is one of those slots and ``curr_batch_idx[k] == p`` with ``k == a`` (with
    ``ref_is_subset``, the roles of ``a`` and ``p`` are swapped). Triplets lose the whole
    triplet; pairs lose only positive pairs.

    PML computes the batch position as ``p - s`` wrapped by ``ref_size`` (``s`` the first
    slot), which misses self-comparisons when the batch has a single row (PML treats
    ``s == e`` as a wrap-around). Here the position is looked up in ``curr_batch_idx``
    (sort + ``searchsorted``), which is exact for any slot layout; ``ref_size`` is only
    kept for PML compatibility.

    Examples
    --------
    Batch rows 0 and 1 were written at slots 4 and 5 of a 6-slot memory:

    >>> t = ([0, 0, 1], [4, 5, 5], [2, 3, 1])
    >>> [x.tolist() for x in remove_self_comparisons(tuple(np.asarray(x) for x in t), [4, 5], 6)]
    [[0], [5], [3]]
    """
    xp, device = infer_namespace(*_arrays_of(indices_tuple), curr_batch_idx, like=like)
    tup = _check_tuple(indices_tuple, xp, device)
    slots = prepare_indices(curr_batch_idx, xp=xp, device=device, name="curr_batch_idx")
    if slots.shape[0] == 0:
        raise ValueError("curr_batch_idx must not be empty")
    if not is_int(ref_size) or ref_size < slots.shape[0]:
        raise ValueError(f"ref_size must be an int >= len(curr_batch_idx) = {slots.shape[0]}, got {ref_size!r}")
    a, p = tup[0], tup[1]
    if ref_is_subset:
        a, p = p, a
    order = xp.argsort(slots, stable=True)
    srt = xp.take(slots, order)
    pos = xp.clip(xp.searchsorted(srt, p), 0, slots.shape[0] - 1)
    in_batch = xp.take(srt, pos) == p
    is_self = xp.logical_and(in_batch, xp.take(order, pos) == a)
    (keep,) = nonzero(xp.logical_not(is_self), xp=xp)
    if len(tup) == 3:
        return tuple(xp.take(t, keep) for t in tup)
    return xp.take(tup[0], keep), xp.take(tup[1], keep), tup[2], tup[3]


def _anchors_of(tup: tuple[Array, ...], xp: Any) -> Array:
    return tup[0] if len(tup) == 3 else xp.concat([tup[0], tup[2]])


def get_anchors(indices_tuple: tuple[Array, ...]) -> Array:
    """The anchors of a tuple: ``a`` of triplets, ``concat(a1, a2)`` of pairs.

    Examples
    --------
    >>> get_anchors((np.asarray([0, 1]), np.asarray([1, 0]), np.asarray([2]), np.asarray([3]))).tolist()
    [0, 1, 2]
    """
    xp, device = infer_namespace(*_arrays_of(indices_tuple))
    return _anchors_of(_check_tuple(indices_tuple, xp, device), xp)


def pos_pairs_from_tuple(indices_tuple: tuple[Array, ...]) -> tuple[Array, ...]:
    """``indices_tuple[:2]``: the positive pairs ``(a1, p)`` of pairs, ``(a, p)`` of triplets.

    Examples
    --------
    >>> pos_pairs_from_tuple(([0], [1], [2]))
    ([0], [1])
    """
    return tuple(indices_tuple[:2])


def neg_pairs_from_tuple(indices_tuple: tuple[Array, ...]) -> tuple[Array, ...]:
    """``indices_tuple[2:]``: the negative pairs ``(a2, n)`` of pairs (PML's slice).

    Examples
    --------
    >>> neg_pairs_from_tuple(([0], [1], [0, 1], [2, 2]))
    ([0, 1], [2, 2])
    """
    return tuple(indices_tuple[2:])
