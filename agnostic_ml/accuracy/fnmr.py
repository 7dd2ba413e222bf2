"""OML's ``fnmr@fmr`` over all (query, reference) pairs, exactly, in bounded memory.

OML (``calc_fnmr_at_fmr``) takes the ``fmr``-th percentile of *all* negative (different
label) distances as the threshold and reports the fraction of positive (same label)
distances at or above it; it materialises the whole distance matrix for that (OML#251
discusses its memory). Here the matrix is streamed over query blocks, and the exact
percentile is found by selection in passes over the blocks:

1. if there are at most ``_COLLECT_CAP`` negative pairs, they are collected (host) and
   sorted;
2. otherwise a pass finds their minimum and maximum; then each pass counts, for every
   order statistic still needed, how many negatives fall at or below ``_BINS`` values
   spread over the interval known to hold it, and narrows the interval to one bin, until
   the bin holds at most ``_COLLECT_CAP`` negatives (then they are collected and the order
   statistic read off) or cannot be split further (all its values are equal);
3. a last pass counts, per query, the positives at or above each threshold.

Each pass recomputes the distance blocks; the result equals ``numpy.percentile`` followed by
OML's comparison (thresholds cast to the distances' dtype, as OML does with ``.to(pos_dist)``).
Similarities are handled as negated distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .._array_api import no_grad, sort_values, to_numpy
from ._backend_extras import device_of
from ._blocks import itemsize
from ._percentile import lerp, percentile_points
from .ranking import ChunkContext, full_row_blocks

__all__ = [
    "FnmrPass",
    "fnmr_counts",
    "merge_parts",
    "run_fnmr_pass",
]

Array = Any

#: Largest number of negative distances collected on the host at once.
_COLLECT_CAP = 1 << 22
#: Bins per refinement pass.
_BINS = 1024


@dataclass
class FnmrPass:
    """One pass over the query blocks.

    kind : "collect" (all negatives), "minmax", "hist" (counts at ``edges``), "range"
    (negatives within ``(a, b]`` intervals), "count" (per-query positives ``>= thresholds``)
    """

    kind: str
    edges: list[np.ndarray] | None = None
    intervals: list[tuple[float, float]] | None = None
    thresholds: np.ndarray | None = None


def run_fnmr_pass(query: Array, offset: int, ctx: ChunkContext, job: FnmrPass, xp: Any) -> Any:
    """Run one :class:`FnmrPass` for queries ``[offset, offset + len(query))``; returns a partial result."""
    device = device_of(query)
    rel = ctx.relevance.bind(xp, device, offset, offset + query.shape[0])
    item = itemsize(query, xp)
    inf = math.inf
    parts: list[Any] = []
    with no_grad(xp):
        for s, e, key, relf, is_self in full_row_blocks(query, offset, ctx, rel, 5 * item + 16, xp):
            neg = xp.logical_not(relf)
            if is_self is not None:
                neg = xp.logical_and(neg, xp.logical_not(is_self))
            if job.kind == "count":
                counts = []
                for t in job.thresholds:
                    tt = xp.asarray(t, dtype=key.dtype, device=device)
                    hit = xp.logical_and(relf, key >= tt)
                    counts.append(to_numpy(xp.sum(xp.astype(hit, xp.int64), axis=1)))
                parts.append(np.stack(counts, axis=1) if counts else np.zeros((e - s, 0), dtype=np.int64))
                continue
            big = xp.asarray(inf, dtype=key.dtype, device=device)
            if job.kind == "minmax":
                lo = xp.min(xp.where(neg, key, big))
                hi = xp.max(xp.where(neg, key, -big))
                parts.append((float(to_numpy(lo)), float(to_numpy(hi))))
                continue
            flat = sort_values(xp.reshape(xp.where(neg, key, big), (-1,)), xp=xp)
            if job.kind == "collect":
                n_neg = int(to_numpy(xp.sum(xp.astype(neg, xp.int64))))
                parts.append(np.asarray(to_numpy(flat[:n_neg])))
            elif job.kind == "hist":
                out = []
                for ed in job.edges:
                    edv = xp.asarray(ed, dtype=key.dtype, device=device)
                    out.append(np.asarray(to_numpy(xp.searchsorted(flat, edv, side="right")), dtype=np.int64))
                parts.append(out)
            elif job.kind == "range":
                out = []
                for a, b in job.intervals:
                    ab = xp.asarray(np.asarray([a, b]), dtype=key.dtype, device=device)
                    i0, i1 = (int(v) for v in to_numpy(xp.searchsorted(flat, ab, side="right")))
                    out.append(np.asarray(to_numpy(flat[i0:i1])))
                parts.append(out)
            else:  # pragma: no cover - internal misuse
                raise ValueError(f"unknown pass {job.kind!r}")
    return merge_parts(job, parts)


def merge_parts(job: FnmrPass, parts: list[Any]) -> Any:
    """Combine the partial results of one pass, per block or per Dask chunk (in query order)."""
    if job.kind == "count":
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, len(job.thresholds)), dtype=np.int64)
    if job.kind == "minmax":
        if not parts:
            return (math.inf, -math.inf)
        return (min(p[0] for p in parts), max(p[1] for p in parts))
    if job.kind == "collect":
        return np.concatenate(parts) if parts else np.zeros(0)
    if job.kind == "hist":
        if not parts:
            return [np.zeros(len(ed), dtype=np.int64) for ed in job.edges]
        return [sum(p[t] for p in parts) for t in range(len(job.edges))]
    if job.kind == "range":
        if not parts:
            return [np.zeros(0) for _ in job.intervals]
        return [np.concatenate([p[t] for p in parts]) for t in range(len(job.intervals))]
    raise ValueError(job.kind)  # pragma: no cover


def _order_statistics(
    ranks: list[int], n_neg: int, run: Callable[[FnmrPass], Any], key_dtype: np.dtype
) -> dict[int, float]:
    """Exact ``sorted(negatives)[r]`` for every ``r`` in ``ranks`` (see the module docstring)."""
    want = sorted(set(ranks))
    if n_neg <= _COLLECT_CAP:
        vals = np.sort(run(FnmrPass("collect")))
        return {r: float(vals[r]) for r in want}
    mn, mx = run(FnmrPass("minmax"))
    below = float(np.nextafter(key_dtype.type(mn), key_dtype.type(-np.inf)))
    # interval (a, b] known to hold sorted[r]; c_a = number of negatives <= a
    state = {r: (below, float(mx), 0, n_neg) for r in want}
    found: dict[int, float] = {}
    for _ in range(200):
        todo = [r for r in want if r not in found]
        if not todo:
            break
        small = [r for r in todo if state[r][3] - state[r][2] <= _COLLECT_CAP]
        large = [r for r in todo if r not in small]
        if small:
            intervals = sorted({(state[r][0], state[r][1]) for r in small})
            got = run(FnmrPass("range", intervals=intervals))
            by_iv = {iv: np.sort(v) for iv, v in zip(intervals, got)}
            for r in small:
                a, b, c_a, _ = state[r]
                found[r] = float(by_iv[(a, b)][r - c_a])
        if large:
            ivs = sorted({state[r][:3] for r in large})
            edges = []
            for a, b, _ in ivs:
                ed = np.unique(np.linspace(a, b, _BINS + 1).astype(key_dtype))
                ed = ed[(ed >= key_dtype.type(a)) & (ed <= key_dtype.type(b))]
                ed = np.unique(np.concatenate([np.asarray([a, b], dtype=key_dtype), ed]))
                edges.append(ed)
            counts = run(FnmrPass("hist", edges=edges))
            by_iv = {iv: (ed, c) for iv, ed, c in zip(ivs, edges, counts)}
            for r in large:
                a, b, c_a, _ = state[r]
                ed, c = by_iv[(a, b, c_a)]
                i = int(np.searchsorted(c, r + 1, side="left"))  # first edge with count > r
                i = max(i, 1)
                lo, hi = float(ed[i - 1]), float(ed[i])
                if np.nextafter(key_dtype.type(lo), key_dtype.type(np.inf)) >= key_dtype.type(hi):
                    found[r] = hi  # (lo, hi] holds a single representable value
                else:
                    state[r] = (lo, hi, int(c[i - 1]), int(c[i]))
    else:  # pragma: no cover - the value interval shrinks by _BINS each pass
        raise RuntimeError("fnmr@fmr percentile selection did not converge")
    return found


def fnmr_counts(
    fmr_vals: Sequence[float],
    n_neg: int,
    run: Callable[[FnmrPass], Any],
    key_dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds (key space) and per-query counts of positives ``>=`` each threshold.

    Returns ``(thresholds (F,), counts (Q, F))``; ``run`` executes a pass over all queries.
    """
    targets = [percentile_points(v, n_neg) for v in fmr_vals]
    stats = _order_statistics([t for lo, hi, _ in targets for t in (lo, hi)], n_neg, run, key_dtype)
    thr = np.asarray([lerp(stats[lo], stats[hi], f) for lo, hi, f in targets], dtype=np.float64)
    thr_cast = thr.astype(key_dtype)
    counts = run(FnmrPass("count", thresholds=thr_cast))
    return thr_cast, counts
