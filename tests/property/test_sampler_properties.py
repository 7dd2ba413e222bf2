"""Hypothesis properties of the M-per-class samplers over random label sets and settings.

For any labels (class sizes 1..9, 1..8 classes), m, classes per batch k and length:
- every batch holds m items of each of k distinct classes, and ``len()`` is what comes out;
- over an epoch with enough batches, every class is visited; cover_all visits every item;
- the same seed gives the same stream;
- rank shares are disjoint, hold m per class, and their union is the single-process batch;
- stopping after any number of units and resuming from the state in a fresh sampler gives
  the uninterrupted stream.
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from agnostic_ml_torch.samplers import MPerClassBatchSampler, MPerClassSampler  # noqa: E402


@st.composite
def settings_st(draw, cover_all=None):
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=8))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    labels = labels[np.random.default_rng(draw(st.integers(0, 2**16))).permutation(len(labels))]
    m = draw(st.integers(1, 4))
    k = draw(st.integers(1, len(sizes)))
    batches = draw(st.integers(1, 6))
    extra = draw(st.integers(0, m * k - 1))
    cover = draw(st.booleans()) if cover_all is None else cover_all
    return dict(labels=labels, m=m, batch_size=m * k, length=batches * m * k + extra, cover_all=cover,
                seed=draw(st.integers(0, 2**32)))


def make(cfg, cls=MPerClassBatchSampler, **kw):
    return cls(cfg["labels"], cfg["m"], cfg["batch_size"], cfg["length"], cover_all=cfg["cover_all"],
               **{"seed": cfg["seed"], **kw})


def check_batch(batch, labels, m, k):
    counts = Counter(labels[i].item() for i in batch)
    assert len(counts) == k and set(counts.values()) == {m}


@given(settings_st())
def test_batches_have_m_per_class_and_len_is_exact(cfg):
    s = make(cfg)
    flat = make(cfg, MPerClassSampler)
    batches, idx = list(s), list(flat)
    m, bs = cfg["m"], cfg["batch_size"]
    assert len(batches) == len(s) and len(idx) == len(flat) == len(s) * bs
    assert sum(batches, []) == idx
    if not cfg["cover_all"]:
        assert len(s) == cfg["length"] // bs
    for b in batches:
        check_batch(b, cfg["labels"], m, bs // m)
    if cfg["cover_all"]:
        assert set(idx) == set(range(len(cfg["labels"])))


@given(settings_st(cover_all=False))
def test_every_class_is_visited_over_enough_batches(cfg):
    labels, bs = cfg["labels"], cfg["batch_size"]
    c = int(labels.max()) + 1
    s = MPerClassSampler(labels, cfg["m"], bs, bs * 60 * c, seed=cfg["seed"])
    assert {labels[i].item() for i in s} == set(range(c))  # miss probability < c (1 - 1/c)^(60 c)


@given(settings_st())
def test_same_seed_same_stream(cfg):
    a, b = make(cfg), make(cfg)
    assert list(a) + list(a) == list(b) + list(b)


@given(settings_st(), st.integers(1, 4))
def test_rank_shares_disjoint_and_union_is_the_batch(cfg, world):
    k = cfg["batch_size"] // cfg["m"]
    if k % world:
        world = 1
    whole = list(make(cfg))
    shares = [list(make(cfg, num_replicas=world, rank=r)) for r in range(world)]
    for b, batch in enumerate(whole):
        parts = [sh[b] for sh in shares]
        assert sum(parts, []) == batch
        assert len(set().union(*map(set, parts))) == sum(len(set(p)) for p in parts)  # disjoint
        for p in parts:
            check_batch(p, cfg["labels"], cfg["m"], k // world)


@given(settings_st(), st.integers(0, 40), st.booleans())
def test_resume_from_any_point(cfg, k, batches):
    cls = MPerClassBatchSampler if batches else MPerClassSampler
    ref = make(cfg, cls)
    n = 2 * len(ref) + 1
    full = list(islice((u for _ in range(3) for u in ref), n))
    k = min(k, n)
    run = make(cfg, cls)
    head = list(islice((u for _ in range(3) for u in run), k))
    fresh = make(cfg, cls, seed=cfg["seed"] + 1)
    fresh.load_state_dict(run.state_dict())
    rest = list(islice((u for _ in range(3) for u in fresh), n - k))
    assert head + rest == full
