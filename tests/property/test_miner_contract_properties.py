"""The kit's invariants on hypothesis batches, on every backend, for every catalogue entry.

Driven by ``tests/catalogue/miners.py``: a new entry is property-tested here without
editing this file. Batches come from :func:`agnostic_ml.testing.strategies.miner_batches`
(grid embeddings with exact ties, duplicated rows, one class / unique labels, N = 0 and 1,
reference sets with copied rows). For each entry:

- every output passes :func:`agnostic_ml.testing.check_miner_output` (namespace, device,
  integer dtype, index ranges, no self pairs without a reference set, label relations,
  no duplicates unless the entry samples with replacement); ``extended`` entries are
  checked against the set their indices refer to (``mine_extended``);
- ``stateful`` entries (memory banks) mine a sequence of batches of one size;
- same input and seed, same output: a second miner from the factory repeats the first
  exactly (order too), and random entries pass :func:`agnostic_ml.testing.check_deterministic`.

Each miner's own selection rule is tested in its own property file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_ml.testing import check_deterministic, check_miner_output
from catalogue.miners import MINERS
from helpers import miner_batches_on, to_host

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batches(backend, entry, data):
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    if not entry.stateful:
        with_ref = None if entry.ref else False
        return [data.draw(miner_batches_on(backend, max_n=12, dims=(1, 4), dtype=dtype, with_ref=with_ref))]
    # a bank keeps the first batch's size and width; its first batch must not be empty
    size, dim = data.draw(st.integers(1, 8), label="size"), data.draw(st.integers(1, 4), label="dim")
    steps = data.draw(st.integers(1, 3), label="steps")
    return [
        data.draw(miner_batches_on(backend, min_n=size, max_n=size, dims=dim, dtype=dtype, with_ref=False))
        for _ in range(steps)
    ]


def _run(entry, batches, backend):
    miner, outs = entry.make(), []
    for batch in batches:
        mined = entry.mine(miner, *batch.args())
        check_miner_output(
            mined.out,
            mined.labels,
            batch.ref_labels,
            embeddings=mined.embeddings,
            ref_emb=batch.ref_emb,
            allow_duplicates=entry.duplicates,
            expected_kind=entry.kind,
        )
        outs.append([x.tolist() for x in to_host(backend, mined.out)])
    return outs


@MINERS.parametrize()
@settings(max_examples=10)
@given(data=st.data())
def test_invariants_and_repeatability(backend, entry, data):
    entry.skip_unless_supported(backend)
    batches = _batches(backend, entry, data)
    first = _run(entry, batches, backend)
    assert _run(entry, batches, backend) == first, f"{entry.id}: a second miner from the factory differs"
    if entry.random and not entry.stateful:
        out = check_deterministic(entry.make(), batches[0], (0, 5))
        assert set(out) == {0, 5} and all(len(v) == entry.n_outputs for v in out.values())
        assert all(isinstance(x, np.ndarray) for v in out.values() for x in v)
