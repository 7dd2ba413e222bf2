"""The draws of the M-per-class samplers, as pure NumPy functions of a generator.

- :func:`draw_within`: ``m`` items of each requested class, without replacement when the
  class has at least ``m`` items, else with replacement (PML's ``safe_random_choice``);
  vectorised with Floyd's algorithm (one pass per column, no per-class Python loop).
- :func:`plan_batches`: PML's mode with ``batch_size``: every batch draws
  ``batch_size // m`` distinct classes uniformly, then ``m`` items of each.
- :func:`plan_passes`: PML's mode without ``batch_size``: every pass visits all classes in
  a random order, ``m`` items each.
- :func:`plan_cover_all`: every item at least once per epoch, ``m`` per class per batch.
- :func:`cover_all_num_batches`: that epoch's length, known without drawing.
"""

from __future__ import annotations

import numpy as np

from ._common import LabelGroups

__all__ = ["cover_all_num_batches", "draw_within", "plan_batches", "plan_cover_all", "plan_passes"]

#: Random keys drawn at once when choosing classes for many batches (bounds the memory).
_KEY_BLOCK = 2**21


def draw_within(rng: np.random.Generator, groups: LabelGroups, cls: np.ndarray, m: int) -> np.ndarray:
    """Item indices, shape ``(len(cls), m)``: row ``r`` holds ``m`` items of class ``cls[r]``.

    Rows of classes with at least ``m`` items have no repeats (a uniform ``m``-subset in
    uniform order); rows of smaller classes are ``m`` independent uniform draws.
    """
    cls = np.asarray(cls, dtype=np.int64)
    n = groups.sizes[cls]
    p = cls.shape[0]
    out = np.empty((p, m), dtype=np.int64)
    small = n < m
    # Floyd's algorithm, 0-based: for j in n-m .. n-1, t ~ U{0..j}; take t unless already taken, then j.
    for i in range(m):
        j = n - m + i
        t = rng.integers(0, np.maximum(j, 0) + 1)
        taken = (out[:, :i] == t[:, None]).any(axis=1) if i else np.zeros(p, dtype=bool)
        out[:, i] = np.where(taken, j, t)
    if small.any():
        out[small] = rng.integers(0, n[small][:, None], size=(int(small.sum()), m))
    out = rng.permuted(out, axis=1)  # Floyd's subset is uniform, its order is not
    return groups.members[groups.starts[cls][:, None] + out]


def _choose_classes(rng: np.random.Generator, num_classes: int, k: int, num_batches: int) -> np.ndarray:
    """``(num_batches, k)`` class numbers: each row ``k`` distinct classes in uniform random order."""
    rows = []
    block = max(1, _KEY_BLOCK // num_classes)
    for start in range(0, num_batches, block):
        b = min(block, num_batches - start)
        keys = rng.random((b, num_classes))
        rows.append(np.argpartition(keys, k - 1, axis=1)[:, :k] if k < num_classes else np.argsort(keys, axis=1))
    chosen = np.concatenate(rows, axis=0) if rows else np.empty((0, k), dtype=np.int64)
    return rng.permuted(chosen, axis=1)


def plan_batches(rng: np.random.Generator, groups: LabelGroups, m: int, batch_size: int, num_batches: int) -> np.ndarray:
    """PML's batches: ``(num_batches, batch_size)`` item indices, grouped ``m`` per class."""
    k = batch_size // m
    cls = _choose_classes(rng, groups.num_classes, k, num_batches)
    items = draw_within(rng, groups, cls.reshape(-1), m)
    return items.reshape(num_batches, batch_size)


def plan_passes(rng: np.random.Generator, groups: LabelGroups, m: int, num_passes: int) -> np.ndarray:
    """PML's passes without ``batch_size``: ``num_passes * m * num_classes`` indices."""
    c = groups.num_classes
    cls = np.concatenate([rng.permutation(c) for _ in range(num_passes)])
    return draw_within(rng, groups, cls, m).reshape(-1)


def _chunks_per_class(groups: LabelGroups, m: int) -> np.ndarray:
    return -(-groups.sizes // m)  # ceil(n_c / m), at least 1


def cover_all_num_batches(groups: LabelGroups, m: int, batch_size: int) -> int:
    """``max(ceil(K / k), max_c q_c)`` with ``q_c = ceil(n_c / m)``, ``K = sum q_c``, ``k = batch_size // m``."""
    q = _chunks_per_class(groups, m)
    k = batch_size // m
    return int(max(-(-int(q.sum()) // k), int(q.max())))


def _schedule(rng: np.random.Generator, counts: np.ndarray, k: int, num_batches: int) -> np.ndarray:
    """``(num_batches, k)`` classes, class ``c`` in exactly ``counts[c]`` batches, never twice in one.

    Needs ``counts.sum() == k * num_batches`` and ``counts <= num_batches``. Batch by batch,
    the classes that must appear in every remaining batch (*critical*: as many chunks left
    as batches) are taken, and the rest of the batch is drawn without replacement with
    probability proportional to each free class's remaining chunks. Both conditions then
    hold for the batches left, so it never fails.

    The weighted draws are a lazy Fisher-Yates shuffle of a deck with one card per chunk: a
    card is drawn uniformly from the undealt ones and dealt if its class is free (else it
    stays undealt); a critical class's card is removed the next time one comes up. A draw
    is accepted with probability at least ``1 / k``, so the whole epoch is
    ``O(k * num_batches * k)`` steps, independent of the number of classes.
    """
    c = counts.shape[0]
    deck = np.repeat(np.arange(c, dtype=np.int64), counts).tolist()
    total = len(deck)
    remaining = counts.astype(np.int64).tolist()
    owed = [0] * c  # cards of a critical class still in the deck though already dealt
    by_count: dict[int, set[int]] = {}
    for cls, r in enumerate(remaining):
        if r:
            by_count.setdefault(r, set()).add(cls)
    out = np.empty((num_batches, k), dtype=np.int64)
    pos = 0
    buf, bi = rng.random(4 * total + 64), 0
    for b in range(num_batches):
        critical = list(by_count.get(num_batches - b, ()))
        row = list(critical)
        chosen = set(row)
        for cls in critical:
            owed[cls] += 1
        while len(row) < k:
            if bi == buf.shape[0]:
                buf, bi = rng.random(4 * total + 64), 0
            j = pos + int(buf[bi] * (total - pos))
            bi += 1
            deck[pos], deck[j] = deck[j], deck[pos]
            cls = deck[pos]
            if owed[cls]:
                owed[cls] -= 1
                pos += 1
            elif cls not in chosen:
                chosen.add(cls)
                row.append(cls)
                pos += 1
        for cls in row:
            r = remaining[cls]
            by_count[r].discard(cls)
            remaining[cls] = r - 1
            if r > 1:
                by_count.setdefault(r - 1, set()).add(cls)
        out[b] = row
    return rng.permuted(out, axis=1)


def plan_cover_all(rng: np.random.Generator, groups: LabelGroups, m: int, batch_size: int) -> np.ndarray:
    """One epoch that holds every item at least once: ``(num_batches, batch_size)`` indices.

    1. Each class is shuffled and cut into ``q_c = ceil(n_c / m)`` chunks of ``m``: chunk
       ``j`` is items ``[j m, j m + m)`` of the shuffled class, except the last, which is its
       last ``m`` items (so it overlaps the previous chunk instead of repeating an item). A
       class with fewer than ``m`` items is one chunk: all its items plus ``m - n_c`` drawn
       with replacement.
    2. The ``num_batches * k - K`` slots left over are filled with extra chunks of classes
       drawn uniformly among the free (class, batch) slots, drawn as PML draws (``m``
       without replacement, or with replacement for a small class).
    3. :func:`_schedule` places each class's chunks in distinct batches; a class's chunks
       go to its batches in random order.
    """
    k = batch_size // m
    c = groups.num_classes
    q = _chunks_per_class(groups, m)
    num_batches = cover_all_num_batches(groups, m, batch_size)
    deficit = num_batches * k - int(q.sum())
    # ``deficit`` of the free (class, batch) slots, uniformly without replacement
    extra_counts = rng.multivariate_hypergeometric(num_batches - q, deficit) if deficit else np.zeros(c, np.int64)
    extra_cls = np.repeat(np.arange(c, dtype=np.int64), extra_counts)
    counts = q + extra_counts

    # 1. the covering chunks, class by class in class order
    perm = groups.members[np.lexsort((rng.random(groups.members.shape[0]), groups.inverse[groups.members]))]
    chunk_cls = np.repeat(np.arange(c, dtype=np.int64), q)
    j = np.arange(chunk_cls.shape[0], dtype=np.int64) - np.repeat(np.cumsum(q) - q, q)
    n = groups.sizes[chunk_cls]
    start = np.minimum(j * m, np.maximum(n - m, 0))
    offsets = start[:, None] + np.arange(m, dtype=np.int64)[None, :]
    small = n < m
    if small.any():  # the class's items, then draws with replacement in the columns past n_c
        filler = rng.integers(0, n[:, None], size=offsets.shape)
        offsets = np.where(offsets >= n[:, None], filler, offsets)
    cover = perm[groups.starts[chunk_cls][:, None] + offsets]
    if small.any():
        cover[small] = rng.permuted(cover[small], axis=1)
    # 2. the extra chunks
    extra = draw_within(rng, groups, extra_cls, m)
    chunks = np.concatenate([cover, extra], axis=0)
    owner = np.concatenate([chunk_cls, extra_cls])
    # each class's chunks in random order, grouped by class
    order = np.lexsort((rng.random(owner.shape[0]), owner))
    chunks = chunks[order]
    # 3. the batches
    sched = _schedule(rng, counts, k, num_batches)
    flat = sched.reshape(-1)
    slot_order = np.argsort(flat, kind="stable")  # the slots of each class, grouped by class
    rows = np.empty(flat.shape[0], dtype=np.int64)
    rows[slot_order] = np.arange(flat.shape[0], dtype=np.int64)
    return chunks[rows].reshape(num_batches, batch_size)
