"""Shared inputs and calls of the catalogue-driven loss tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml_torch import miners  # noqa: E402

from loss_catalogue import C, D, M, N, LossCase  # noqa: E402


def batch(
    seed: int = 0, n: int = N, d: int = D, c: int = C, dtype: Any = torch.float64, case: LossCase | None = None
) -> tuple[Any, Any]:
    """Random embeddings (requires_grad) and labels with every class present.

    A case whose ``extra["labels"]`` is a function ``n -> labels`` gets those labels
    instead (SmoothAPLoss needs equal class sizes).
    """
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((n, d)), dtype=dtype, requires_grad=True)
    make = case.extra.get("labels") if case is not None else None
    if make is not None:
        y = torch.tensor(make(n))
    else:
        y = torch.tensor(np.concatenate([np.arange(c), rng.integers(0, c, n - c)]))
    return x, y


def mined(setting: str, x: Any, y: Any, r: Any = None, ry: Any = None) -> tuple[Any, ...] | None:
    """The indices tuple of a setting: our pair miner, our triplet miner, or none."""
    if setting == "pairs":
        return miners.MultiSimilarityMiner(epsilon=0.1)(x, y, r, ry)
    if setting == "triplets":
        return miners.TripletMarginMiner(margin=0.3, type_of_triplets="all")(x, y, r, ry)
    return None


def call(case: LossCase, loss: Any, x: Any, y: Any, tup: Any = None, r: Any = None, ry: Any = None) -> Any:
    """Call a loss the way its kind is called (or as the case's ``extra["call"]`` says)."""
    if "call" in case.extra:
        return case.extra["call"](loss, x, y, tup, r, ry)
    if case.kind == "self_supervised":
        return loss(x, ref_emb=x * 0.5 + 0.1 if r is None else r)
    if r is not None:
        return loss(x, y, tup, r, ry)
    return loss(x, y, tup)


def build_pair(case: LossCase, seed: int = 0) -> tuple[Any, Any]:
    """(ours, PML's) for a case; learnable weights are PML's, loaded into ours, in float64."""
    torch.manual_seed(seed)
    theirs = case.pml()
    torch.manual_seed(seed)
    ours = case.ours()
    if case.learnable:
        ours.load_state_dict(theirs.state_dict())
    return ours.double(), theirs.double()


def grads(value: Any, *tensors: Any) -> list[Any]:
    """d value / d tensors (zeros where a tensor does not influence the value)."""
    gs = torch.autograd.grad(value, tensors, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(gs, tensors)]


def assert_close(a: Any, b: Any, rtol: float, what: str) -> None:
    a = torch.as_tensor(a, dtype=torch.float64).detach()
    b = torch.as_tensor(b, dtype=torch.float64).detach()
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    assert torch.allclose(a, b, rtol=rtol, atol=rtol * scale * 1e-3 + 1e-12), (
        f"{what}: ours {a.flatten()[:6].tolist()} vs PML {b.flatten()[:6].tolist()} "
        f"(max abs diff {float((a - b).abs().max()) if a.numel() else 0:.3g})"
    )
