"""AllTripletsMiner: every valid triplet, or a uniform random subset of them (OML 4.0)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .._array_api import empty_indices, from_host_indices, index_dtype, namespace_and_device
from .._budget import DEFAULT_OUTPUT_BUDGET, check_output_budget, check_output_size
from .._random import as_generator
from .._typing import Array
from ..tuples import get_all_triplets_indices
from .._validate import check_int
from ._oml import (
    OMLTripletCalls,
    decode_product_ranks,
    kth_outside_group,
    label_groups,
    oml_distance,
    total_of,
)
from .base import BaseMiner


class AllTripletsMiner(OMLTripletCalls, BaseMiner):
    """All triplets ``(a, p, n)`` with ``label[a] == label[p]``, ``a != p``, ``label[n] != label[a]``.

    OML's ``AllTripletsMiner(max_output_triplets=sys.maxsize)``. The features are not used,
    only the labels. When there are more than ``max_output_triplets`` valid triplets, a
    subset of exactly that size is drawn uniformly *without replacement* with ``rng``.

    The subset is drawn without building the set of all triplets: per anchor
    ``count_a = #positives_a * #negatives_a``, ``max_output_triplets`` distinct global
    ranks are drawn from ``[0, sum_a count_a)`` on the host (``Generator.choice``,
    ``O(max_output_triplets)`` memory), sorted, moved to the device once and decoded
    arithmetically into ``(a, p, n)``. Memory is ``O(N + R + output)``; no ``N x R x R``
    array is ever built.

    Call contract (PML's): ``miner(embeddings, labels, ref_emb=None, ref_labels=None)``
    returns index arrays ``(a, p, n)`` (int64, the embeddings' namespace and device);
    ``a`` indexes ``embeddings``, ``p`` and ``n`` index the reference set (the batch
    itself by default, in which case ``a != p``; with a separate ``ref_emb`` nothing is
    excluded, PML's self-pair rule). OML's own call, :meth:`sample`, returns the
    embeddings instead.

    Differences from OML (documented choices):

    - output order is lexicographic ``(a, p, n)`` (PML's order), also for a random subset
      (the sampled ranks are sorted); OML returns its random subset in random order.
    - randomness only through ``rng``; OML uses the global ``np.random``.
    - a batch with no valid triplet (one class, one sample, ...) gives empty arrays; OML's
      ``sample`` asserts >= 2 labels and >= 2 samples per label.

    Parameters
    ----------
    max_output_triplets : int, default sys.maxsize
        Upper bound on the number of triplets returned (>= 1).
    rng : numpy.random.Generator | int | None
        Source of randomness for the subsampling (consumed across calls).
    collect_stats : bool, default False
    output_budget : int or None, default :data:`agnostic_ml.DEFAULT_OUTPUT_BUDGET` (2**28)
        The most triplets a call may return (``min(#valid triplets, max_output_triplets)``);
        a call that would return more raises :class:`agnostic_ml.OutputTooLargeError` before
        allocating anything (2000 rows of two classes ask for 2e9 triplets, 48 GB). Pass
        ``max_output_triplets`` to draw a random subset instead, or None for no limit.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_ml.miners import AllTripletsMiner
    >>> a, p, n = AllTripletsMiner()(np.zeros((4, 2)), [0, 0, 1, 1])
    >>> np.stack([a, p, n], axis=1).tolist()[:3]
    [[0, 1, 2], [0, 1, 3], [1, 0, 2]]
    >>> len(AllTripletsMiner(max_output_triplets=5, rng=0)(np.zeros((4, 2)), [0, 0, 1, 1])[0])
    5
    """

    def __init__(
        self,
        max_output_triplets: int = sys.maxsize,
        rng: Any = None,
        *,
        collect_stats: bool = False,
        output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
    ) -> None:
        super().__init__(collect_stats=collect_stats, distance=oml_distance())
        self.max_output_triplets = check_int(max_output_triplets, "max_output_triplets", minimum=1)
        self.output_budget = check_output_budget(output_budget)
        self.rng = as_generator(rng)

    def mine(self, embeddings: Array, labels: Array, ref_emb: Array, ref_labels: Array) -> tuple[Array, Array, Array]:
        exclude_self = ref_labels is labels
        return all_triplets_indices(
            labels, ref_labels, exclude_self=exclude_self, max_output=self.max_output_triplets, rng=self.rng,
            output_budget=self.output_budget,
        )

    def __repr__(self) -> str:
        return f"AllTripletsMiner(max_output_triplets={self.max_output_triplets})"


def triplet_counts(labels: Array, ref_labels: Array, *, exclude_self: bool, xp: Any) -> dict[str, Array]:
    """Per-anchor numbers of positives and negatives, plus the grouping used to decode them.

    ``exclude_self`` means the reference set is the batch itself (``a != p``).
    """
    _, device = namespace_and_device(labels)
    idt = index_dtype(xp, device)
    r = ref_labels.shape[0]
    groups = label_groups(ref_labels, xp=xp)
    start = xp.astype(xp.searchsorted(groups.sorted_labels, labels, side="left"), idt)
    end = xp.astype(xp.searchsorted(groups.sorted_labels, labels, side="right"), idt)
    size = end - start
    if exclude_self:
        inverse = xp.astype(xp.argsort(groups.order, stable=True), idt)
        self_pos = inverse - start  # position of the anchor inside its own group
        n_pos = size - 1
    else:
        self_pos = None
        n_pos = size
    n_neg = r - size
    return {"groups": groups, "start": start, "size": size, "self_pos": self_pos, "n_pos": n_pos, "n_neg": n_neg}


def decode_all_triplets(ranks: Array, counts: dict[str, Array], *, xp: Any) -> tuple[Array, Array, Array]:
    """Ranks in the lexicographic numbering of all triplets -> ``(a, p, n)``."""
    a, i, j = decode_product_ranks(ranks, counts["n_pos"], counts["n_neg"], xp=xp)
    start = xp.take(counts["start"], a)
    k = i
    if counts["self_pos"] is not None:
        k = i + xp.astype(i >= xp.take(counts["self_pos"], a), i.dtype)
    p = xp.take(counts["groups"].order, start + k)
    n = kth_outside_group(j, start, counts["groups"], xp=xp)
    return a, p, n


def all_triplets_indices(
    labels: Array,
    ref_labels: Array,
    *,
    exclude_self: bool,
    max_output: int = sys.maxsize,
    rng: np.random.Generator | None = None,
    output_budget: int | None = DEFAULT_OUTPUT_BUDGET,
) -> tuple[Array, Array, Array]:
    """All valid triplets in lexicographic order, or a sorted uniform subset of ``max_output``.

    Labels are arrays of one namespace and device (already validated). The output size,
    ``min(total, max_output)``, is checked against ``output_budget`` before anything is built.
    """
    xp, device = namespace_and_device(labels)
    if labels.shape[0] == 0 or ref_labels.shape[0] == 0:
        return empty_indices(3, xp=xp, device=device)
    counts = triplet_counts(labels, ref_labels, exclude_self=exclude_self, xp=xp)
    total = total_of(xp.cumulative_sum(counts["n_pos"] * counts["n_neg"]))
    if total == 0:
        return empty_indices(3, xp=xp, device=device)
    check_output_size(
        min(total, max_output), output_budget, where="AllTripletsMiner", what="triplets",
        way_out="pass max_output_triplets=<n> to draw a random subset of n triplets, or use a smaller batch",
    )
    if total <= max_output:
        # The shared blocked enumerator (same set and lexicographic order as the decoder).
        return get_all_triplets_indices(labels, None if exclude_self else ref_labels, output_budget=None)
    gen = as_generator(rng)
    host = gen.choice(total, size=max_output, replace=False, shuffle=False)
    host.sort()
    return decode_all_triplets(from_host_indices(host, xp=xp, device=device), counts, xp=xp)


def count_all_triplets(labels: Any, ref_labels: Any = None) -> int:
    """Number of valid triplets for host labels (PML's self-pair rule when ``ref_labels`` is None)."""
    lab = np.asarray(labels)
    if ref_labels is None:
        _, inv, cnt = np.unique(lab, return_inverse=True, return_counts=True)
        size = cnt[inv.reshape(-1)]
        return int(np.sum((size - 1) * (lab.shape[0] - size)))
    ref = np.asarray(ref_labels)
    same = (lab[:, None] == ref[None, :]).sum(axis=1)
    return int(np.sum(same * (ref.shape[0] - same)))
