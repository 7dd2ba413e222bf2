"""The non-finite policy on hypothesis batches, on every backend.

The policy (CONTRIBUTING.md, "The contracts"; docs/reliability.md):

- **distances propagate**: a NaN or inf in an input row makes every value of that row
  (and, for the self matrix, that column) non-finite, diagonal included; values between
  finite rows stay finite. No non-finite input ever becomes a finite distance.
- **every consumer raises**: miners (every catalogue entry, ``mine_extended`` too, memory
  banks on a later batch), losses (every concrete loss class), regularizers, kNN,
  k-means and the AccuracyCalculator raise ``ValueError`` naming the array and the first
  bad row (``"embeddings row 3 contains NaN"``) before doing anything, so that a memory
  bank or a queue is never poisoned;
- NaN labels raise ``ValueError`` naming the first NaN index;
- ``check_finite=False`` (an attribute of miners, losses and regularizers, an argument of
  the functions) turns the check off.

Batches are standard-normal rows (drawn from a hypothesis seed) with one planted NaN,
inf or -inf at a drawn position, in float32 or float64.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml.accuracy import AccuracyCalculator, kmeans, knn
from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance, SNRDistance
from agnostic_ml.testing.strategies import miner_batches
from catalogue.core_components import D, loss_classes, make_loss, make_regularizer, regularizer_classes
from catalogue.miners import MINERS

# NaN arithmetic warns on NumPy (the distances are meant to compute it; the opt-out tests feed it on purpose).
pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.filterwarnings("ignore::RuntimeWarning")]

KINDS = {"nan": float("nan"), "inf": float("inf"), "-inf": -float("inf")}
DISTANCES = {
    "lp": LpDistance,
    "lp_raw": lambda: LpDistance(normalize_embeddings=False),
    "lp_p1": lambda: LpDistance(p=1),
    "lp_p3_power2": lambda: LpDistance(p=3, power=2),
    "lp_pinf": lambda: LpDistance(p=float("inf"), normalize_embeddings=False),
    "cosine": CosineSimilarity,
    "dot": lambda: DotProductSimilarity(normalize_embeddings=False),
    "snr": SNRDistance,
}


@st.composite
def planted(draw, *, min_n: int = 1, max_n: int = 10, min_d: int = 1, max_d: int = 5):
    """``(x, row, col, kind)``: a standard-normal ``(n, d)`` float64 host array with ``x[row, col] = kind``."""
    n = draw(st.integers(min_n, max_n), label="n")
    d = draw(st.integers(min_d, max_d), label="d")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    x = np.random.default_rng(seed).standard_normal((n, d))
    row, col = draw(st.integers(0, n - 1), label="row"), draw(st.integers(0, d - 1), label="col")
    kind = draw(st.sampled_from(sorted(KINDS)), label="kind")
    x[row, col] = KINDS[kind]
    return x, row, col, kind


def _dtype(backend, data):
    return getattr(backend.xp, data.draw(st.sampled_from(["float32", "float64"]), label="dtype"))


def _policy_error(name: str, row: int, kind: str) -> str:
    """The policy's message for a planted value: ``"<name> row <row> contains NaN|inf|-inf; ..."``."""
    word = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[kind]
    return rf"{name} row {row} contains {re.escape(word)};.*check_finite=False"


# -- distances: NaN stays NaN, inf stays non-finite, finite rows stay finite --------------------------------------


def _assert_propagates(mat: np.ndarray, bad_rows: set[int], bad_cols: set[int], what: str) -> None:
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            bad = i in bad_rows or j in bad_cols
            assert np.isfinite(mat[i, j]) != bad, f"{what}: entry ({i}, {j}) = {mat[i, j]} (bad rows {bad_rows}, cols {bad_cols})"


@pytest.mark.parametrize("name", sorted(DISTANCES))
@settings(max_examples=15)
@given(data=st.data())
def test_distances_never_make_a_finite_value_from_a_non_finite_one(backend, name, data):
    dist = DISTANCES[name]()
    x, row, _, kind = data.draw(planted(min_d=2 if name == "snr" else 1), label="x")
    dtype = _dtype(backend, data)
    q = backend.asarray(x, dtype)
    grad = backend.name == "torch" and data.draw(st.booleans(), label="autograd")
    if grad:  # the differentiable (generic) path of the square roots
        q.requires_grad_(True)
    host = lambda a: backend.to_numpy(a.detach() if grad else a)  # noqa: E731
    # the self matrix: the bad row and the bad column, diagonal included
    _assert_propagates(host(dist(q)), {row}, {row}, f"{name}({kind}) self")
    # against a finite reference: the bad row only
    ref = backend.asarray(np.random.default_rng(1).standard_normal((3, x.shape[1])), dtype)
    _assert_propagates(host(dist(q, ref)), {row}, set(), f"{name}({kind}) query")
    _assert_propagates(host(dist(ref, q)), set(), {row}, f"{name}({kind}) reference")
    # row-wise values (no normalisation, as in PML)
    other = backend.asarray(np.random.default_rng(2).standard_normal(x.shape), dtype)
    pw = host(dist.pairwise_distance(q, other))
    if name != "snr" or x.shape[1] > 1:
        assert not np.isfinite(pw[row]), f"{name}: pairwise value of the bad row is {pw[row]}"
        assert np.isfinite(np.delete(pw, row)).all(), f"{name}: finite rows gave {pw}"


# -- miners: every catalogue entry raises, naming the array and the row ---------------------------------------------


@MINERS.parametrize()
@settings(max_examples=12)
@given(data=st.data())
def test_every_miner_raises_on_non_finite_embeddings(backend, entry, data):
    entry.skip_unless_supported(backend)
    x, row, _, kind = data.draw(planted(min_n=2), label="embeddings")
    dtype = _dtype(backend, data)
    labels = np.random.default_rng(0).integers(0, 3, size=x.shape[0])
    clean = np.where(np.isfinite(x), x, 0.0)
    miner = entry.make()
    if entry.stateful and data.draw(st.booleans(), label="second batch"):
        entry.mine(miner, backend.asarray(clean, dtype), labels)  # a good batch first: the bank fills
    in_ref = entry.ref and data.draw(st.booleans(), label="in ref_emb")
    with pytest.raises(ValueError, match=_policy_error("ref_emb" if in_ref else "embeddings", row, kind)):
        if in_ref:
            miner(backend.asarray(clean, dtype), labels, backend.asarray(x, dtype), labels)
        elif entry.extended:
            miner.mine_extended(backend.asarray(x, dtype), labels)
        else:
            miner(backend.asarray(x, dtype), labels)
    bank = getattr(miner, "bank_embeddings", None)
    if bank is not None:  # the bad batch never reached the memory bank
        assert np.isfinite(backend.to_numpy(bank)).all()


@MINERS.parametrize()
@settings(max_examples=8)
@given(data=st.data())
def test_every_miner_rejects_nan_labels(backend, entry, data):
    entry.skip_unless_supported(backend)
    batch = data.draw(miner_batches(min_n=1, max_n=10, dims=(1, 3), with_ref=False), label="batch")
    at = data.draw(st.integers(0, batch.n - 1), label="at")
    labels = batch.labels.astype(np.float64)
    labels[at] = np.nan
    with pytest.raises(ValueError, match=rf"labels\[{at}\] is NaN"):
        entry.make()(backend.asarray(batch.embeddings, backend.xp.float64), backend.asarray(labels, backend.xp.float64))


@MINERS.parametrize()
@settings(max_examples=6)
@given(data=st.data())
def test_check_finite_false_turns_the_miner_check_off(backend, entry, data):
    entry.skip_unless_supported(backend)
    x, _, _, _ = data.draw(planted(min_n=2), label="embeddings")
    miner = entry.make()
    miner.check_finite = False
    try:
        entry.mine(miner, backend.asarray(x, backend.xp.float64), np.arange(x.shape[0]) % 2)
    except Exception as exc:  # noqa: BLE001 - garbage in, anything but the policy's error out
        assert "check_finite=False" not in str(exc), exc


# -- losses, regularizers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", loss_classes(), ids=lambda c: c.__name__)
@settings(max_examples=6)
@given(data=st.data())
def test_every_loss_raises_on_non_finite_embeddings(backend, cls, data):
    x, row, _, kind = data.draw(planted(min_n=2, min_d=D, max_d=D), label="embeddings")
    dtype = _dtype(backend, data)
    labels = np.arange(x.shape[0]) % 4
    clean = backend.asarray(np.where(np.isfinite(x), x, 0.0), dtype)
    bad = backend.asarray(x, dtype)
    loss = make_loss(cls)
    name = cls.__name__
    in_ref = name not in ("ManifoldLoss",) and data.draw(st.booleans(), label="in ref_emb")
    target = "ref_emb" if in_ref else "embeddings"
    with pytest.raises(ValueError, match=rf"{name}: " + _policy_error(target, row, kind)):
        if name == "VICRegLoss":
            loss(clean, ref_emb=bad) if in_ref else loss(bad, ref_emb=clean)
        elif name == "ManifoldLoss":
            loss(bad)
        elif in_ref:
            loss(clean, labels, ref_emb=bad, ref_labels=labels)
        else:
            loss(bad, labels)
    loss.check_finite = False  # the opt-out: no policy error any more
    try:
        if name == "VICRegLoss":
            loss(bad, ref_emb=clean)
        elif name == "ManifoldLoss":
            loss(bad)
        else:
            loss(bad, labels)
    except Exception as exc:  # noqa: BLE001
        assert "check_finite=False" not in str(exc), exc


@pytest.mark.parametrize("cls", regularizer_classes(), ids=lambda c: c.__name__)
@settings(max_examples=6)
@given(data=st.data())
def test_every_regularizer_raises_on_non_finite_rows(backend, cls, data):
    x, row, _, kind = data.draw(planted(), label="x")
    with pytest.raises(ValueError, match=rf"{cls.__name__}: " + _policy_error("x", row, kind)):
        make_regularizer(cls)(backend.asarray(x, _dtype(backend, data)))


# -- kNN, k-means, AccuracyCalculator ----------------------------------------------------------------------------------


@settings(max_examples=20)
@given(data=st.data())
def test_knn_raises_naming_query_or_reference(backend, data):
    x, row, _, kind = data.draw(planted(min_n=2), label="x")
    dtype = _dtype(backend, data)
    bad = backend.asarray(x, dtype)
    clean = backend.asarray(np.where(np.isfinite(x), x, 0.0), dtype)
    k = data.draw(st.integers(0, x.shape[0] - 1), label="k")
    where = data.draw(st.sampled_from(["query", "reference", "self"]), label="where")
    with pytest.raises(ValueError, match=r"knn: " + _policy_error("query" if where != "reference" else "reference", row, kind)):
        if where == "query":
            knn(bad, clean, k)
        elif where == "reference":
            knn(clean, bad, k)
        else:
            knn(bad, bad, k, ref_includes_query=True)
    d, i = knn(bad, clean, k, check_finite=False)  # the opt-out: a result (of garbage rows), no error
    assert tuple(d.shape) == tuple(i.shape) == (x.shape[0], k)


@settings(max_examples=10)
@given(data=st.data())
def test_kmeans_and_calculator_raise_naming_the_row(backend, data):
    x, row, _, kind = data.draw(planted(min_n=2), label="x")
    bad = backend.asarray(x, _dtype(backend, data))
    with pytest.raises(ValueError, match=r"kmeans: " + _policy_error("x", row, kind)):
        kmeans(bad, 1, rng=0)
    labels = np.arange(x.shape[0]) % 2
    with pytest.raises(ValueError, match=r"get_accuracy: " + _policy_error("query", row, kind)):
        AccuracyCalculator(include=("precision_at_1",)).get_accuracy(bad, labels)
