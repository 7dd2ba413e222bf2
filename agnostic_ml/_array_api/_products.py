"""Gram products: ``q @ r.T``, Euclidean distance matrices, kNN ranking scores, self masking.

These are the hot loops of the distances and of exact kNN; their fast paths are backed
by measurements (``benchmarks/``), quoted in each docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import array_api_compat as aac

from .._typing import Array, Namespace
from ._creation import eye_mask
from ._norms import safe_sqrt
from ._namespace import index_dtype, is_torch, numpy_like, requires_grad


def gram(q: Array, r: Array, *, xp: Namespace) -> Array:
    """``q @ r.T``.

    NumPy hands ``q @ q.T`` (one buffer, transposed) to BLAS ``syrk``, which OpenBLAS ran
    ~1.7-2x slower than ``gemm`` for D = 128 here (N = 1024: 10.4 vs 6.0 ms; N = 4096:
    183 vs 89 ms) but ~20% faster at D >= 256 (see ``euclidean_matrix``). For narrow self
    products a contiguous copy of ``q.T`` (O(N D), negligible) makes NumPy take ``gemm``.
    Every other namespace: ``xp.matmul(q, matrix_transpose(r))``.
    """
    if aac.is_numpy_namespace(xp) and r is q and q.ndim == 2 and q.shape[1] < 256:
        return np.matmul(q, np.ascontiguousarray(q.T))
    return xp.matmul(q, xp.matrix_transpose(r))


def euclidean_matrix(q: Array, r: Array, *, xp: Namespace) -> Array:
    """Euclidean distance matrix by the Gram identity ``|q|^2 + |r|^2 - 2 q.r``.

    ``r is q`` marks the self matrix, whose diagonal is set to exact zeros (rounding would
    otherwise leave ~1e-4 after the square root), except for a non-finite row, whose
    diagonal entry is NaN like the rest of its row (the zeros are ``|q|^2 - |q|^2``). The
    result is clamped at 0 before the square root, whose gradient is 0 rather than NaN
    where the distance is 0; NaN and inf are never clamped into finite distances.

    Fast paths (the generic expression makes ~8 passes over the N x M matrix, which at
    D = 128 costs as much as the GEMM itself): NumPy/CuPy make one GEMM of augmented
    operands, ``[-2q, |q|^2, 1] @ [r, 1, |r|^2]^T`` (as ``torch.cdist`` does), which yields
    the squared distances directly, then clamp and take the square root in place (2
    passes; on NumPy in cached row blocks over a few threads, see ``_gram_epilogue``).
    NumPy's self matrix at D >= 256 uses ``q @ q.T`` instead, which NumPy runs as a
    symmetric rank-k update. Measured (benchmarks/distances.py, OpenBLAS,
    1 thread, N = 2048): D = 128, 1.3x a bare GEMM instead of 2.3x for the previous
    ``g *= -2; g += |q|^2; g += |r|^2`` sequence on ``q @ q.T``; D = 512, 1.2x. Torch fuses
    ``-2 q.r + |r|^2`` into ``addmm``, then (without autograd) adds ``|q|^2``, clamps and
    takes the square root in place.
    """
    same = r is q
    device = aac.device(q)
    qq = xp.sum(q * q, axis=1)
    rr = qq if same else xp.sum(r * r, axis=1)
    n = q.shape[0]
    mod = numpy_like(xp)
    if mod is not None and q.ndim == 2:
        if same and mod is np and q.shape[1] >= 256:
            # NumPy runs q @ q.T as a symmetric rank-k update (syrk), which OpenBLAS makes
            # ~20 % faster than the augmented GEMM at D = 512 (but ~50 % slower at D = 128).
            g = np.matmul(q, q.T)
            _gram_epilogue(g, mod, qq, rr)
        else:
            g = mod.matmul(_augmented(q, qq, mod, left=True), _augmented(r, rr, mod, left=False).T)
            _gram_epilogue(g, mod)
        if same:
            diag = mod.arange(n)
            g[diag, diag] = qq - qq  # 0, or NaN on a non-finite row
        return g
    if is_torch(xp):
        import torch

        # (The augmented GEMM measured no faster here: torch's in-place passes are threaded.)
        g = torch.addmm(rr[None, :], q, r.T, beta=1, alpha=-2)
        if not requires_grad(q, r):
            g.add_(qq[:, None]).clamp_(min=0).sqrt_()
            if same:
                g.diagonal().copy_(qq - qq)  # 0, or NaN on a non-finite row
            return g
        sq = g + qq[:, None]
    else:
        sq = qq[:, None] + rr[None, :] - 2 * xp.matmul(q, xp.matrix_transpose(r))
    if same and n > 0:
        sq = xp.where(eye_mask(n, n, xp=xp, device=device), xp.expand_dims(qq - qq, axis=1), sq)
    return safe_sqrt(sq, xp=xp)


def _augmented(x: Array, sq: Array, mod: Any, *, left: bool) -> Array:
    """``[-2x, |x|^2, 1]`` (left) or ``[x, 1, |x|^2]`` (right): their product is ``|q - r|^2``."""
    one = mod.ones_like(sq)[:, None]  # follows x's device (cupy: no device= argument, cupy#9848)
    parts = [x * -2, sq[:, None], one] if left else [x, one, sq[:, None]]
    return mod.concatenate(parts, axis=1)


def _gram_epilogue(g: Array, mod: Any, qq: Array | None = None, rr: Array | None = None) -> None:
    """In place: ``g = sqrt(max(g, 0))``, or ``sqrt(max(|q|^2 + |r|^2 - 2 g, 0))`` when ``qq``/``rr`` are given.

    NumPy's ufuncs run on one core while the GEMM before them uses all of them, so on
    NumPy the matrix is processed in row blocks (small enough to stay in cache across the
    passes) spread over a few threads (the ufuncs release the GIL): matrices below ~4M
    entries use one thread. The thread count follows the CPUs this process may use, capped
    at 8 and by OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS when set.
    """
    n, m = g.shape
    if mod is not np:
        if qq is not None:
            g *= -2
            g += qq[:, None]
            g += rr[None, :]
        mod.maximum(g, 0, out=g)
        mod.sqrt(g, out=g)
        return
    step = max(8, (1 << 16) // max(1, m))
    row = None if rr is None else rr[None, :]
    # maximum(x, 0) with a broadcast *row* of zeros takes NumPy's vectorised loop: 0.22 ms
    # per 1M float32 entries against 0.6-0.95 ms with a scalar 0 (numpy 2.4).
    zeros = np.zeros((1, m), dtype=g.dtype)

    def work(lo: int, hi: int) -> None:
        for s in range(lo, hi, step):
            blk = g[s : min(s + step, hi)]
            if qq is not None:
                blk *= -2
                blk += qq[s : min(s + step, hi), None]
                blk += row
            np.maximum(blk, zeros, out=blk)
            np.sqrt(blk, out=blk)

    workers = _epilogue_threads(n * m)
    if workers <= 1:
        work(0, n)
        return
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, workers + 1).astype(int).tolist()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, bounds[:-1], bounds[1:]))


def _epilogue_threads(size: int) -> int:
    import os

    # Measured (2 cores, OpenBLAS): threads save ~15 % of the epilogue from 4096 x 4096 on,
    # but cost more than they save at 1024 x 1024 (pool start-up, BLAS threads still spinning).
    if size < (1 << 22):
        return 1
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit() and int(v) > 0:
            n = min(n, int(v))
    return max(1, min(n, 8, size >> 21))


def l2_rank_scores(q: Array, r: Array, rr: Array, *, xp: Namespace) -> Array:
    """``|r_j|^2 - 2 q_i . r_j``: per query row, the squared L2 distance minus the constant ``|q_i|^2``.

    Ranking by these scores ranks by Euclidean distance; the exact distances are then needed
    only for the k selected entries. Fast paths fold the ``-2`` into the small ``q`` before
    the GEMM and add ``|r|^2`` in one in-place pass (NumPy/CuPy), or fuse both into
    ``addmm`` (torch); the generic fallback is the plain expression.
    """
    mod = numpy_like(xp)
    if mod is not None:
        g = mod.matmul(q * q.dtype.type(-2), r.T)
        g += rr[None, :]
        return g
    if is_torch(xp):
        import torch

        return torch.addmm(rr[None, :], q, r.T, beta=1, alpha=-2)
    return rr[None, :] - 2 * xp.matmul(q, xp.matrix_transpose(r))


def fill_self(mat: Array, row_offset: int, col_offset: int, value: float, *, xp: Namespace) -> Array:
    """Set ``mat[i, j] = value`` where ``row_offset + i == col_offset + j`` (a query meeting itself).

    NumPy/CuPy/torch (outside autograd) write the few entries in place; strict forbids
    integer-array setitem, so the generic fallback is an ``xp.where`` over an equality mask.
    """
    rows, cols = mat.shape
    lo = max(row_offset, col_offset)
    hi = min(row_offset + rows, col_offset + cols)
    if hi <= lo:
        return mat
    device = aac.device(mat)
    mod = numpy_like(xp)
    if mod is not None or (is_torch(xp) and not requires_grad(mat)):
        g = np.arange(lo, hi)
        if mod is None:
            import torch

            gi = torch.as_tensor(g, device=mat.device)
            mat[gi - row_offset, gi - col_offset] = value
        else:
            gi = mod.asarray(g)
            mat[gi - row_offset, gi - col_offset] = value
        return mat
    idt = index_dtype(xp, device)
    r = xp.arange(row_offset, row_offset + rows, dtype=idt, device=device)
    c = xp.arange(col_offset, col_offset + cols, dtype=idt, device=device)
    return xp.where(r[:, None] == c[None, :], xp.asarray(value, dtype=mat.dtype, device=device), mat)
