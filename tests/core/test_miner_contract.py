"""The contract every miner keeps, on every backend and dtype, for every catalogue entry.

Driven by ``tests/catalogue/miners.py``: a new entry is checked here without editing this
file. Each test reads the entry's flags (kind, ref, stateful, ...) for what to expect:

- outputs: a tuple of 1-D int64 index arrays of the embeddings' namespace and device,
  not empty on batches that have tuples, the same for host labels, in range with a
  reference set;
- empty outputs where the labels allow nothing (one class, all labels distinct, N = 1,
  N = 0) and with an empty reference set;
- bad input raises ValueError / TypeError naming the argument;
- float16 / bfloat16 embeddings give valid tuples;
- OML's ``sample`` returns embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest

from agnostic_ml.miners import BaseMiner
from agnostic_ml.testing import check_miner_output
from catalogue.miners import MINERS
from helpers import assert_array, backend_or_skip, check_indices, to_lists

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sizes(out):
    return [int(x.shape[0]) for x in out]


# -- outputs: namespace, dtype (int64), device; not empty where tuples exist -------------------

TINY_X = np.array([[0.0], [1.0], [3.0], [10.0], [4.0], [20.0]])
TINY_Y = np.array([0, 0, 0, 1, 1, 1])

#: Batches on which every miner finds something: (embeddings, labels).
NONEMPTY = {
    "3_classes_x_4": (np.random.default_rng(3).normal(size=(12, 5)), np.array([0, 1, 2] * 4)),
    "4_classes_x_2": (np.random.default_rng(0).normal(size=(8, 3)), np.array([0, 0, 1, 1, 2, 2, 3, 3])),
    "points_on_a_line": (TINY_X, TINY_Y),
}


@MINERS.parametrize()
def test_output_arrays(backend, dtype, entry):
    entry.skip_unless_supported(backend)
    for name, (x, y) in NONEMPTY.items():
        emb = backend.asarray(x, dtype)
        lab = backend.asarray(y, backend.xp.int64)
        miner = entry.make()
        for call in range(2):  # twice: a memory miner's empty bank, then a filled one
            out = miner(emb, lab)
            check_indices(backend, out, entry.n_outputs)
            assert sum(_sizes(out)) > 0, f"{entry.id} mined nothing on {name} (call {call})"
        assert isinstance(miner, BaseMiner)
        # host labels (list / NumPy) follow the embeddings: same result (fresh miners)
        want = to_lists(backend, entry.make()(emb, lab))
        assert to_lists(backend, entry.make()(emb, y.tolist())) == want
        assert to_lists(backend, entry.make()(emb, y)) == want
    if not entry.ref:
        return
    # with a separate reference set: a / a1 / a2 index the batch, p and n the reference set
    rng = np.random.default_rng(3)
    emb = backend.asarray(rng.normal(size=(12, 5)), dtype)
    lab = backend.asarray(np.array([0, 1, 2] * 4), backend.xp.int64)
    ref = backend.asarray(rng.normal(size=(7, 5)), dtype)
    rlab = backend.asarray(np.array([0, 1, 2, 0, 1, 2, 3]), backend.xp.int64)
    out_ref = entry.make()(emb, lab, ref, rlab)
    check_indices(backend, out_ref, entry.n_outputs)
    for i, t in enumerate(out_ref):
        h = backend.to_numpy(t)
        bound = 12 if (i == 0 or (len(out_ref) == 4 and i == 2)) else 7
        assert h.size == 0 or (h.min() >= 0 and h.max() < bound)


# -- empty outputs -----------------------------------------------------------------------------


def _near_duplicates():
    """Rows i and i + 3 are near-duplicates: close pairs and far pairs both exist."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(3, 3))
    return np.concatenate([base, base + 0.01 * rng.normal(size=(3, 3))])


_ND = _near_duplicates()
_GRID = np.arange(8, dtype=float).reshape(-1, 2)

#: case -> [(labels on the backend?, embeddings, labels)]. The first input of one_class /
#: all_distinct is built so that a pair miner finds the other side's pairs on it.
EMPTY_CASES = {
    "one_class": [
        (True, _ND, [0] * 6),
        (False, np.random.default_rng(0).normal(size=(6, 3)), [3] * 6),
        (False, _GRID, [3, 3, 3, 3]),
    ],
    "all_distinct": [
        (True, _ND, list(range(6))),
        (False, np.random.default_rng(1).normal(size=(6, 3)), list(range(6))),
        (False, _GRID, [0, 1, 2, 3]),
    ],
    "n1": [(True, _ND[:1], [0]), (False, np.ones((1, 3)), [0]), (False, _GRID[:1], [5])],
    "n0": [(False, np.zeros((0, 3)), [])],
}


def _empty_sides(entry, case):
    """Which outputs must be empty: 'all', or 'neg' / 'pos' (the other side is not)."""
    if case in ("n1", "n0") or entry.kind == "triplets" or entry.anchor_needs_both:
        return "all"
    return "neg" if case == "one_class" else "pos"


@pytest.mark.parametrize("case", list(EMPTY_CASES))
@MINERS.parametrize()
def test_empty_outputs(backend, dtype, entry, case):
    entry.skip_unless_supported(backend)
    sides = _empty_sides(entry, case)
    for i, (on_backend, x, y) in enumerate(EMPTY_CASES[case]):
        emb = backend.asarray(x, dtype)
        lab = backend.asarray(np.asarray(y, dtype=np.int64), backend.xp.int64) if on_backend else y
        miner = entry.make()
        if entry.stateful and case == "n0":
            with pytest.raises(ValueError, match="first batch is empty"):
                miner(emb, lab)
            continue
        # a bank that supplies positives: distinct labels are only empty before it fills
        calls = 1 if entry.cross_batch_positives and case == "all_distinct" else 3
        for _ in range(calls):
            out = miner(emb, lab)
            check_indices(backend, out, entry.n_outputs)
            sizes = _sizes(out)
            if sides == "all":
                assert sizes == [0] * len(out)
            elif sides == "neg":
                assert sizes[2] == sizes[3] == 0
                assert i > 0 or sizes[0] > 0, "no positive pairs on a batch that has them"
            else:
                assert sizes[0] == sizes[1] == 0
                assert i > 0 or sizes[2] > 0, "no negative pairs on a batch that has them"


@MINERS.parametrize()
def test_empty_reference_set(backend, dtype, entry):
    entry.skip_unless_supported(backend)
    emb = backend.asarray(np.ones((3, 2)), dtype)
    for ref, lab, rlab in (
        (backend.asarray(np.ones((0, 2)), dtype), [0, 0, 1], np.zeros(0, dtype=np.int64)),
        (backend.asarray(np.zeros((0, 2)), dtype), [0, 1, 0], []),
    ):
        miner = entry.make()
        if not entry.ref:
            with pytest.raises(ValueError, match="ref_emb"):
                miner(emb, lab, ref, rlab)
            continue
        out = miner(emb, lab, ref, rlab)
        check_indices(backend, out, entry.n_outputs)
        for t in out:
            assert_array(t, backend, dtype=backend.xp.int64, shape=(0,))


# -- bad input ---------------------------------------------------------------------------------


@MINERS.parametrize()
def test_call_errors(backend, entry):
    x = backend.xp.float32
    emb = backend.asarray(np.ones((3, 2)), x)
    miner = entry.make()
    with pytest.raises(ValueError, match="labels"):
        miner(emb, [0, 1])
    with pytest.raises(ValueError, match="2-D"):
        miner(backend.asarray(np.zeros(3), x), [0, 1, 2])
    with pytest.raises(ValueError, match="ref_labels" if entry.ref else "ref_emb"):
        miner(emb, [0, 1, 1], emb)
    with pytest.raises(ValueError, match="features" if entry.ref else "ref_emb"):
        miner(emb, [0, 1, 1], backend.asarray(np.ones((2, 3)), x), [0, 1])
    with pytest.raises(TypeError, match="embeddings"):
        miner(backend.asarray(np.ones((3, 2)), backend.xp.int64), [0, 1, 1])


# -- half precision ----------------------------------------------------------------------------


@pytest.mark.parametrize("lib, dtype_name", [("numpy", "float16"), ("torch", "float16"), ("torch", "bfloat16")])
@MINERS.parametrize()
def test_half_precision(lib, dtype_name, entry):
    """float16/bfloat16 embeddings: distances are computed in float32 and cast back; the miners
    work on the half-precision matrix (finfo sentinels of that dtype) and return valid int64 tuples."""
    if not entry.half:
        pytest.skip(f"{entry.id} does not take half-precision embeddings")
    backend = backend_or_skip(lib)
    dtype = getattr(backend.xp, dtype_name) if lib == "numpy" else getattr(__import__("torch"), dtype_name)
    rng = np.random.default_rng(11)
    lab = np.arange(20) % 4
    emb = backend.asarray(rng.normal(size=(20, 6)), dtype)
    mined = entry.mine(entry.make(), emb, lab)
    check_indices(backend, mined.out, entry.n_outputs)
    check_miner_output(mined.out, mined.labels, embeddings=mined.embeddings, allow_duplicates=entry.duplicates)
    assert sum(_sizes(mined.out)) > 0


# -- OML's call style --------------------------------------------------------------------------


@MINERS.where(oml=True).parametrize()
def test_sample_returns_embeddings(backend, dtype, entry):
    """OML's call style: ``sample(features, labels)`` returns embeddings, not indices."""
    entry.skip_unless_supported(backend)
    x = backend.asarray(TINY_X, dtype)
    out = entry.make().sample(x, TINY_Y)
    for e in out[:3]:
        assert_array(e, backend, dtype=dtype)
        assert e.shape[1] == 1 and e.shape[0] == out[0].shape[0]
    assert out[0].shape[0] > 0
