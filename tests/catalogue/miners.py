"""MINERS: every miner configuration the generic tests run.

To add a miner: add one :class:`MinerEntry` below, set its flags honestly, and write the
tests that only it needs (its hand-checked examples in ``tests/core/``, its selection rule
in ``tests/property/``, a ``tests/pml/`` file where it differs from PML on purpose). The
entry alone puts it through

- ``tests/core/test_miner_contract.py``: index arrays of the embeddings' namespace, device
  and int64 dtype on every backend and dtype, host labels, a reference set, empty
  outputs on one-class / all-distinct / N = 1 / N = 0 batches, an empty reference set,
  errors that name the argument, float16 / bfloat16, OML's ``sample`` where flagged;
- ``tests/property/test_miner_contract_properties.py``: the kit's invariants
  (:func:`agnostic_ml.testing.check_miner_output`) on hypothesis batches on every
  backend, same seed -> same output for random miners, batch sequences for banks;
- ``tests/pml/test_miners_vs_pml.py``: equal outputs with PML on a shared distance matrix,
  when ``pml`` is given.

``EmbeddingsAlreadyPackagedAsTriplets`` is not listed: it ignores the labels by design
(the batch *is* the triplets), so the label invariants do not apply to it; its own tests
are in ``tests/core/test_triplet_miners.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from agnostic_ml.distances import CosineSimilarity, LpDistance
from agnostic_ml.miners import (
    AllTripletsMiner,
    AngularMiner,
    BatchEasyHardMiner,
    BatchHardMiner,
    DistanceWeightedMiner,
    HardClusterMiner,
    HardTripletsMiner,
    HDCMiner,
    MinerWithBank,
    MultiSimilarityMiner,
    NHardTripletsMiner,
    PairMarginMiner,
    TripletMarginMiner,
    TripletMinerWithMemory,
    UniformHistogramMiner,
)

from . import PML, Catalogue, Entry

__all__ = ["MINERS", "Mined", "MinerEntry"]

KINDS = ("pairs", "triplets")


class Mined(NamedTuple):
    """A miner's output and the set its indices refer to (labels, embeddings)."""

    out: tuple
    labels: Any
    embeddings: Any


@dataclass(frozen=True, eq=False)
class MinerEntry(Entry):
    """A miner configuration and what the generic tests may expect of it.

    Parameters
    ----------
    kind : {"pairs", "triplets"}
        ``(a1, p, a2, n)`` or ``(a, p, n)``.
    random : bool
        Draws from ``self.rng`` (the factory seeds it): outputs are compared for
        "same seed, same output" instead of exactly.
    duplicates : bool
        May return the same tuple more than once (sampling with replacement).
    ref : bool
        Accepts a separate reference set (``ref_emb``, ``ref_labels``); False: it must
        raise ValueError naming ``ref_emb``.
    extended : bool
        Indices refer to the set ``mine_extended`` returns (``IndexedTriplets``: the
        batch plus class centres or memory-bank rows), not to the batch alone.
    stateful : bool
        The output depends on earlier calls (a memory bank): tests call it repeatedly
        and do not expect a repeated call to give the same tuples. Its first batch
        sizes the bank, so an empty first batch raises ValueError.
    cross_batch_positives : bool
        Stateful only: rows kept from earlier batches are positives and negatives for
        the batch's anchors, so a batch of all-distinct labels gives triplets once the
        bank holds an earlier batch.
    anchor_needs_both : bool
        Pairs only: an anchor's pairs are mined only when it has both a positive and a
        negative, so a one-class or all-distinct batch gives nothing on either side.
    data_dependent_shapes : bool
        Needs the array API's "data-dependent shapes" capability (skipped, visibly, on
        array-api-strict's strictest mode). Every miner we ship works without it.
    half : bool
        Accepts float16 / bfloat16 embeddings (NumPy float16, torch float16 / bfloat16).
    oml : bool
        Has OML's call style too: ``sample(features, labels)`` returns embeddings.
    """

    kind: str = ""
    random: bool = False
    duplicates: bool = False
    ref: bool = True
    extended: bool = False
    stateful: bool = False
    cross_batch_positives: bool = False
    anchor_needs_both: bool = False
    data_dependent_shapes: bool = False
    half: bool = True
    oml: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.anchor_needs_both and self.kind != "pairs":
            raise ValueError(f"{self.id}: anchor_needs_both only applies to pair miners")
        if self.cross_batch_positives and not self.stateful:
            raise ValueError(f"{self.id}: cross_batch_positives only applies to stateful miners")

    @property
    def n_outputs(self) -> int:
        return 4 if self.kind == "pairs" else 3

    def skip_unless_supported(self, backend: Any) -> None:
        """Skip (visibly) on a backend that lacks a capability this entry needs."""
        if self.data_dependent_shapes:
            caps = backend.xp.__array_namespace_info__().capabilities()
            if not caps.get("data-dependent shapes", True):
                pytest.skip(f"{self.id} needs data-dependent shapes, which {backend.name} lacks")

    def mine(self, miner: Any, embeddings: Any, labels: Any, ref_emb: Any = None, ref_labels: Any = None) -> Mined:
        """Call ``miner`` and say what its indices refer to: the batch, or for ``extended``
        entries the set ``mine_extended`` builds (the batch plus centres or bank rows)."""
        if self.extended and ref_emb is None:
            t = miner.mine_extended(embeddings, labels)
            return Mined(t.indices, t.labels, t.embeddings)
        if ref_emb is None:
            return Mined(miner(embeddings, labels), labels, embeddings)
        return Mined(miner(embeddings, labels, ref_emb, ref_labels), labels, embeddings)


def _triplet_margin(kind: str) -> MinerEntry:
    # margins that keep every triplet of the type in [0, 2]-valued distances, so the
    # empty-output tests are not vacuous: empty only because the labels allow nothing
    margin = 5.0 if kind != "easy" else -5.0
    return MinerEntry(
        f"triplet_margin_{kind}",
        lambda: TripletMarginMiner(margin=margin, type_of_triplets=kind),
        PML("miners.TripletMarginMiner", margin=margin, type_of_triplets=kind),
        kind="triplets",
    )


MINERS: Catalogue[MinerEntry] = Catalogue(
    [
        # -- PML's pair miners and batch-hard miners -------------------------------------
        MinerEntry("pair_margin", lambda: PairMarginMiner(), PML("miners.PairMarginMiner"), kind="pairs"),
        MinerEntry(
            "pair_margin_cos",
            lambda: PairMarginMiner(0.5, 0.3, distance=CosineSimilarity()),
            PML("miners.PairMarginMiner", 0.5, 0.3),
            kind="pairs",
        ),
        MinerEntry(
            "multi_similarity",
            lambda: MultiSimilarityMiner(),
            PML("miners.MultiSimilarityMiner"),
            kind="pairs",
            anchor_needs_both=True,
        ),
        MinerEntry(
            "multi_similarity_lp",
            lambda: MultiSimilarityMiner(distance=LpDistance()),
            PML("miners.MultiSimilarityMiner"),
            kind="pairs",
            anchor_needs_both=True,
        ),
        # PML's topk keeps an arbitrary subset of the pairs tied at the boundary: compared
        # up to those ties in tests/pml/test_pair_miners_vs_pml.py, not exactly.
        MinerEntry("hdc", lambda: HDCMiner(), kind="pairs"),
        MinerEntry(
            "batch_easy_hard",
            lambda: BatchEasyHardMiner(),
            PML("miners.BatchEasyHardMiner"),
            kind="pairs",
            anchor_needs_both=True,
        ),
        MinerEntry(
            "batch_easy_hard_all",
            lambda: BatchEasyHardMiner("all", "hard", distance=CosineSimilarity()),
            PML("miners.BatchEasyHardMiner", "all", "hard"),
            kind="pairs",
        ),
        MinerEntry("batch_hard", lambda: BatchHardMiner(), PML("miners.BatchHardMiner"), kind="triplets"),
        # random (PML draws from torch's global generator): compared per bin in tests/pml/
        MinerEntry(
            "uniform_histogram",
            lambda: UniformHistogramMiner(num_bins=5, pos_per_bin=2, neg_per_bin=3, rng=0),
            kind="pairs",
            random=True,
            duplicates=True,
        ),
        # -- PML's triplet miners --------------------------------------------------------
        *(_triplet_margin(k) for k in ("all", "hard", "semihard", "easy")),
        # PML measures the angle on the raw embeddings, we on the normalised ones (documented)
        MinerEntry("angular", lambda: AngularMiner(angle=0), kind="triplets"),
        MinerEntry(
            "distance_weighted",
            lambda: DistanceWeightedMiner(cutoff=0.0, nonzero_loss_cutoff=3.0, rng=0),
            kind="triplets",
            random=True,
            duplicates=True,
        ),
        # -- OML 4.0's miners (no PML counterpart) ---------------------------------------
        MinerEntry("all_triplets", lambda: AllTripletsMiner(), kind="triplets", oml=True),
        MinerEntry(
            "all_triplets_sub",
            lambda: AllTripletsMiner(max_output_triplets=3, rng=0),
            kind="triplets",
            random=True,
            oml=True,
        ),
        MinerEntry("hard_triplets", lambda: HardTripletsMiner(), kind="triplets", oml=True),
        MinerEntry("n_hard_triplets", lambda: NHardTripletsMiner((1, 2), 2), kind="triplets", oml=True),
        MinerEntry("hard_cluster", lambda: HardClusterMiner(), kind="triplets", ref=False, extended=True, oml=True),
        MinerEntry(
            "triplet_miner_with_memory",
            lambda: TripletMinerWithMemory(2, 3, rng=0),
            kind="triplets",
            random=True,
            duplicates=True,
            ref=False,
            extended=True,
            stateful=True,
            oml=True,
        ),
        MinerEntry(
            "miner_with_bank",
            lambda: MinerWithBank(1, NHardTripletsMiner(2, 2)),
            kind="triplets",
            ref=False,
            extended=True,
            stateful=True,
            cross_batch_positives=True,
            oml=True,
        ),
    ]
)
