#!/usr/bin/env python
"""What the non-finite policy costs: the check alone, and the calls it guards with and without it.

Every miner, loss, regularizer, kNN, k-means and accuracy call checks its embeddings for NaN
and inf on entry (``check_finite=True``, the default). The check is
``isfinite(sum(embeddings) + sum(ref_emb))``: one reduction pass per array and one host sync
(:func:`agnostic_ml._checks.check_all_finite`). This script times, for float32
``standard_normal((N, D))`` embeddings with 8 classes, on NumPy and torch (CPU):

* ``check``: the check alone (50x more repeats: it is short);
* ``all(isfinite)``: the obvious alternative, ``bool(all(isfinite(x)))`` (a boolean temporary);
* each guarded call with ``check_finite=True`` and with ``check_finite=False``, and the
  difference as a percentage of the unchecked call.

Timing: ``time.perf_counter`` around one call, one warm-up, the median of ``--repeats``
calls. Run it twice on a shared machine (the header prints the load average).

    python benchmarks/finite_checks.py
    python benchmarks/finite_checks.py --sizes 1024 --repeats 5
    python benchmarks/finite_checks.py --backends torch    # one library per process is steadier

On a GPU the check adds one device synchronisation per call: the host waits until the work
queued before the call has finished. Miners synchronise anyway (turning masks into index
tuples has a data-dependent size), so for them the extra cost is the reduction (microseconds);
for a loss whose forward would otherwise queue asynchronously, the sync removes the overlap of
Python with the GPU for that step; ``check_finite=False`` restores it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Median of ``repeats`` calls after a warm-up, in ms. The pause first lets the previous
    case's spinning BLAS / OpenMP threads go to sleep (they slow torch's reductions ~100x)."""
    time.sleep(0.3)
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def cases(xp_name: str, n: int, d: int) -> tuple[Any, Any, list[tuple[str, Callable[[bool], Any]]]]:
    from agnostic_ml.accuracy import knn
    from agnostic_ml.losses import ContrastiveLoss, TripletMarginLoss
    from agnostic_ml.miners import BatchHardMiner, MultiSimilarityMiner

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    lab = np.arange(n) % 8
    if xp_name == "torch":
        import torch

        emb, labels = torch.from_numpy(x), torch.from_numpy(lab)
    else:
        emb, labels = x, lab

    def miner_call(miner: Any) -> Callable[[bool], Any]:
        def call(check: bool) -> Any:
            miner.check_finite = check
            return miner(emb, labels)

        return call

    def loss_call(loss: Any) -> Callable[[bool], Any]:
        def call(check: bool) -> Any:
            loss.check_finite = check
            return loss(emb, labels)

        return call

    out = [
        ("BatchHardMiner", miner_call(BatchHardMiner())),
        ("MultiSimilarityMiner", miner_call(MultiSimilarityMiner())),
        ("TripletMarginLoss", loss_call(TripletMarginLoss())),
        ("ContrastiveLoss", loss_call(ContrastiveLoss())),
        ("knn(k=10)", lambda check: knn(emb, emb, 10, ref_includes_query=True, check_finite=check)),
    ]
    return emb, labels, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1024,4096", help="comma-separated N (default 1024,4096)")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--backends", default="numpy,torch")
    args = ap.parse_args(argv)
    from agnostic_ml._array_api import namespace_and_device
    from agnostic_ml._checks import check_all_finite

    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = (float("nan"),) * 3
    print(f"# finite checks: D={args.dim}, float32, median of {args.repeats}; load average {load[0]:.2f}")
    for backend in args.backends.split(","):
        if backend == "torch":
            import torch

            print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
        for n in (int(s) for s in args.sizes.split(",")):
            emb, _, calls = cases(backend, n, args.dim)
            xp, _ = namespace_and_device(emb)
            # the check is ~1000x shorter than the calls: many more repeats for a stable median
            check = median_ms(lambda: check_all_finite({"embeddings": emb}, xp=xp), 50 * args.repeats)
            naive = median_ms(lambda: bool(xp.all(xp.isfinite(emb))), 50 * args.repeats)
            print(f"{backend:6s} N={n:5d}  check {check:8.3f} ms   all(isfinite) {naive:8.3f} ms")
            for name, call in calls:
                on = median_ms(lambda: call(True), args.repeats)
                off = median_ms(lambda: call(False), args.repeats)
                print(
                    f"{backend:6s} N={n:5d}  {name:22s} checked {on:9.3f} ms  unchecked {off:9.3f} ms  "
                    f"check share {100 * check / off:6.2f} %"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
