"""Every catalogue entry with a PML counterpart returns PML's tuples, on a shared distance matrix.

Driven by ``tests/catalogue/miners.py``: an entry whose ``pml`` names a PML miner is
compared here without editing this file. Both libraries mine the same matrix (our
distance's, handed to PML through ``pml_helpers.SharedMatrix``), on random batches with
and without a reference set, and must return the same multisets of tuples (the order may
differ: PML orders some outputs by value, ours are row-major). Entries without ``pml`` are
either not in PML (OML's miners) or differ from it on purpose; their own files here say how
they are compared instead.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_metric_learning.miners")

from catalogue.miners import MINERS  # noqa: E402
from pml_helpers import assert_same, make_batch, run_both, shared  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CASES = [
    pytest.param(entry, with_ref, id=f"{entry.id}-{'ref' if with_ref else 'self'}")
    for entry in MINERS.where(pml=lambda p: p is not None)
    for with_ref in ((False, True) if entry.ref else (False,))
]


@pytest.mark.parametrize("entry, with_ref", CASES)
def test_same_tuples_as_pml(combo, entry, with_ref):
    backend, dtype_name = combo
    for seed in range(4):
        ours = entry.make()
        theirs = entry.pml(distance=shared(ours.distance, backend, dtype_name))
        out_ours, out_pml = run_both(ours, theirs, backend, dtype_name, *make_batch(seed, with_ref=with_ref))
        assert_same(out_ours, out_pml, f"{entry.id} seed {seed}")
        if seed == 0:
            assert sum(len(o) for o in out_ours) > 0, f"{entry.id}: the comparison mined nothing"


def test_every_pml_entry_names_a_pml_miner():
    from pytorch_metric_learning.miners import BaseMiner as PMLBaseMiner

    for entry in MINERS:
        if entry.pml is not None:
            assert issubclass(entry.pml.resolve(), PMLBaseMiner), entry.id
