"""Hypothesis strategies for miner inputs, on any array-API backend.

This module imports ``hypothesis`` (install the ``test`` extra); the rest of
:mod:`agnostic_ml.testing` does not.

The batches are built to hit the cases miners get wrong:

- labels: one class, every label unique, balanced ``m`` per class, random, and class ids
  that are not ``0..C-1`` (negative or large ids);
- sizes: ``N = 0`` and ``N = 1`` (with ``min_n=0``), a reference set of another size;
- embeddings from the grid ``{-1, -0.5, 0, 0.5, 1}`` so that distances tie exactly,
  duplicated rows (zero distances off the diagonal), and reference rows copied from the
  batch.

Examples
--------
>>> from hypothesis import given
>>> from agnostic_ml.testing import check_miner_output
>>> from agnostic_ml.testing.strategies import miner_batches
>>> from agnostic_ml.tuples import get_all_pairs_indices
>>> @given(miner_batches(max_n=8))
... def test_all_pairs(batch):
...     out = get_all_pairs_indices(batch.labels, batch.ref_labels, like=batch.embeddings)
...     check_miner_output(out, batch.labels, batch.ref_labels, embeddings=batch.embeddings)
>>> test_all_pairs()
"""

from __future__ import annotations

from typing import Any

import numpy as np
import array_api_compat as aac
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .batch import MinerBatch

__all__ = ["GRID", "MinerBatch", "labels", "miner_batches"]

#: Values embeddings are drawn from: few enough that rows and distances repeat.
GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)

_LAYOUTS = ("single", "random", "balanced", "unique")


def labels(n: int | st.SearchStrategy[int], max_classes: int = 8) -> st.SearchStrategy[np.ndarray]:
    """1-D int64 NumPy label arrays of length ``n`` with at most ``max_classes`` classes.

    Layouts: a single class, random, balanced (``n // C`` per class, shuffled), all
    unique (when ``n <= max_classes``); class ids are sometimes remapped to arbitrary
    distinct integers (e.g. ``-7, 3, 1000``).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(labels(5, max_classes=2))
    ... def test(lab):
    ...     assert lab.shape == (5,) and len(set(lab.tolist())) <= 2
    >>> test()
    """
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 1:
        raise ValueError(f"max_classes must be a positive int, got {max_classes!r}")
    if isinstance(n, st.SearchStrategy):
        return n.flatmap(lambda k: labels(k, max_classes))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int or a strategy of ints, got {n!r}")
    return _labels(int(n), max_classes)


@st.composite
def _labels(draw: Any, n: int, max_classes: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    layout = draw(st.sampled_from(_LAYOUTS))
    if layout == "unique" and n > max_classes:
        layout = "random"
    if layout == "single":
        ids = np.zeros(n, dtype=np.int64)
        n_classes = 1
    elif layout == "unique":
        ids = np.asarray(draw(st.permutations(range(n))), dtype=np.int64)
        n_classes = n
    else:
        n_classes = draw(st.integers(1, min(max_classes, n)))
        if layout == "balanced":
            base = np.arange(n, dtype=np.int64) % n_classes
            ids = base[np.asarray(draw(st.permutations(range(n))), dtype=np.int64)]
        else:
            ids = draw(hnp.arrays(np.int64, n, elements=st.integers(0, n_classes - 1)))
    if draw(st.booleans()):
        values = draw(st.lists(st.integers(-1000, 1000), min_size=n_classes, max_size=n_classes, unique=True))
        ids = np.asarray(values, dtype=np.int64)[ids]
    return np.asarray(ids, dtype=np.int64)


def _grid_rows(n: int, d: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, (n, d), elements=st.sampled_from(GRID))


def _copies(draw: Any, src_n: int, dst_n: int) -> list[tuple[int, int]]:
    if src_n == 0 or dst_n == 0:
        return []
    pair = st.tuples(st.integers(0, src_n - 1), st.integers(0, dst_n - 1))
    return draw(st.lists(pair, max_size=min(4, dst_n)))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    if x.shape[1] == 0:
        return x
    zero = ~np.any(x != 0, axis=1)
    x[zero, 0] = 1.0  # a zero row has no direction: make it e_0 (more ties, no NaN)
    return x / np.sqrt(np.sum(x * x, axis=1, keepdims=True))


def _resolve(xp: Any, dtype: Any) -> tuple[Any, Any]:
    if xp is None:
        import array_api_compat.numpy as xnp

        space = xnp
    else:
        space = aac.array_namespace(xp.asarray(0))
    if dtype is None:
        fdt = space.float64
    elif isinstance(dtype, str):
        fdt = getattr(space, dtype)
    else:
        fdt = dtype
    if not space.isdtype(fdt, "real floating"):
        raise ValueError(f"dtype must be a real floating dtype, got {dtype!r}")
    return space, fdt


def miner_batches(
    xp: Any = None,
    device: Any = None,
    dtype: Any = None,
    min_n: int = 0,
    max_n: int = 32,
    dims: int | tuple[int, int] = (2, 8),
    with_ref: bool | None = None,
    max_classes: int = 8,
    unit_norm: bool = False,
) -> st.SearchStrategy[MinerBatch]:
    """Batches for miners: a :class:`MinerBatch` of arrays of ``xp`` on ``device``.

    Parameters
    ----------
    xp : namespace, optional
        Any array namespace (``numpy``, ``torch``, ``array_api_strict``, a compat-wrapped
        one, ...); NumPy when None.
    device : optional
        Device to create the arrays on (the namespace's default when None).
    dtype : dtype or str, optional
        Float dtype of the embeddings (``xp.float64`` when None); labels are int64.
    min_n, max_n : int
        Range of the number of embeddings (and of reference embeddings).
    dims : int or (int, int)
        Embedding width, or an inclusive range of widths.
    with_ref : bool, optional
        Always (True), never (False) or sometimes (None) add a separate reference set,
        whose labels share classes with the batch (plus possibly new ones) and some of
        whose rows are copies of batch rows.
    max_classes : int
        Upper bound on the number of distinct labels in the batch.
    unit_norm : bool
        L2-normalise every row (zero rows become the first basis vector).
    """
    space, fdt = _resolve(xp, dtype)
    for name, v in (("min_n", min_n), ("max_n", max_n)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    if min_n > max_n:
        raise ValueError(f"min_n ({min_n}) must be <= max_n ({max_n})")
    lo, hi = (dims, dims) if isinstance(dims, int) else tuple(dims)
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(f"dims must be a positive int or a (min, max) pair with 1 <= min <= max, got {dims!r}")
    if with_ref not in (None, True, False):
        raise ValueError(f"with_ref must be True, False or None, got {with_ref!r}")
    if isinstance(max_classes, bool) or not isinstance(max_classes, int) or max_classes < 1:
        raise ValueError(f"max_classes must be a positive int, got {max_classes!r}")
    return _miner_batches(space, device, fdt, min_n, max_n, lo, hi, with_ref, max_classes, unit_norm)


@st.composite
def _miner_batches(
    draw: Any, xp: Any, device: Any, fdt: Any, min_n: int, max_n: int, lo: int, hi: int,
    with_ref: bool | None, max_classes: int, unit_norm: bool,
) -> MinerBatch:
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(lo, hi))
    lab = draw(labels(n, max_classes))
    emb = draw(_grid_rows(n, d))
    for src, dst in _copies(draw, n, n):
        emb[dst] = emb[src]
    has_ref = draw(st.booleans()) if with_ref is None else with_ref
    ref = rlab = None
    if has_ref:
        m = draw(st.integers(min_n, max_n))
        pool = sorted(set(lab.tolist())) or list(range(max_classes))
        extra = draw(st.lists(st.integers(-1000, 1000).filter(lambda v: v not in pool), max_size=2, unique=True))
        rlab = draw(hnp.arrays(np.int64, m, elements=st.sampled_from(pool + extra))) if m else np.zeros(0, np.int64)
        ref = draw(_grid_rows(m, d))
        for src, dst in _copies(draw, n, m):
            ref[dst] = emb[src]
            if draw(st.booleans()):
                rlab[dst] = lab[src]
    if unit_norm:
        emb = _unit_rows(emb)
        ref = None if ref is None else _unit_rows(ref)

    def arr(x: np.ndarray) -> Any:
        return xp.asarray(x, dtype=fdt, device=device)

    def ints(x: np.ndarray) -> Any:
        return xp.asarray(np.asarray(x, dtype=np.int64), dtype=xp.int64, device=device)

    return MinerBatch(arr(emb), ints(lab), None if ref is None else arr(ref), None if rlab is None else ints(rlab))
