"""CASES: bad inputs across the public API, each with the error it must raise.

One :class:`Case` per bad input: the call, the exception type it must raise and a regex
its message must match (``re.search``). ``tests/reliability/test_bad_inputs.py`` runs
them all: the cases with ``arrays=True`` on every CPU backend (numpy, torch,
array_api_strict, array_api_strict_strictest: the call receives the test's
:class:`~agnostic_ml.testing.backends.Backend`), the others once (constructor
arguments, host data, the command line).

The areas, in order: distances, tuples, reducers, miners, losses, regularizers,
accuracy (knn, kmeans, AccuracyCalculator), testing kit, cli. Each area covers:

- the *silent wrong results* of issue 12, now errors: non-finite embeddings (the
  library's policy: ``ValueError`` naming the array and its first bad row, at every entry
  point), NaN labels, out-of-range or negative tuple indices, settings that can never
  select anything;
- the memory guards (:class:`agnostic_ml.OutputTooLargeError` before allocating);
- the named errors that already existed, so that none regresses.

To add a case, append it to the builder of its area; ids must be unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import agnostic_ml.losses as L
import agnostic_ml.regularizers as R
from agnostic_ml import OutputTooLargeError
from agnostic_ml import tuples as T
from agnostic_ml.accuracy import AccuracyCalculator, ExactKNN, KMeans, kmeans, knn
from agnostic_ml.distances import (
    BatchedDistance,
    CosineSimilarity,
    DotProductSimilarity,
    LpDistance,
    SNRDistance,
)
from agnostic_ml.miners import (
    AllTripletsMiner,
    AngularMiner,
    BaseMiner,
    BatchEasyHardMiner,
    BatchHardMiner,
    DistanceWeightedMiner,
    HDCMiner,
    MinerWithBank,
    NHardTripletsMiner,
    TripletMarginMiner,
)
from agnostic_ml.reducers import (
    AvgNonZeroReducer,
    ClassWeightedReducer,
    DivisorReducer,
    MeanReducer,
    MultipleReducers,
    PerAnchorReducer,
    SumReducer,
    ThresholdReducer,
)

from catalogue.core_components import D, loss_classes, make_loss, make_regularizer, regularizer_classes
from catalogue.miners import MINERS

__all__ = ["CASES", "Case", "CLIExit"]

Backend = Any
N = 8
LAB = [0, 0, 1, 1, 2, 2, 3, 3]
NAN, INF = float("nan"), float("inf")


@dataclass(frozen=True)
class Case:
    """One bad input: ``call(backend)`` (``arrays``) or ``call()`` must raise ``exc`` matching ``match``."""

    id: str
    area: str
    call: Callable[..., Any]
    exc: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    arrays: bool = True


class CLIExit(Exception):
    """The command line returned exit code 2; the message is its one stderr line."""


# -- array helpers ---------------------------------------------------------------------------------


def emb(b: Backend, n: int = N, d: int = D, *, bad: tuple[int, int, float] | None = None, seed: int = 0) -> Any:
    """``n x d`` float64 embeddings of backend ``b``; ``bad=(row, col, value)`` plants one value."""
    x = np.random.default_rng(seed).standard_normal((n, d))
    if bad is not None:
        x[bad[0], bad[1]] = bad[2]
    return b.asarray(x, b.xp.float64)


def ints(b: Backend, values: Any) -> Any:
    return b.asarray(np.asarray(values, dtype=np.int64), b.xp.int64)


def flabels(b: Backend, nan_at: int | None = None, n: int = N) -> Any:
    lab = np.asarray((LAB * (n // N + 1))[:n], dtype=np.float64)
    if nan_at is not None:
        lab[nan_at] = np.nan
    return b.asarray(lab, b.xp.float64)


def two_classes(n: int) -> np.ndarray:
    return np.arange(n) % 2


# The example: 2000 rows of two classes ask for 2 * 1000 * 999 * 1000 triplets.
BIG = 2000
BIG_TRIPLETS = "1,998,000,000 triplets"

_cases: list[Case] = []


def case(id: str, area: str, call: Callable[..., Any], exc: Any, match: str, *, arrays: bool = True) -> None:
    _cases.append(Case(f"{area}-{id}", area, call, exc, match, arrays))


def config(id: str, area: str, call: Callable[[], Any], exc: Any, match: str) -> None:
    case(id, area, call, exc, match, arrays=False)


# -- distances ---------------------------------------------------------------------------------------


def _distances() -> None:
    a = "distances"
    config("lp_p_zero", a, lambda: LpDistance(p=0), ValueError, "p must be a positive number")
    config("lp_p_negative", a, lambda: LpDistance(p=-1), ValueError, "p must be a positive number")
    config("lp_p_string", a, lambda: LpDistance(p="2"), ValueError, "p must be a positive number")
    config("lp_p_bool", a, lambda: LpDistance(p=True), ValueError, "p must be a positive number")
    config("lp_power_string", a, lambda: LpDistance(power="1"), TypeError, "power must be a number")
    config("lp_inverted", a, lambda: LpDistance(is_inverted=True), ValueError, "is_inverted must be False")
    config("snr_inverted", a, lambda: SNRDistance(is_inverted=True), ValueError, "is_inverted must be False")
    config("dot_not_inverted", a, lambda: DotProductSimilarity(is_inverted=False), ValueError, "is_inverted must be True")
    config("cos_no_normalize", a, lambda: CosineSimilarity(normalize_embeddings=False), ValueError, "always normalises")
    config("batched_not_distance", a, lambda: BatchedDistance("lp"), TypeError, "distance must be an agnostic_ml distance")
    config("batched_iter_fn", a, lambda: BatchedDistance(LpDistance(), iter_fn=3), TypeError, "iter_fn must be callable")
    config("batched_size_zero", a, lambda: BatchedDistance(LpDistance(), batch_size=0), ValueError, "batch_size must be a positive int")
    config("batched_size_bool", a, lambda: BatchedDistance(LpDistance(), batch_size=True), ValueError, "batch_size must be a positive int")
    config("batched_size_float", a, lambda: BatchedDistance(LpDistance(), batch_size=2.0), ValueError, "batch_size must be a positive int")
    dists = {
        "lp": LpDistance,
        "lp1": lambda: LpDistance(p=1),
        "lp3": lambda: LpDistance(p=3),
        "lp_raw": lambda: LpDistance(normalize_embeddings=False),
        "cos": CosineSimilarity,
        "dot": lambda: DotProductSimilarity(normalize_embeddings=False),
        "snr": SNRDistance,
    }
    for name, make in dists.items():
        case(f"{name}_1d", a, lambda b, m=make: m()(b.asarray(np.ones(4), b.xp.float64)), ValueError, r"query_emb must be 2-D")
        case(f"{name}_3d", a, lambda b, m=make: m()(b.asarray(np.ones((2, 2, 2)), b.xp.float64)), ValueError, r"query_emb must be 2-D")
        case(f"{name}_int", a, lambda b, m=make: m()(ints(b, np.ones((3, 2), dtype=np.int64))), TypeError, "query_emb must have a real floating dtype")
        case(f"{name}_ref_features", a, lambda b, m=make: m()(emb(b), emb(b, 3, D + 1)), ValueError, r"ref_emb has 5 features but query_emb has 4")
        case(f"{name}_ref_1d", a, lambda b, m=make: m()(emb(b), b.asarray(np.ones(4), b.xp.float64)), ValueError, "ref_emb must be 2-D")
        case(f"{name}_not_array", a, lambda b, m=make: m()(None), TypeError, "")
    case("batched_no_iter_fn", a, lambda b: BatchedDistance(LpDistance())(emb(b)), ValueError, "iter_fn is None")
    case("smallest_dist_axis", a, lambda b: LpDistance().smallest_dist(emb(b), emb(b), axis=1), TypeError, "take no axis")


# -- tuples ---------------------------------------------------------------------------------------------


def _tuples() -> None:
    a = "tuples"
    label_users: dict[str, Callable[..., Any]] = {
        "matches_and_diffs": T.get_matches_and_diffs,
        "all_pairs": T.get_all_pairs_indices,
        "all_triplets": T.get_all_triplets_indices,
        "random_triplets": lambda lab, ref=None, **kw: T.get_random_triplet_indices(lab, ref, rng=0, **kw),
        "convert_to_pairs_none": lambda lab, ref=None, **kw: T.convert_to_pairs(None, lab, ref, **kw),
        "convert_to_triplets_all": lambda lab, ref=None, **kw: T.convert_to_triplets(None, lab, ref, t_per_anchor="all", **kw),
    }
    for name, fn in label_users.items():
        case(f"{name}_nan_labels", a, lambda b, f=fn: f(flabels(b, nan_at=2)), ValueError, r"labels\[2\] is NaN")
        case(f"{name}_nan_ref_labels", a, lambda b, f=fn: f(flabels(b), flabels(b, nan_at=0)), ValueError, r"ref_labels\[0\] is NaN")
        case(f"{name}_labels_2d", a, lambda b, f=fn: f(ints(b, [[0, 1], [1, 0]])), ValueError, "labels must be 1-D")
        case(f"{name}_labels_bool", a, lambda b, f=fn: f(b.asarray(np.array([True, False]))), TypeError, "integer")
        config(f"{name}_labels_none", a, lambda f=fn: f(None), TypeError, "labels is required")
        config(f"{name}_labels_ragged", a, lambda f=fn: f([[0, 1], [2]]), TypeError, "ragged")
    # output budgets
    config("all_triplets_issue_example", a, lambda: T.get_all_triplets_indices(two_classes(BIG)), OutputTooLargeError,
           f"get_all_triplets_indices would return {BIG_TRIPLETS}.*output_budget=268,435,456.*miner")
    config("all_triplets_issue_example_is_memory_error", a, lambda: T.get_all_triplets_indices(two_classes(BIG)), MemoryError,
           "GiB")
    case("all_triplets_budget", a, lambda b: T.get_all_triplets_indices(ints(b, LAB), output_budget=10), OutputTooLargeError,
         r"would return 48 triplets .* more than output_budget=10")
    case("all_pairs_budget", a, lambda b: T.get_all_pairs_indices(ints(b, LAB), output_budget=10), OutputTooLargeError,
         r"get_all_pairs_indices would return 56 pairs")
    case("all_pairs_budget_ref", a, lambda b: T.get_all_pairs_indices(ints(b, LAB), ints(b, LAB), output_budget=63),
         OutputTooLargeError, r"64 pairs")
    case("random_triplets_budget", a, lambda b: T.get_random_triplet_indices(ints(b, LAB), t_per_anchor=10**9, rng=0),
         OutputTooLargeError, r"get_random_triplet_indices would return 8,000,000,000 triplets.*t_per_anchor")
    case("convert_none_all_budget", a, lambda b: T.convert_to_triplets(None, ints(b, LAB), t_per_anchor="all", output_budget=5),
         OutputTooLargeError, "would return 48 triplets")
    case("convert_none_pairs_budget", a, lambda b: T.convert_to_pairs(None, ints(b, LAB), output_budget=3),
         OutputTooLargeError, "56 pairs")
    case("pairs_to_triplets_budget", a,
         lambda b: T.convert_to_triplets(tuple(ints(b, v) for v in ([0, 0], [1, 1], [0, 0, 0], [2, 3, 4])), ints(b, LAB), output_budget=5),
         OutputTooLargeError, r"convert_to_triplets would return 6 triplets \(pairs combined per anchor\)")
    for bad, err, msg in ((0, ValueError, "positive int or None"), (-3, ValueError, "positive int or None"),
                          (1.5, TypeError, "positive int or None"), (True, TypeError, "positive int or None"),
                          ("10", TypeError, "positive int or None")):
        config(f"output_budget_{bad!r}", a, lambda v=bad: T.get_all_triplets_indices(LAB, output_budget=v), err, msg)
    # random triplets' own arguments
    config("random_t_negative", a, lambda: T.get_random_triplet_indices(LAB, t_per_anchor=-1), ValueError, "t_per_anchor must be")
    config("random_t_all", a, lambda: T.get_random_triplet_indices(LAB, t_per_anchor="all"), ValueError, "t_per_anchor must be")
    config("random_t_float", a, lambda: T.get_random_triplet_indices(LAB, t_per_anchor=1.5), ValueError, "t_per_anchor must be")
    config("convert_t_bad", a, lambda: T.convert_to_triplets(None, LAB, t_per_anchor="some"), ValueError, "t_per_anchor must be")
    config("random_weights_shape", a, lambda: T.get_random_triplet_indices(LAB, weights=np.ones((N, N + 1))), ValueError,
           r"weights must have shape")
    config("random_weights_negative", a, lambda: T.get_random_triplet_indices(LAB, weights=-np.ones((N, N))), ValueError,
           "finite and non-negative")
    config("random_weights_nan", a, lambda: T.get_random_triplet_indices(LAB, weights=np.full((N, N), np.nan)), ValueError,
           "finite and non-negative")
    config("random_weights_inf", a, lambda: T.get_random_triplet_indices(LAB, weights=np.full((N, N), np.inf)), ValueError,
           "finite and non-negative")
    # tuple conversions: shapes and dtypes
    conv: dict[str, Callable[..., Any]] = {
        "convert_to_pairs": lambda t, lab: T.convert_to_pairs(t, lab),
        "convert_to_triplets": lambda t, lab: T.convert_to_triplets(t, lab),
        "convert_to_weights": lambda t, lab: T.convert_to_weights(t, lab),
        "get_anchors": lambda t, lab: T.get_anchors(t),
    }
    for name, fn in conv.items():
        case(f"{name}_two_arrays", a, lambda b, f=fn: f((ints(b, [0]), ints(b, [1])), ints(b, LAB)), ValueError, "indices_tuple must be")
        config(f"{name}_not_tuple", a, lambda f=fn: f(3, LAB), ValueError, "indices_tuple must be")
        case(f"{name}_ragged_triplets", a, lambda b, f=fn: f((ints(b, [0, 1]), ints(b, [1]), ints(b, [2])), ints(b, LAB)),
             ValueError, "equal lengths")
        case(f"{name}_ragged_pairs", a, lambda b, f=fn: f((ints(b, [0, 1]), ints(b, [1]), ints(b, [2]), ints(b, [3])), ints(b, LAB)),
             ValueError, r"len\(a1\) == len\(p\)")
        case(f"{name}_float_indices", a, lambda b, f=fn: f(tuple(b.asarray([0.0], b.xp.float64) for _ in range(3)), ints(b, LAB)),
             TypeError, "integer dtype")
        case(f"{name}_2d_indices", a, lambda b, f=fn: f(tuple(ints(b, [[0]]) for _ in range(3)), ints(b, LAB)),
             ValueError, "1-D index array")
    # tuple conversions: ranges (issue 12: PML passes them on)
    trip = lambda b, av, pv, nv: tuple(ints(b, v) for v in (av, pv, nv))  # noqa: E731
    pair = lambda b, a1, p, a2, n: tuple(ints(b, v) for v in (a1, p, a2, n))  # noqa: E731
    for name, fn in (("pairs", T.convert_to_pairs), ("triplets", T.convert_to_triplets)):
        case(f"to_{name}_negative_anchor", a, lambda b, f=fn: f(trip(b, [-1], [1], [2]), ints(b, LAB)), ValueError,
             r"indices_tuple\[0\] \(a\): anchor indices must be in \[0, 8\), got values in \[-1, -1\]")
        case(f"to_{name}_anchor_past_end", a, lambda b, f=fn: f(trip(b, [8], [1], [2]), ints(b, LAB)), ValueError,
             r"\(a\): anchor indices must be in \[0, 8\)")
        case(f"to_{name}_positive_past_ref", a, lambda b, f=fn: f(trip(b, [0], [3], [2]), ints(b, LAB), ints(b, [0, 1, 2])), ValueError,
             r"indices_tuple\[1\] \(p\): reference indices must be in \[0, 3\)")
        case(f"to_{name}_negative_negative", a, lambda b, f=fn: f(trip(b, [0], [1], [-2]), ints(b, LAB)), ValueError,
             r"indices_tuple\[2\] \(n\): reference indices must be in \[0, 8\)")
        case(f"to_{name}_pairs_a2_past_end", a, lambda b, f=fn: f(pair(b, [0], [1], [9], [2]), ints(b, LAB)), ValueError,
             r"indices_tuple\[2\] \(a2\): anchor indices")
        case(f"to_{name}_pairs_n_past_ref", a, lambda b, f=fn: f(pair(b, [0], [1], [0], [5]), ints(b, LAB), ints(b, [0, 1])), ValueError,
             r"indices_tuple\[3\] \(n\): reference indices must be in \[0, 2\)")
        case(f"to_{name}_no_labels_negative", a, lambda b, f=fn: f(trip(b, [0], [-1], [2]), None), ValueError,
             r"reference indices must be >= 0")
    case("weights_out_of_range", a, lambda b: T.convert_to_weights(trip(b, [0], [1], [8]), ints(b, LAB)), ValueError,
         r"outside \[0, 8\)")
    case("weights_negative", a, lambda b: T.convert_to_weights(trip(b, [0], [-1], [2]), ints(b, LAB)), ValueError, r"outside \[0, 8\)")
    case("weights_nan_labels", a, lambda b: T.convert_to_weights(trip(b, [0], [1], [2]), flabels(b, nan_at=1)), ValueError,
         r"labels\[1\] is NaN")
    # remove_self_comparisons, logsumexp
    case("remove_self_empty_batch", a, lambda b: T.remove_self_comparisons(trip(b, [0], [1], [2]), ints(b, []), 4), ValueError,
         "curr_batch_idx must not be empty")
    case("remove_self_small_ref", a, lambda b: T.remove_self_comparisons(trip(b, [0], [1], [2]), ints(b, [0, 1, 2]), 2), ValueError,
         "ref_size must be an int >=")
    case("remove_self_ref_not_int", a, lambda b: T.remove_self_comparisons(trip(b, [0], [1], [2]), ints(b, [0]), "4"), ValueError,
         "ref_size must be an int")
    case("logsumexp_1d", a, lambda b: T.logsumexp(b.asarray(np.ones(3), b.xp.float64)), ValueError, "x must be 2-D")
    case("logsumexp_dim", a, lambda b: T.logsumexp(emb(b), dim=2), ValueError, "dim must be 0 or 1")
    case("logsumexp_mask_shape", a, lambda b: T.logsumexp(emb(b), keep_mask=b.asarray(np.ones((2, 2), dtype=bool))), ValueError,
         "keep_mask must have x's shape")


# -- reducers -------------------------------------------------------------------------------------------


def _loss_dict(b: Backend, **entry: Any) -> dict:
    base = {"losses": b.asarray(np.ones(3), b.xp.float64), "indices": ints(b, [0, 1, 2]), "reduction_type": "element"}
    base.update(entry)
    return {"loss": base}


def _reducers() -> None:
    a = "reducers"
    config("threshold_neither", a, lambda: ThresholdReducer(), ValueError, "at least one of low or high")
    config("threshold_low_string", a, lambda: ThresholdReducer(low="0"), TypeError, "low must be a number or None")
    config("threshold_high_string", a, lambda: ThresholdReducer(high="1"), TypeError, "high must be a number or None")
    config("threshold_low_nan", a, lambda: ThresholdReducer(low=NAN), ValueError, "low must not be NaN")
    config("threshold_high_nan", a, lambda: ThresholdReducer(high=NAN), ValueError, "high must not be NaN")
    config("threshold_low_above_high", a, lambda: ThresholdReducer(low=2, high=1), ValueError,
           "low must be < high; got low=2, high=1, which can never keep a loss")
    config("threshold_low_equals_high", a, lambda: ThresholdReducer(low=1, high=1), ValueError, "low must be < high")
    config("threshold_low_inf", a, lambda: ThresholdReducer(low=INF), ValueError, "low must be < inf")
    config("threshold_high_minus_inf", a, lambda: ThresholdReducer(high=-INF), ValueError, "high must be > -inf")
    config("class_weighted_none", a, lambda: ClassWeightedReducer(None), TypeError, "needs weights")
    config("per_anchor_func", a, lambda: PerAnchorReducer(aggregation_func=3), TypeError, "aggregation_func must be callable")
    config("multiple_not_dict", a, lambda: MultipleReducers("x"), TypeError, "reducers must be a dict")
    config("multiple_not_reducer", a, lambda: MultipleReducers({"loss": 3}), TypeError, r"reducers\['loss'\] must be a reducer")
    reducers: dict[str, Callable[[], Any]] = {
        "mean": MeanReducer,
        "sum": SumReducer,
        "avg_non_zero": AvgNonZeroReducer,
        "threshold": lambda: ThresholdReducer(low=0),
        "per_anchor": PerAnchorReducer,
        "class_weighted": lambda: ClassWeightedReducer([1.0, 2.0, 3.0]),
    }
    for name, make in reducers.items():
        case(f"{name}_not_dict", a, lambda b, m=make: m()([1.0], emb(b), ints(b, [0, 1, 2])), TypeError, "expects a loss dict")
        case(f"{name}_two_entries", a, lambda b, m=make: m()({**_loss_dict(b), "x": _loss_dict(b)["loss"]}, emb(b), ints(b, [0, 1, 2])),
             ValueError, "exactly one entry")
        case(f"{name}_missing_key", a, lambda b, m=make: m()({"loss": {"losses": 0}}, emb(b), None), ValueError, "lacks the key")
        case(f"{name}_unknown_type", a, lambda b, m=make: m()(_loss_dict(b, reduction_type="quad"), emb(b), None), ValueError,
             "unknown reduction_type 'quad'")
        case(f"{name}_length_mismatch", a, lambda b, m=make: m()(_loss_dict(b, indices=ints(b, [0, 1])), emb(b), ints(b, [0, 1, 2])),
             ValueError, "element losses have length 3 but indices have length 2")
        case(f"{name}_embeddings_none", a, lambda b, m=make: m()(_loss_dict(b), None, None), TypeError, "embeddings must be an array")
        case(f"{name}_losses_string", a, lambda b, m=make: m()(_loss_dict(b, losses="x"), emb(b), None), TypeError,
             "losses must be an array or the int 0")
        case(f"{name}_triplet_indices", a,
             lambda b, m=make: m()(_loss_dict(b, reduction_type="triplet", indices=(ints(b, [0, 1, 2]),)), emb(b), ints(b, [0, 1, 2])),
             ValueError, "triplet indices must be a tuple of 3 index arrays")
        case(f"{name}_already_reduced_size", a, lambda b, m=make: m()(_loss_dict(b, reduction_type="already_reduced"), emb(b), None),
             ValueError, "already_reduced losses must be 0-D")
        case(f"{name}_element_indices_none", a, lambda b, m=make: m()(_loss_dict(b, indices=None), emb(b), ints(b, [0, 1, 2])),
             ValueError, "indices is required")
    case("divisor_missing", a, lambda b: DivisorReducer()(_loss_dict(b), emb(b), None), ValueError, "needs a 'divisor' key")
    case("divisor_string", a, lambda b: DivisorReducer()(_loss_dict(b, divisor="2"), emb(b), None), TypeError, "divisor must be a number")
    cw = lambda b, lab, rt="element", idx=None: ClassWeightedReducer([1.0, 2.0])(  # noqa: E731
        _loss_dict(b, reduction_type=rt, indices=idx if idx is not None else ints(b, [0, 1, 2])), emb(b, 3), lab
    )
    case("class_weighted_negative_label", a, lambda b: cw(b, ints(b, [0, -1, 1])), ValueError,
         r"labels holds values in \[-1, 1\] but must be in \[0, 2\)")
    case("class_weighted_label_past_end", a, lambda b: cw(b, ints(b, [0, 1, 2])), ValueError, r"labels holds values in \[0, 2\] but must be in \[0, 2\)")
    case("class_weighted_float_label", a, lambda b: cw(b, b.asarray([0.0, 0.5, 1.0], b.xp.float64)), ValueError, "integer class ids")
    case("class_weighted_nan_label", a, lambda b: cw(b, b.asarray([0.0, NAN, 1.0], b.xp.float64)), ValueError, "integer class ids")
    case("class_weighted_anchor_past_labels", a,
         lambda b: cw(b, ints(b, [0, 1, 1]), "pos_pair", (ints(b, [0, 1, 7]), ints(b, [1, 0, 0]))), ValueError,
         r"loss indices \(anchors\) holds values in \[0, 7\] but must be in \[0, 3\)")
    case("class_weighted_labels_none", a, lambda b: cw(b, None), TypeError, "needs labels")
    case("class_weighted_weights_2d", a,
         lambda b: ClassWeightedReducer([[1.0, 2.0]])(_loss_dict(b), emb(b, 3), ints(b, [0, 1, 0])), ValueError, "weights must be 1-D")
    pa = lambda b, anchors: PerAnchorReducer()(  # noqa: E731
        _loss_dict(b, reduction_type="pos_pair", indices=(ints(b, anchors), ints(b, [1, 2, 3]))), emb(b, 4), None
    )
    case("per_anchor_past_end", a, lambda b: pa(b, [0, 1, 4]), ValueError,
         r"loss indices\[0\] \(anchors\) holds values in \[0, 4\] but must be in \[0, 4\) \(rows of embeddings\)")
    case("per_anchor_negative", a, lambda b: pa(b, [-1, 1, 2]), ValueError, r"holds values in \[-1, 2\]")
    case("multiple_not_dict_call", a, lambda b: MultipleReducers({})([1], emb(b)), TypeError, "expects a loss dict")


# -- miners ----------------------------------------------------------------------------------------------


def _miners() -> None:
    a = "miners"
    for e in MINERS:
        mk = e.factory
        case(f"{e.id}_nan_embeddings", a, lambda b, m=mk: m()(emb(b, bad=(2, 1, NAN)), LAB), ValueError,
             r"Miner\w*: embeddings row 2 contains NaN; embeddings must be finite.*check_finite=False")
        case(f"{e.id}_inf_embeddings", a, lambda b, m=mk: m()(emb(b, bad=(5, 0, INF)), LAB), ValueError, r"embeddings row 5 contains inf")
        case(f"{e.id}_neg_inf_embeddings", a, lambda b, m=mk: m()(emb(b, bad=(0, 3, -INF)), LAB), ValueError,
             r"embeddings row 0 contains -inf")
        case(f"{e.id}_nan_labels", a, lambda b, m=mk: m()(emb(b), flabels(b, nan_at=3)), ValueError, r"labels\[3\] is NaN")
        case(f"{e.id}_1d_embeddings", a, lambda b, m=mk: m()(b.asarray(np.ones(N), b.xp.float64), LAB), ValueError, "embeddings must be 2-D")
        case(f"{e.id}_int_embeddings", a, lambda b, m=mk: m()(ints(b, np.ones((N, D), dtype=np.int64)), LAB), TypeError,
             "embeddings must have a real floating dtype")
        case(f"{e.id}_labels_length", a, lambda b, m=mk: m()(emb(b), LAB[:-1]), ValueError, "labels has length 7 but there are 8 embeddings")
        case(f"{e.id}_labels_none", a, lambda b, m=mk: m()(emb(b), None), TypeError, "labels is required")
        if e.ref:
            case(f"{e.id}_ref_emb_alone", a, lambda b, m=mk: m()(emb(b), LAB, emb(b)), ValueError, "ref_emb was given without ref_labels")
            case(f"{e.id}_nan_ref_emb", a, lambda b, m=mk: m()(emb(b), LAB, emb(b, 6, bad=(1, 0, NAN), seed=1), LAB[:6]), ValueError,
                 r"ref_emb row 1 contains NaN")
            case(f"{e.id}_nan_ref_labels", a, lambda b, m=mk: m()(emb(b), LAB, emb(b, seed=1), flabels(b, nan_at=4)), ValueError,
                 r"ref_labels\[4\] is NaN")
            case(f"{e.id}_ref_features", a, lambda b, m=mk: m()(emb(b), LAB, emb(b, 3, D + 1), [0, 1, 2]), ValueError,
                 "ref_emb has 5 features but embeddings have 4")
        else:
            case(f"{e.id}_refuses_ref", a, lambda b, m=mk: m()(emb(b), LAB, emb(b), LAB), ValueError,
                 "builds its own reference set and does not accept ref_emb")
            case(f"{e.id}_refuses_ref_emb", a, lambda b, m=mk: m()(emb(b), LAB, emb(b)), ValueError,
                 "builds its own reference set and does not accept ref_emb")
        if e.extended:
            case(f"{e.id}_mine_extended_nan", a, lambda b, m=mk: m().mine_extended(emb(b, bad=(4, 2, NAN)), LAB), ValueError,
                 r"embeddings row 4 contains NaN")

    def bank_second_batch(b: Backend) -> Any:
        miner = MinerWithBank(1, NHardTripletsMiner(2, 2))
        miner(emb(b), LAB)
        return miner(emb(b, bad=(7, 0, NAN), seed=3), LAB)

    case("miner_with_bank_nan_second_batch", a, bank_second_batch, ValueError, r"MinerWithBank: embeddings row 7 contains NaN")
    # settings that can never select anything
    config("distance_weighted_cutoffs_swapped", a, lambda: DistanceWeightedMiner(cutoff=1.4, nonzero_loss_cutoff=0.5), ValueError,
           r"cutoff \(1.4\) must be smaller than nonzero_loss_cutoff \(0.5\)")
    config("distance_weighted_cutoffs_equal", a, lambda: DistanceWeightedMiner(cutoff=1.0, nonzero_loss_cutoff=1.0), ValueError,
           "must be smaller than nonzero_loss_cutoff")
    config("distance_weighted_cutoff_2", a, lambda: DistanceWeightedMiner(cutoff=2.5, nonzero_loss_cutoff=3.0), ValueError,
           "cutoff must be < 2")
    config("distance_weighted_nonzero_zero", a, lambda: DistanceWeightedMiner(cutoff=-1.0, nonzero_loss_cutoff=0.0), ValueError,
           "nonzero_loss_cutoff must be > 0")
    config("distance_weighted_cutoff_nan", a, lambda: DistanceWeightedMiner(cutoff=NAN), ValueError, "cutoff must be a finite real number")
    config("distance_weighted_nonzero_inf", a, lambda: DistanceWeightedMiner(nonzero_loss_cutoff=INF), ValueError,
           "nonzero_loss_cutoff must be a finite real number")
    config("distance_weighted_distance", a, lambda: DistanceWeightedMiner(distance=CosineSimilarity()), ValueError, "LpDistance")
    config("triplet_margin_type", a, lambda: TripletMarginMiner(type_of_triplets="hardest"), ValueError,
           "type_of_triplets must be one of 'all', 'hard', 'semihard', 'easy'")
    config("triplet_margin_nan", a, lambda: TripletMarginMiner(margin=NAN), ValueError, "margin must be a finite real number")
    config("triplet_margin_string", a, lambda: TripletMarginMiner(margin="0.1"), ValueError, "margin must be a finite real number")
    config("triplet_margin_budget_zero", a, lambda: TripletMarginMiner(output_budget=0), ValueError, "output_budget must be a positive int")
    config("all_triplets_max_zero", a, lambda: AllTripletsMiner(max_output_triplets=0), ValueError, "max_output_triplets must be >= 1")
    config("all_triplets_budget_float", a, lambda: AllTripletsMiner(output_budget=1e9), TypeError, "output_budget must be a positive int")
    config("angular_90", a, lambda: AngularMiner(angle=90), ValueError, r"angle must be a number of degrees in \[0, 90\)")
    config("angular_negative", a, lambda: AngularMiner(angle=-1), ValueError, "angle must be")
    config("angular_distance", a, lambda: AngularMiner(distance=LpDistance(p=1)), ValueError, "LpDistance")
    config("batch_easy_hard_semihard", a, lambda: BatchEasyHardMiner(pos_strategy="semihard", neg_strategy="semihard"), ValueError,
           "cannot both be")
    config("batch_easy_hard_strategy", a, lambda: BatchEasyHardMiner(pos_strategy="hardest"), ValueError, "pos_strategy")
    config("hdc_filter_zero", a, lambda: HDCMiner(filter_percentage=0), ValueError, r"filter_percentage must be in \(0, 1\]")
    config("hdc_filter_string", a, lambda: HDCMiner(filter_percentage="half"), TypeError, "filter_percentage must be a real number")
    config("n_hard_zero", a, lambda: NHardTripletsMiner(0, 1), ValueError, "must be >= 1")
    config("n_hard_range", a, lambda: NHardTripletsMiner((3, 1), 1), ValueError, r"range \(lo, hi\) needs 1 <= lo <= hi")
    config("base_miner_distance", a, lambda: BatchHardMiner(distance="euclidean"), TypeError, "distance must be an agnostic_ml distance")
    config("base_miner_check_finite", a, lambda: BaseMiner(check_finite="yes"), TypeError, "check_finite must be a bool")
    config("miner_with_bank_inner", a, lambda: MinerWithBank(1, "miner"), TypeError, "")
    # memory guards
    config("all_triplets_miner_issue_example", a, lambda: AllTripletsMiner()(np.zeros((BIG, 2)), two_classes(BIG)),
           OutputTooLargeError, f"AllTripletsMiner would return {BIG_TRIPLETS} .*max_output_triplets=")
    case("all_triplets_miner_budget", a, lambda b: AllTripletsMiner(output_budget=10)(emb(b), LAB), OutputTooLargeError,
         "AllTripletsMiner would return 48 triplets")
    case("all_triplets_miner_subset_budget", a, lambda b: AllTripletsMiner(30, rng=0, output_budget=20)(emb(b), LAB),
         OutputTooLargeError, "AllTripletsMiner would return 30 triplets")
    case("triplet_margin_all_budget", a, lambda b: TripletMarginMiner(margin=5.0, output_budget=10)(emb(b), LAB), OutputTooLargeError,
         r"TripletMarginMiner would return 48 triplets.*semihard")
    config("triplet_margin_all_issue_example", a,
           lambda: TripletMarginMiner(margin=5.0)(np.random.default_rng(0).standard_normal((BIG, 2)), two_classes(BIG)),
           OutputTooLargeError, f"TripletMarginMiner would return {BIG_TRIPLETS}")


# -- losses --------------------------------------------------------------------------------------------------


#: Losses whose call differs: (takes labels, takes ref_emb with ref_labels).
_CALL_STYLE = {"ManifoldLoss": (False, False), "VICRegLoss": (False, True)}


def call_loss(cls: type, b: Backend, x: Any, lab: Any = "default", ref: Any = None, ref_lab: Any = "default", **kw: Any) -> Any:
    takes_labels, _ = _CALL_STYLE.get(cls.__name__, (True, True))
    loss = make_loss(cls, **kw)
    if cls.__name__ == "VICRegLoss":
        return loss(x, ref_emb=emb(b, x.shape[0], seed=5) if ref is None else ref)
    lab = (LAB[: x.shape[0]] if takes_labels else None) if isinstance(lab, str) else lab
    if ref is None:
        return loss(x, lab)
    return loss(x, lab, ref_emb=ref, ref_labels=LAB[: ref.shape[0]] if isinstance(ref_lab, str) else ref_lab)


def _losses() -> None:
    a = "losses"
    for cls in loss_classes():
        n = cls.__name__
        takes_labels, takes_ref = _CALL_STYLE.get(n, (True, True))
        case(f"{n}_nan_embeddings", a, lambda b, c=cls: call_loss(c, b, emb(b, bad=(2, 0, NAN))), ValueError,
             rf"{n}: embeddings row 2 contains NaN.*check_finite=False")
        case(f"{n}_inf_embeddings", a, lambda b, c=cls: call_loss(c, b, emb(b, bad=(6, 3, INF))), ValueError, r"embeddings row 6 contains inf")
        case(f"{n}_1d_embeddings", a, lambda b, c=cls: call_loss(c, b, b.asarray(np.ones(N), b.xp.float64)), ValueError, "2-D")
        case(f"{n}_int_embeddings", a, lambda b, c=cls: call_loss(c, b, ints(b, np.ones((N, D), dtype=np.int64))), TypeError,
             "embeddings must have a real floating dtype")
        config(f"{n}_embeddings_none", a, lambda c=cls: make_loss(c)(None, LAB), TypeError, "embeddings must be an array")
        if n == "VICRegLoss":
            config(f"{n}_distance", a, lambda c=cls: make_loss(c, distance=LpDistance()), ValueError, "cannot use a distance")
        else:
            config(f"{n}_distance_type", a, lambda c=cls: make_loss(c, distance="cosine"), TypeError,
                   "distance must be an agnostic_ml distance")
        config(f"{n}_reducer_type", a, lambda c=cls: make_loss(c, reducer="mean"), TypeError, "reducer must be an agnostic_ml reducer")
        config(f"{n}_check_finite_type", a, lambda c=cls: make_loss(c, check_finite=1), TypeError, "check_finite must be a bool")
        config(f"{n}_output_budget_zero", a, lambda c=cls: make_loss(c, output_budget=0), ValueError, "output_budget must be a positive int")
        config(f"{n}_unknown_kwarg", a, lambda c=cls: make_loss(c, frobnicate=1), TypeError, "unexpected keyword argument")
        if takes_labels:
            case(f"{n}_nan_labels", a, lambda b, c=cls: call_loss(c, b, emb(b), lab=flabels(b, nan_at=3)), ValueError, r"labels\[3\] is NaN")
            case(f"{n}_labels_length", a, lambda b, c=cls: call_loss(c, b, emb(b), lab=LAB[:5]), ValueError,
                 "labels has length 5 but there are 8 embeddings")
        if takes_ref:
            case(f"{n}_nan_ref_emb", a, lambda b, c=cls: call_loss(c, b, emb(b), ref=emb(b, 6, bad=(1, 1, NAN), seed=2)), ValueError,
                 r"ref_emb row 1 contains NaN")
            case(f"{n}_ref_labels_alone", a, lambda b, c=cls: make_loss(c)(emb(b), LAB, ref_labels=LAB), ValueError,
                 "ref_labels was given without ref_emb")
        if takes_labels and takes_ref:
            case(f"{n}_nan_ref_labels", a, lambda b, c=cls: call_loss(c, b, emb(b), ref=emb(b, seed=2), ref_lab=flabels(b, nan_at=0)),
                 ValueError, r"ref_labels\[0\] is NaN")
    # indices tuples given to a loss
    for cls in (L.ContrastiveLoss, L.TripletMarginLoss):
        n = cls.__name__
        tl = lambda b, c, t: c()(emb(b), LAB, tuple(ints(b, v) for v in t))  # noqa: E731
        case(f"{n}_tuple_anchor_past_end", a, lambda b, c=cls: tl(b, c, ([8], [1], [2])), ValueError,
             r"indices_tuple's a holds indices in \[8, 8\] but must be in \[0, 8\)")
        case(f"{n}_tuple_negative", a, lambda b, c=cls: tl(b, c, ([0], [1], [-1])), ValueError, r"indices_tuple's n holds indices in \[-1, -1\]")
        case(f"{n}_tuple_length", a, lambda b, c=cls: tl(b, c, ([0], [1])), ValueError, "indices_tuple must be triplets")
        case(f"{n}_tuple_ragged", a, lambda b, c=cls: tl(b, c, ([0, 1], [1], [2])), ValueError, "equal lengths")
        case(f"{n}_tuple_float", a, lambda b, c=cls: c()(emb(b), LAB, tuple(b.asarray([0.0], b.xp.float64) for _ in range(3))),
             TypeError, "integer dtype")
        case(f"{n}_no_labels_no_tuple", a, lambda b, c=cls: c()(emb(b)), ValueError, "needs labels or an indices_tuple")
    config("triplet_margin_loss_per_anchor", a, lambda: L.TripletMarginLoss(triplets_per_anchor=0), ValueError,
           "triplets_per_anchor must be 'all' or a positive int")
    # memory guards of the losses that list tuples themselves
    config("triplet_loss_listing_issue_example", a,
           lambda: L.TripletMarginLoss(smooth_loss=True)(np.random.default_rng(0).standard_normal((BIG, 2)), two_classes(BIG)),
           OutputTooLargeError, f"get_all_triplets_indices would return {BIG_TRIPLETS}")
    case("triplet_loss_listing_budget", a, lambda b: L.TripletMarginLoss(swap=True, output_budget=10)(emb(b), LAB),
         OutputTooLargeError, "would return 48 triplets")
    case("contrastive_all_pairs_budget", a, lambda b: L.ContrastiveLoss(output_budget=10)(emb(b), LAB), OutputTooLargeError,
         "get_all_pairs_indices would return 56 pairs")
    case("triplet_loss_pairs_budget", a,
         lambda b: L.TripletMarginLoss(output_budget=5)(emb(b), LAB, tuple(ints(b, v) for v in ([0, 0], [1, 1], [0, 0, 0], [2, 3, 4]))),
         OutputTooLargeError, r"convert_to_triplets would return 6 triplets")
    # wrappers and the memory
    case("cross_batch_memory_nan", a, lambda b: L.CrossBatchMemory(L.ContrastiveLoss(), D, memory_size=16)(emb(b, bad=(3, 1, NAN)), LAB),
         ValueError, r"CrossBatchMemory: embeddings row 3 contains NaN")
    case("multiple_losses_nan", a, lambda b: L.MultipleLosses([L.ContrastiveLoss(), L.TripletMarginLoss()])(emb(b, bad=(0, 0, NAN)), LAB),
         ValueError, r"ContrastiveLoss: embeddings row 0 contains NaN")
    case("self_supervised_nan_ref", a, lambda b: L.SelfSupervisedLoss(L.TripletMarginLoss())(emb(b), emb(b, bad=(5, 2, NAN))),
         ValueError, r"SelfSupervisedLoss: ref_emb row 5 contains NaN")
    config("cross_batch_memory_size", a, lambda: L.CrossBatchMemory(L.ContrastiveLoss(), D, memory_size=0), ValueError,
           "memory_size must be a positive int")
    case("cross_batch_memory_batch_too_big", a, lambda b: L.CrossBatchMemory(L.ContrastiveLoss(), D, memory_size=4)(emb(b), LAB),
         ValueError, r"larger than the memory")
    case("cross_batch_memory_shape", a, lambda b: L.CrossBatchMemory(L.ContrastiveLoss(), D + 1)(emb(b), LAB), ValueError,
         "embedding_size=5")


# -- regularizers ----------------------------------------------------------------------------------------------


def _regularizers() -> None:
    a = "regularizers"
    for cls in regularizer_classes():
        n = cls.__name__
        case(f"{n}_nan", a, lambda b, c=cls: make_regularizer(c)(emb(b, bad=(1, 0, NAN))), ValueError, rf"{n}: x row 1 contains NaN")
        case(f"{n}_inf", a, lambda b, c=cls: make_regularizer(c)(emb(b, bad=(7, 3, -INF))), ValueError, r"x row 7 contains -inf")
        case(f"{n}_1d", a, lambda b, c=cls: make_regularizer(c)(b.asarray(np.ones(3), b.xp.float64)), ValueError, "x must be 2-D")
        case(f"{n}_int", a, lambda b, c=cls: make_regularizer(c)(ints(b, np.ones((3, 2), dtype=np.int64))), TypeError, "real floating")
        config(f"{n}_none", a, lambda c=cls: make_regularizer(c)(None), TypeError, "x is required")
        config(f"{n}_reducer", a, lambda c=cls: make_regularizer(c, reducer=3), TypeError, "reducer must be an agnostic_ml reducer")
        config(f"{n}_distance", a, lambda c=cls: make_regularizer(c, distance="l2"), TypeError, "distance must be an agnostic_ml distance")
        config(f"{n}_check_finite", a, lambda c=cls: make_regularizer(c, check_finite="no"), TypeError, "check_finite must be a bool")
    case("embedding_regularizer_in_loss", a,
         lambda b: L.ContrastiveLoss(embedding_regularizer=R.LpRegularizer(), check_finite=False)(emb(b, bad=(2, 2, NAN)), LAB),
         ValueError, r"LpRegularizer: x row 2 contains NaN")
    config("regular_face_distance", a, lambda: R.RegularFaceRegularizer(distance=LpDistance()), ValueError, "requires a similarity")
    config("center_invariant_distance", a, lambda: R.CenterInvariantRegularizer(distance=CosineSimilarity()), ValueError,
           "requires the distance to be LpDistance")
    config("sparse_centers_per_class", a, lambda: R.SparseCentersRegularizer(2, 1), ValueError, "centers_per_class must be an int > 1")
    config("sparse_centers_classes", a, lambda: R.SparseCentersRegularizer(0, 2), ValueError, "num_classes must be a positive int")


# -- accuracy: knn, kmeans, AccuracyCalculator ---------------------------------------------------------------------


def _accuracy() -> None:
    a = "accuracy"
    q = lambda b, **kw: emb(b, **kw)  # noqa: E731
    case("knn_nan_query", a, lambda b: knn(q(b, bad=(3, 0, NAN)), q(b), 2), ValueError, r"knn: query row 3 contains NaN.*check_finite=False")
    case("knn_inf_reference", a, lambda b: knn(q(b), q(b, bad=(6, 1, INF), seed=1), 2), ValueError, r"knn: reference row 6 contains inf")
    case("knn_nan_self", a, lambda b: (lambda x: knn(x, x, 2, ref_includes_query=True))(q(b, bad=(0, 0, NAN))), ValueError,
         "query row 0 contains NaN")
    case("knn_k_negative", a, lambda b: knn(q(b), q(b), -1), ValueError, "k must be >= 0")
    case("knn_k_too_large", a, lambda b: knn(q(b), q(b), 9), ValueError, r"k=9 is larger than the number of available neighbours \(8")
    case("knn_k_too_large_self", a, lambda b: (lambda x: knn(x, x, 8, ref_includes_query=True))(q(b)), ValueError,
         r"k=8 is larger than the number of available neighbours \(7")
    case("knn_k_bool", a, lambda b: knn(q(b), q(b), True), TypeError, "k must be an int")
    case("knn_k_float", a, lambda b: knn(q(b), q(b), 2.0), TypeError, "k must be an int")
    case("knn_query_1d", a, lambda b: knn(b.asarray(np.ones(4), b.xp.float64), q(b), 1), ValueError, "query must be 2-D")
    case("knn_reference_int", a, lambda b: knn(q(b), ints(b, np.ones((3, D), dtype=np.int64)), 1), TypeError, "reference must have a real floating")
    case("knn_features", a, lambda b: knn(q(b), emb(b, 5, D + 1), 1), ValueError, "reference has 5 features but query has 4")
    case("knn_block_size", a, lambda b: knn(q(b), q(b), 1, block_size=0), ValueError, "block_size must be a positive int or None")
    case("knn_ref_block_size", a, lambda b: knn(q(b), q(b), 1, ref_block_size=-2), ValueError, "ref_block_size must be a positive int")
    case("knn_prefix_too_short", a, lambda b: knn(q(b), emb(b, 4), 1, ref_includes_query=True), ValueError,
         "ref_includes_query=True needs the queries to be the first rows")
    case("knn_output_budget", a, lambda b: knn(q(b), q(b), 5, output_budget=10), OutputTooLargeError,
         r"knn would return 40 \(query, neighbour\) entries.*smaller k")
    config("knn_output_budget_zero", a, lambda: knn(np.ones((2, 2)), np.ones((2, 2)), 1, output_budget=0), ValueError,
           "output_budget must be a positive int")
    config("knn_distance_type", a, lambda: knn(np.ones((2, 2)), np.ones((2, 2)), 1, distance="l2"), TypeError,
           "distance must be an agnostic_ml distance")
    config("exact_knn_block", a, lambda: ExactKNN(block_size=0), ValueError, "block_size must be a positive int")
    config("exact_knn_budget", a, lambda: ExactKNN(memory_budget=0), ValueError, "memory_budget must be a positive int")
    config("exact_knn_check_finite", a, lambda: ExactKNN(check_finite="yes"), TypeError, "check_finite must be a bool")
    case("exact_knn_nan", a, lambda b: ExactKNN()(q(b, bad=(1, 1, NAN)), 2, q(b), False), ValueError, r"knn: query row 1 contains NaN")
    case("exact_knn_output_budget", a, lambda b: ExactKNN(output_budget=3)(q(b), 2, q(b), False), OutputTooLargeError, "16")
    case("faiss_knn_nan", a, lambda b: _faiss_knn()(q(b, bad=(2, 0, NAN)), 1, q(b), False), ValueError,
         r"FaissKNN: query row 2 contains NaN")
    # a Dask query: checked chunk by chunk, with global row numbers
    config("knn_dask_nan_chunk", a, lambda: knn(_dask_nan(), np.zeros((20, 3)), 2)[0].compute(), ValueError,
           r"knn: query row 13 contains NaN")
    config("knn_dask_nan_reference", a, lambda: knn(_dask_nan(0.0), _dask_nan().compute(), 2), ValueError,
           r"knn: reference row 13 contains NaN")
    config("knn_dask_output_budget", a, lambda: knn(_dask_nan(0.0), np.zeros((20, 3)), 5, output_budget=99), OutputTooLargeError,
           r"knn would return 100")
    config("calc_dask_nan_chunk", a,
           lambda: AccuracyCalculator(include=("precision_at_1",)).get_accuracy(_dask_nan(), np.arange(20) % 2, np.zeros((20, 3)),
                                                                                np.arange(20) % 2),
           ValueError, r"AccuracyCalculator.get_accuracy: query row 13 contains NaN")
    # k-means
    case("kmeans_nan", a, lambda b: kmeans(q(b, bad=(4, 0, NAN)), 2, rng=0), ValueError, r"kmeans: x row 4 contains NaN")
    case("kmeans_inf", a, lambda b: KMeans(rng=0)(q(b, bad=(0, 0, INF)), 2), ValueError, r"kmeans: x row 0 contains inf")
    case("kmeans_clusters_zero", a, lambda b: kmeans(q(b), 0), ValueError, r"n_clusters must be an int in \[1, 8\]")
    case("kmeans_clusters_too_many", a, lambda b: kmeans(q(b), 9), ValueError, r"n_clusters must be an int in \[1, 8\]")
    case("kmeans_clusters_string", a, lambda b: kmeans(q(b), "2"), ValueError, "n_clusters must be an int")
    case("kmeans_n_init", a, lambda b: kmeans(q(b), 2, n_init=0), ValueError, "n_init must be a positive int")
    case("kmeans_max_iter", a, lambda b: kmeans(q(b), 2, max_iter=0), ValueError, "max_iter must be a positive int")
    case("kmeans_tol", a, lambda b: kmeans(q(b), 2, tol=-1), ValueError, "tol must be a number >= 0")
    case("kmeans_tol_nan", a, lambda b: kmeans(q(b), 2, tol=NAN), ValueError, "tol must be a number >= 0")
    case("kmeans_1d", a, lambda b: kmeans(b.asarray(np.ones(5), b.xp.float64), 2), ValueError, "x must be 2-D")
    case("kmeans_empty", a, lambda b: kmeans(emb(b, 0), 1), ValueError, "x is empty")
    # AccuracyCalculator: settings
    config("calc_unknown_metric", a, lambda: AccuracyCalculator(include=("precision_at_2",)), ValueError, "precision_at_2")
    config("calc_include_string", a, lambda: AccuracyCalculator(include="precision_at_1"), TypeError, "include/exclude must be a tuple or list")
    config("calc_k_zero", a, lambda: AccuracyCalculator(k=0), ValueError, "k must be an integer greater than 0")
    config("calc_k_string", a, lambda: AccuracyCalculator(k="all"), ValueError, "k must be an integer greater than 0")
    config("calc_averaging", a, lambda: AccuracyCalculator(avg_of_avgs=True, return_per_class=True), ValueError, "mutually exclusive")
    config("calc_knn_func", a, lambda: AccuracyCalculator(knn_func=3), TypeError, "knn_func must be callable")
    config("calc_kmeans_func", a, lambda: AccuracyCalculator(kmeans_func="k"), TypeError, "kmeans_func must be callable")
    config("calc_cmc_top_k", a, lambda: AccuracyCalculator(cmc_top_k=(0,)), ValueError, "cmc_top_k must hold positive ints")
    config("calc_fmr_vals", a, lambda: AccuracyCalculator(fmr_vals=(200,)), ValueError, r"percentages in \[0, 100\]")
    config("calc_label_comparison", a, lambda: AccuracyCalculator(label_comparison_fn=3), TypeError, "label_comparison_fn must be callable")
    # AccuracyCalculator: inputs
    ga = lambda b, *args, **kw: AccuracyCalculator(include=("precision_at_1",)).get_accuracy(*args, **kw)  # noqa: E731
    case("calc_nan_query", a, lambda b: ga(b, q(b, bad=(5, 1, NAN)), LAB), ValueError,
         r"AccuracyCalculator.get_accuracy: query row 5 contains NaN")
    case("calc_inf_reference", a, lambda b: ga(b, q(b), LAB, q(b, bad=(2, 0, INF), seed=1), LAB), ValueError, r"reference row 2 contains inf")
    case("calc_nan_labels", a, lambda b: ga(b, q(b), flabels(b, nan_at=1)), ValueError, "query_labels contains NaN")
    case("calc_nan_reference_labels", a, lambda b: ga(b, q(b), LAB, q(b, seed=1), flabels(b, nan_at=2)), ValueError,
         "reference_labels contains NaN")
    case("calc_labels_length", a, lambda b: ga(b, q(b), LAB[:7]), ValueError, "query_labels has length 7 but there are 8 embeddings")
    case("calc_labels_none", a, lambda b: ga(b, q(b), None), ValueError, "query_labels is required")
    case("calc_reference_alone", a, lambda b: ga(b, q(b), LAB, q(b)), ValueError, "reference was given without reference_labels")
    case("calc_reference_labels_alone", a, lambda b: ga(b, q(b), LAB, None, LAB), ValueError, "reference_labels was given without reference")
    case("calc_empty_query", a, lambda b: ga(b, emb(b, 0), []), ValueError, "query is empty")
    case("calc_query_1d", a, lambda b: ga(b, b.asarray(np.ones(N), b.xp.float64), LAB), ValueError, "query must be 2-D")
    case("calc_features", a, lambda b: ga(b, q(b), LAB, emb(b, N, D + 1), LAB), ValueError, "reference has 5 features but query has 4")
    case("calc_prefix_mismatch", a, lambda b: ga(b, q(b), LAB, q(b, seed=9), LAB, ref_includes_query=True), ValueError,
         "the first len\\(query\\) elements of reference must be")
    case("calc_unknown_include", a, lambda b: ga(b, q(b), LAB, include=("nope",)), ValueError, "nope")


def _faiss_knn() -> Any:
    """``FaissKNN()``; the check runs before faiss is needed, so this case passes without faiss too."""
    from agnostic_ml.accuracy import FaissKNN

    return FaissKNN()


def _dask_nan(value: float = NAN) -> Any:
    """A (20, 3) Dask query in chunks of 5 rows, with ``value`` at row 13."""
    import dask.array as da

    x = np.random.default_rng(0).standard_normal((20, 3))
    x[13, 0] = value
    return da.from_array(x, chunks=(5, 3))


# -- the testing kit ----------------------------------------------------------------------------------------------


def _testing_kit() -> None:
    from agnostic_ml.testing import InvariantViolation, MinerBatch, check_miner_output
    from agnostic_ml.testing import strategies as S
    from agnostic_ml.testing.backends import load_backend, parse_backend_names

    a = "testing_kit"
    lab = np.array(LAB)
    out3 = lambda *v: tuple(np.asarray(x, dtype=np.int64) for x in v)  # noqa: E731
    config("kit_index_past_end", a, lambda: check_miner_output(out3([0], [1], [8]), lab), InvariantViolation, "")
    config("kit_self_positive", a, lambda: check_miner_output(out3([0], [0], [2]), lab), InvariantViolation, "")
    config("kit_wrong_positive", a, lambda: check_miner_output(out3([0], [2], [3]), lab), InvariantViolation, "")
    config("kit_wrong_negative", a, lambda: check_miner_output(out3([0], [1], [1]), lab), InvariantViolation, "")
    config("kit_not_tuple", a, lambda: check_miner_output([1, 2, 3], lab), InvariantViolation, "")
    config("kit_two_arrays", a, lambda: check_miner_output(out3([0], [1]), lab), InvariantViolation, "")
    config("kit_ragged", a, lambda: check_miner_output(out3([0, 1], [1], [2]), lab), InvariantViolation, "")
    config("kit_duplicates", a, lambda: check_miner_output(out3([0, 0], [1, 1], [2, 2]), lab), InvariantViolation, "")
    config("kit_expected_kind", a, lambda: check_miner_output(out3([0], [1], [2]), lab, expected_kind="quads"), ValueError,
           "expected_kind must be")
    config("kit_kind_mismatch", a, lambda: check_miner_output(out3([0], [1], [2]), lab, expected_kind="pairs"), InvariantViolation, "")
    config("kit_labels_2d", a, lambda: check_miner_output(out3([0], [1], [2]), lab[None, :]), ValueError, "labels must be 1-D")
    config("kit_labels_length", a, lambda: check_miner_output(out3([0], [1], [2]), lab, embeddings=np.zeros((3, 2))), ValueError,
           "labels has length 8 but embeddings has 3 rows")
    config("kit_ref_alone", a, lambda: check_miner_output(out3([0], [1], [2]), lab, ref_emb=np.zeros((8, 2))), ValueError,
           "ref_emb was given without ref_labels")
    config("kit_batch_ref_alone", a, lambda: MinerBatch(np.zeros((2, 2)), np.zeros(2), ref_emb=np.zeros((2, 2))), ValueError,
           "ref_emb and ref_labels together")
    config("kit_unknown_backend", a, lambda: load_backend("tpu"), ValueError, "unknown backend 'tpu'; known backends: numpy")
    config("kit_parse_backends", a, lambda: parse_backend_names("numpy,tpu"), ValueError, "tpu")
    config("kit_parse_no_backend", a, lambda: parse_backend_names(""), ValueError, "no backend named")
    config("kit_strategy_sizes", a, lambda: S.miner_batches(min_n=5, max_n=2), ValueError, r"min_n \(5\) must be <= max_n \(2\)")
    config("kit_strategy_dims", a, lambda: S.miner_batches(dims=0), ValueError, "dims must be a positive int")
    config("kit_strategy_classes", a, lambda: S.miner_batches(max_classes=0), ValueError, "max_classes must be a positive int")
    config("kit_strategy_with_ref", a, lambda: S.miner_batches(with_ref="yes"), ValueError, "with_ref must be True, False or None")
    config("kit_labels_classes", a, lambda: S.labels(4, max_classes=0), ValueError, "max_classes must be a positive int")
    config("kit_property_miner", a, lambda: _property_test(3), TypeError, "miner must be a miner class")
    config("kit_property_examples", a, lambda: _property_test(BatchHardMiner, max_examples=0), ValueError, "max_examples must be a positive int")
    config("kit_property_rule", a, lambda: _property_test(BatchHardMiner, selection_rule=3), TypeError, "selection_rule must be callable")
    config("kit_property_kind", a, lambda: _property_test(BatchHardMiner, expected_kind="x"), ValueError, "expected_kind must be")
    config("kit_property_dtypes", a, lambda: _property_test(BatchHardMiner, dtypes=()), ValueError, "dtypes must be a non-empty sequence")


def _property_test(miner: Any, **kw: Any) -> Any:
    from agnostic_ml.testing import property_test_miner

    return property_test_miner(miner, backends="numpy", **kw)


# -- the command line ---------------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> None:
    """Run ``agnostic-ml argv`` in-process; raise :class:`CLIExit` with the stderr line on exit code 2."""
    import contextlib
    import io

    from agnostic_ml.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    text = err.getvalue()
    if code == 2:
        lines = text.splitlines()
        assert len(lines) == 1 and "Traceback" not in text and "usage:" not in text, text
        raise CLIExit(lines[0])
    raise AssertionError(f"exit code {code}, expected 2; stderr: {text!r}")


#: Files the command-line cases read (written once per test session by the test module).
CLI_FILES: dict[str, str] = {}


def _cli_case(id: str, argv: list[str], match: str) -> None:
    config(id, "cli", lambda v=argv: run_cli([s.format(**CLI_FILES) for s in v]), CLIExit, match)


def write_cli_files(folder: Any) -> None:
    """Write the inputs of the command-line cases into ``folder`` and record their paths."""
    from pathlib import Path

    folder = Path(folder)
    rng = np.random.default_rng(0)
    arrays = {
        "emb": rng.standard_normal((N, D)).astype(np.float32),
        "labels": np.array(LAB),
        "nan_emb": np.where(np.arange(N)[:, None] == 3, np.nan, rng.standard_normal((N, D))).astype(np.float32),
        "nan_labels": np.where(np.arange(N) == 4, np.nan, np.array(LAB, dtype=np.float64)),
        "emb_1d": np.ones(N, dtype=np.float32),
        "labels_2d": np.zeros((N, 2), dtype=np.int64),
        "short_labels": np.array(LAB[:7]),
        "strings": np.array(["a"] * N),
        "big_emb": np.zeros((BIG, 2), dtype=np.float32),
        "big_labels": two_classes(BIG),
        "wide_emb": rng.standard_normal((N, D + 1)).astype(np.float32),
    }
    for name, arr in arrays.items():
        path = folder / f"{name}.npy"
        np.save(path, arr)
        CLI_FILES[name] = str(path)
    (folder / "folder").mkdir(exist_ok=True)
    CLI_FILES["folder"] = str(folder / "folder")
    npz = folder / "two.npz"
    np.savez(npz, a=np.ones(2), b=np.ones(2))
    CLI_FILES["npz"] = str(npz)
    (folder / "text.npy").write_text("not an array")
    CLI_FILES["text"] = str(folder / "text.npy")


def _cli() -> None:
    mine = ["mine", "--miner", "BatchHardMiner"]
    _cli_case("mine_nan_embeddings", mine + ["{nan_emb}", "{labels}"], r"embeddings has NaN or inf values in 1 row\(s\).*first row 3")
    _cli_case("mine_nan_labels", mine + ["{emb}", "{nan_labels}"], r"agnostic-ml mine: error: labels\[4\] is NaN")
    _cli_case("mine_string_labels", mine + ["{emb}", "{strings}"], "labels")
    _cli_case("mine_1d_embeddings", mine + ["{emb_1d}", "{labels}"], r"embeddings must be a 2-D array \(n, d\)")
    _cli_case("mine_2d_labels", mine + ["{emb}", "{labels_2d}"], "labels must be a 1-D array")
    _cli_case("mine_short_labels", mine + ["{emb}", "{short_labels}"], "labels has 7 entries but the embeddings have 8 rows")
    _cli_case("mine_string_embeddings", mine + ["{strings}", "{labels}"], "embeddings must be a 2-D array")
    _cli_case("mine_npz_input", mine + ["{npz}", "{labels}"], r"holds several arrays \(.npz\)")
    _cli_case("mine_text_input", mine + ["{text}", "{labels}"], "cannot read")
    _cli_case("mine_missing_file", mine + ["{folder}/missing.npy", "{labels}"], "no such file")
    _cli_case("mine_folder_input", mine + ["{folder}", "{labels}"], "is a directory, not a .npy file")
    _cli_case("mine_output_folder", mine + ["{emb}", "{labels}", "-o", "{folder}"], "is a directory; give a file name")
    _cli_case("mine_output_missing_dir", mine + ["{emb}", "{labels}", "-o", "{folder}/no/such/t.npz"], "does not exist")
    _cli_case("mine_ref_alone", mine + ["{emb}", "{labels}", "--ref-emb", "{emb}"], "--ref-emb and --ref-labels go together")
    _cli_case("mine_ref_dim", mine + ["{emb}", "{labels}", "--ref-emb", "{wide_emb}", "--ref-labels", "{labels}"],
              "--ref-emb has dimension 5 but the embeddings have 4")
    _cli_case("mine_ref_nan", mine + ["{emb}", "{labels}", "--ref-emb", "{nan_emb}", "--ref-labels", "{labels}"], "--ref-emb has NaN or inf")
    _cli_case("mine_unknown_miner", ["mine", "--miner", "NoSuchMiner", "{emb}", "{labels}"], "NoSuchMiner")
    _cli_case("mine_bad_param", mine + ["--param", "margin", "{emb}", "{labels}"], "KEY=VALUE|margin")
    _cli_case("mine_unknown_param", mine + ["--param", "frobnicate=1", "{emb}", "{labels}"], "frobnicate")
    _cli_case("mine_param_never_selects", ["mine", "--miner", "DistanceWeightedMiner", "--param", "cutoff=1.4",
                                           "--param", "nonzero_loss_cutoff=0.5", "{emb}", "{labels}"],
              "must be smaller than nonzero_loss_cutoff")
    _cli_case("mine_all_triplets_issue_example", ["mine", "--miner", "AllTripletsMiner", "{big_emb}", "{big_labels}"],
              f"AllTripletsMiner would return {BIG_TRIPLETS}.*max_output_triplets")
    _cli_case("mine_output_budget_param", ["mine", "--miner", "TripletMarginMiner", "--param", "output_budget=5", "{emb}", "{labels}"],
              "TripletMarginMiner would return")
    _cli_case("mine_device", mine + ["{emb}", "{labels}", "--device", "tpu"], "argument --device: invalid choice: 'tpu'")
    _cli_case("mine_no_miner", ["mine", "{emb}", "{labels}"], "the following arguments are required: --miner")
    _cli_case("mine_seed", mine + ["{emb}", "{labels}", "--seed", "x"], "argument --seed: invalid int value: 'x'")
    _cli_case("mine_bogus_option", mine + ["{emb}", "{labels}", "--bogus"], "unrecognized arguments: --bogus")
    _cli_case("unknown_command", ["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'")
    ev = ["evaluate"]
    _cli_case("evaluate_nan_query", ev + ["{nan_emb}", "{labels}"], "NaN or inf values")
    _cli_case("evaluate_nan_labels", ev + ["{emb}", "{nan_labels}", "--no-progress"], "contains NaN")
    _cli_case("evaluate_k_zero", ev + ["{emb}", "{labels}", "--k", "0"], "argument --k: expected a positive integer or 'max_bin_count'")
    _cli_case("evaluate_k_word", ev + ["{emb}", "{labels}", "--k", "all"], "argument --k")
    _cli_case("evaluate_batch_size", ev + ["{emb}", "{labels}", "--batch-size", "-3"], "argument --batch-size: expected a positive integer")
    _cli_case("evaluate_folder", ev + ["{folder}", "{labels}"], "query: '.*' is a directory")
    _cli_case("evaluate_output_folder", ev + ["{emb}", "{labels}", "-o", "{folder}"], "is a directory")
    _cli_case("evaluate_short_labels", ev + ["{emb}", "{short_labels}"], "has 7 entries")
    _cli_case("evaluate_unknown_metric", ev + ["{emb}", "{labels}", "--metrics", "nope", "--no-progress"], "nope")
    _cli_case("evaluate_reference_labels_folder", ev + ["{emb}", "{labels}", "--reference", "{emb}", "{folder}"],
              "--reference labels: '.*' is a directory")
    _cli_case("demo_dim", ["demo", "--dim", "0"], "argument --dim: expected a positive integer")
    _cli_case("bench_unknown", ["bench", "nope"], "invalid choice: 'nope'")
    _cli_case("check_miner_examples", ["check-miner", "BatchHardMiner", "--examples", "many"], "argument --examples: expected a positive")
    _cli_case("check_miner_unknown", ["check-miner", "NoSuchMiner"], "NoSuchMiner")
    _cli_case("check_miner_backend", ["check-miner", "BatchHardMiner", "--backend", "tpu"], "tpu")


for _build in (_distances, _tuples, _reducers, _miners, _losses, _regularizers, _accuracy, _testing_kit, _cli):
    _build()

CASES: list[Case] = _cases
_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted({i for i in _ids if _ids.count(i) > 1})
