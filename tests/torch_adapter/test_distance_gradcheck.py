"""Gradients through every distance matrix (torch, float64).

- ``torch.autograd.gradcheck`` at generic points, with and without ``ref_emb`` (the self
  matrix's diagonal is forced to 0, so its derivative is 0 there: consistent with finite
  differences, which perturb both copies of the row).
- Finite gradients (no NaN) where the distance is exactly zero: duplicated rows, the
  self diagonal, an explicit ref equal to the query, and all-zero rows under
  normalisation. ``||x - y||`` is not differentiable at 0, so we check finiteness there
  and agreement with PML's sub-gradient (0), not gradcheck.
- Gradients equal PML's at generic points, and the no-autograd fast path returns the
  same values as the autograd path.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pml = pytest.importorskip("pytorch_metric_learning.distances")

from agnostic_ml import distances as ours  # noqa: E402

CONFIGS = [
    ("LpDistance", {}),
    ("LpDistance", {"normalize_embeddings": False}),
    ("LpDistance", {"power": 2}),
    ("LpDistance", {"normalize_embeddings": False, "power": 2}),
    ("LpDistance", {"p": 1}),
    ("LpDistance", {"p": 1, "normalize_embeddings": False}),
    ("LpDistance", {"p": 3}),
    ("LpDistance", {"p": 3, "normalize_embeddings": False, "power": 2}),
    ("DotProductSimilarity", {}),
    ("DotProductSimilarity", {"normalize_embeddings": False}),
    ("DotProductSimilarity", {"normalize_embeddings": False, "power": 2}),
    ("CosineSimilarity", {}),
    ("CosineSimilarity", {"p": 3}),
    ("SNRDistance", {}),
    ("SNRDistance", {"normalize_embeddings": False}),
]
IDS = [f"{c}-{'-'.join(f'{k[:4]}={v}' for k, v in kw.items()) or 'default'}" for c, kw in CONFIGS]


def _make(cls, kw, lib=ours):
    return getattr(lib, cls)(**kw)


def _points(seed, n=5, m=4, d=3):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g, dtype=torch.float64)
    r = torch.randn(m, d, generator=g, dtype=torch.float64)
    return q.requires_grad_(), r.requires_grad_()


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_gradcheck(cls, kw):
    dist = _make(cls, kw)
    q, r = _points(0)
    assert torch.autograd.gradcheck(lambda a, b: dist(a, b), (q, r), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert torch.autograd.gradcheck(lambda a: dist(a), (q,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_gradient_matches_pml(cls, kw):
    mine, theirs = _make(cls, kw), _make(cls, kw, pml)
    for ref in (True, False):
        q1, r1 = _points(1)
        q2, r2 = (q1.detach().clone().requires_grad_(), r1.detach().clone().requires_grad_())
        w = torch.randn(5, 4 if ref else 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        (mine(q1, r1 if ref else None) * w).sum().backward()
        (theirs(q2, r2 if ref else None) * w).sum().backward()
        torch.testing.assert_close(q1.grad, q2.grad, rtol=1e-7, atol=1e-9)
        if ref:
            torch.testing.assert_close(r1.grad, r2.grad, rtol=1e-7, atol=1e-9)


def _with_duplicates(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    return torch.cat([x, x[:2], x[:1]])  # rows 5, 6, 7 repeat rows 0, 1, 0


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_gradient_finite_at_zero_distance(cls, kw, dtype):
    """Duplicated rows (zero distance off the diagonal), the self diagonal, and ref == query."""
    dist = _make(cls, kw)
    base = _with_duplicates(3).to(dtype)
    w = torch.rand(8, 8, generator=torch.Generator().manual_seed(4), dtype=dtype)
    # self matrix
    x = base.clone().requires_grad_()
    mat = dist(x)
    (mat * w).sum().backward()
    assert torch.isfinite(mat).all() and torch.isfinite(x.grad).all(), x.grad
    # explicit ref: the zero distances go through the general (non-self) path
    x = base.clone().requires_grad_()
    r = base.clone().requires_grad_()
    mat = dist(x, r)
    (mat * w).sum().backward()
    assert torch.isfinite(mat).all() and torch.isfinite(x.grad).all() and torch.isfinite(r.grad).all()
    # one zero-distance entry alone: its sub-gradient is 0 for distances (PML's cdist agrees)
    if not dist.is_inverted and not (cls == "SNRDistance"):
        x = base.clone().requires_grad_()
        dist(x)[0, 5].backward()
        assert torch.isfinite(x.grad).all()
        if dtype == torch.float64:
            y = base.clone().requires_grad_()
            _make(cls, kw, pml)(y)[0, 5].backward()
            torch.testing.assert_close(x.grad, y.grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("cls", ["LpDistance", "CosineSimilarity", "SNRDistance"])
def test_gradient_finite_for_zero_rows_under_normalisation(cls, p):
    """An all-zero row normalises to 0 (F.normalize's clamp); its gradient stays finite.

    For SNR the zero row is in the reference only: a zero-variance *query* row makes
    Var(q - r) / Var(q) itself inf/NaN, in PML too.
    """
    x = torch.randn(4, 3, dtype=torch.float64)
    r = torch.randn(3, 3, dtype=torch.float64)
    (r if cls == "SNRDistance" else x)[1] = 0.0
    x.requires_grad_()
    r.requires_grad_()
    _make(cls, {"p": p})(x, r).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(r.grad).all()
    if cls != "SNRDistance":
        y = x.detach().clone().requires_grad_()
        _make(cls, {"p": p})(y).sum().backward()
        assert torch.isfinite(y.grad).all()


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_no_grad_fast_path_equals_autograd_path(cls, kw):
    dist = _make(cls, kw)
    x = _with_duplicates(5)
    r = torch.randn(6, 4, dtype=torch.float64)
    for ref in (None, r):
        with torch.no_grad():
            a = dist(x, ref)
        b = dist(x.clone().requires_grad_(), ref)
        assert b.requires_grad and not a.requires_grad
        torch.testing.assert_close(a, b.detach(), rtol=1e-12, atol=1e-12)


def test_batched_distance_gradients_equal_full_matrix():
    dist = ours.LpDistance()
    q, r = _points(6, n=7, m=5)
    w = torch.randn(7, 5, dtype=torch.float64)
    blocks = []
    ours.BatchedDistance(dist, lambda m, s, e: blocks.append((m * w[s:e]).sum()), batch_size=3)(q, r)
    torch.stack(blocks).sum().backward()
    gq, gr = q.grad.clone(), r.grad.clone()
    q.grad, r.grad = None, None
    (dist(q, r) * w).sum().backward()
    torch.testing.assert_close(gq, q.grad)
    torch.testing.assert_close(gr, r.grad)


def test_pairwise_distance_gradients():
    """Row-wise values: gradcheck at generic points, finite (0) at identical rows."""
    q, r = _points(7, n=5, m=5)
    for dist in (ours.LpDistance(), ours.LpDistance(p=1), ours.LpDistance(p=3), ours.DotProductSimilarity(), ours.SNRDistance()):
        assert torch.autograd.gradcheck(lambda a, b: dist.pairwise_distance(a, b), (q, r), eps=1e-6, atol=1e-5)
        x = q.detach().clone().requires_grad_()
        dist.pairwise_distance(x, x.detach().clone()).sum().backward()
        assert torch.isfinite(x.grad).all()
    x = q.detach().clone().requires_grad_()
    ours.LpDistance().pairwise_distance(x, x.detach().clone()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
