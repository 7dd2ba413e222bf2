"""Helpers of the side-by-side comparisons with PML (``tests/pml/``); they need torch and PML.

Test modules import it after their own ``pytest.importorskip("torch")`` (and PML's), so that
a missing install skips them visibly; it also skips itself (doctest collection imports it).

How a comparison is made fair
-----------------------------
Miners make strict comparisons and argmax/argmin choices on the distance matrix, so a
one-ulp difference between two libraries' matrices can flip a borderline pair.
:class:`SharedMatrix` is a PML distance whose ``compute_mat`` returns what *our* distance
computes on the same data and backend (same ``is_inverted``): both libraries then mine
the very same matrix, which isolates the mining semantics. End-to-end tests with PML's
own distances run in float64, where rounding differences are ~1e-16.

- :class:`SharedMatrix`, :func:`shared`: the shared matrix;
- :func:`make_batch`: a random batch (optionally with a reference set that copies rows);
- :func:`run_both`: the same batch through our miner (on a backend) and PML's (torch);
- :func:`tuple_counts`, :func:`assert_same`: outputs compared as multisets of tuples;
- :func:`run_pml`, :func:`run_ours`: NumPy data into PML (torch) or ours (NumPy);
- :data:`DISTANCES`, :data:`DTYPES`.

The fixtures ``combo`` (our backend and dtype) and ``ours_backend`` are in ``conftest.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance  # noqa: E402

__all__ = [
    "DISTANCES",
    "DTYPES",
    "SharedMatrix",
    "assert_same",
    "make_batch",
    "run_both",
    "run_ours",
    "run_pml",
    "shared",
    "tuple_counts",
]

#: Our distances by short name.
DISTANCES = {
    "lp": lambda: LpDistance(),
    "cos": lambda: CosineSimilarity(),
    "dot_raw": lambda: DotProductSimilarity(normalize_embeddings=False),
}

#: dtype name -> (NumPy dtype, torch dtype).
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


class SharedMatrix(pml_distances.BaseDistance):
    """A PML distance that returns our distance's matrix for the same data and backend."""

    def __init__(self, ours: Any, backend: Any, dtype: Any) -> None:
        super().__init__(normalize_embeddings=False, is_inverted=ours.is_inverted)
        self.ours, self.backend, self.dtype = ours, backend, dtype

    def compute_mat(self, query_emb: Any, ref_emb: Any) -> Any:
        q = self.backend.asarray(query_emb.numpy(), self.dtype)
        if ref_emb is query_emb:
            mat = self.ours(q)
        else:
            mat = self.ours(q, self.backend.asarray(ref_emb.numpy(), self.dtype))
        return torch.from_numpy(np.array(self.backend.to_numpy(mat)))


def shared(our_dist: Any, backend: Any, dtype_name: str) -> SharedMatrix:
    """A :class:`SharedMatrix` over ``our_dist`` computed on ``backend`` in ``dtype_name``."""
    return SharedMatrix(our_dist, backend, getattr(backend.xp, dtype_name))


def make_batch(seed: int, *, with_ref: bool, n_max: int = 40, dim: int = 8, classes: tuple[int, int] = (1, 6)):
    """A random batch ``(x, labels, ref, ref_labels)`` (the last two None without ``with_ref``).

    The reference set shares classes with the batch (plus one more) and starts with copies
    of the batch's first rows, which count as positives there.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, n_max + 1))
    c = int(rng.integers(classes[0], classes[1] + 1))
    x = rng.normal(size=(n, dim))
    lab = rng.integers(0, c, size=n)
    if not with_ref:
        return x, lab, None, None
    m = int(rng.integers(1, n_max + 1))
    r = rng.normal(size=(m, dim))
    rlab = rng.integers(0, c + 1, size=m)
    k = min(3, m, n)
    r[:k] = x[:k]  # identical rows in the reference set count as positives there
    rlab[:k] = lab[:k]
    return x, lab, r, rlab


def run_both(our_miner: Any, pml_miner: Any, backend: Any, dtype_name: str, x, lab, r, rlab):
    """The batch through our miner (``backend``, ``dtype_name``) and PML's (torch, same dtype);
    both outputs as lists of ints."""
    dtype = getattr(backend.xp, dtype_name)
    tdtype = getattr(torch, dtype_name)
    emb = backend.asarray(x, dtype)
    tx = torch.from_numpy(np.asarray(x)).to(tdtype)
    tl = torch.from_numpy(np.asarray(lab))
    if r is None:
        ours = our_miner(emb, backend.asarray(lab, backend.xp.int64))
        theirs = pml_miner(tx, tl)
    else:
        ours = our_miner(emb, backend.asarray(lab, backend.xp.int64), backend.asarray(r, dtype), rlab)
        theirs = pml_miner(tx, tl, torch.from_numpy(np.asarray(r)).to(tdtype), torch.from_numpy(np.asarray(rlab)))
    return [backend.to_numpy(o).tolist() for o in ours], [t.tolist() for t in theirs]


def tuple_counts(out: list) -> list[Counter]:
    """Triplets -> [Counter of (a, p, n)]; pairs -> [Counter of (a1, p), Counter of (a2, n)]."""
    if len(out) == 3:
        return [Counter(zip(*out))]
    return [Counter(zip(out[0], out[1])), Counter(zip(out[2], out[3]))]


def assert_same(ours: list, theirs: list, what: str) -> None:
    """Equal multisets of tuples (the order may differ), with the differences in the message."""
    o, t = tuple_counts(ours), tuple_counts(theirs)
    assert len(o) == len(t), f"{what}: {len(ours)} outputs vs PML's {len(theirs)}"
    for part, (a, b) in enumerate(zip(o, t)):
        assert a == b, (
            f"{what}: part {part} differs: only ours {sorted((a - b).elements())[:6]}, "
            f"only PML {sorted((b - a).elements())[:6]} ({sum(a.values())} vs {sum(b.values())})"
        )


def run_pml(obj: Any, emb, lab, ref=None, rlab=None, dtype=torch.float64):
    """NumPy data into a PML object as torch tensors."""
    e = torch.tensor(emb, dtype=dtype)
    if ref is None:
        return obj(e, torch.tensor(lab))
    return obj(e, torch.tensor(lab), torch.tensor(ref, dtype=dtype), torch.tensor(rlab))


def run_ours(obj: Any, emb, lab, ref=None, rlab=None, dtype=np.float64):
    """The same NumPy data into ours (on NumPy)."""
    e = emb.astype(dtype)
    return obj(e, lab) if ref is None else obj(e, lab, ref.astype(dtype), rlab)
