#!/usr/bin/env python
"""Distance matrices: agnostic-ml on NumPy and on torch CPU vs PML 2.9.0 vs a bare GEMM.

For each case (distance x N x D) the self matrix ``dist(X)`` of a float32
``standard_normal((N, D))`` is timed, in one process:

* ours-numpy: ``agnostic_ml.distances.<Dist>()(X_numpy)``
* ours-torch: ``agnostic_ml.distances.<Dist>()(X_torch)`` (no autograd)
* PML:        ``pytorch_metric_learning.distances.<Dist>()(X_torch)``
* GEMM:       the faster of ``X @ X.T`` and ``X @ Y.T`` (Y a copy of X) in NumPy and in torch: the
              floor of any N x N distance (NumPy runs ``X @ X.T`` as a symmetric rank-k update, which
              OpenBLAS makes faster than a general GEMM at D = 512 but slower at D = 128)

Timing: ``time.perf_counter`` around one call, one warm-up call first, then the median of
adaptive repeats (at least 3, at most ``--max-repeats``, until about ``--target`` seconds).
Before timing, each of our results is checked against PML's (``allclose``), so the work compared
is the same.

Goals (printed as PASS / MISS at the end): ours LpDistance within 1.3x of the bare GEMM on each
backend, and ours-torch no slower than PML (ratio <= 1.0; a 5 % band is reported as "tie").

    python benchmarks/distances.py --quick
    python benchmarks/distances.py --json distances.json
    python benchmarks/distances.py --sizes 2048,4096 --dims 128 --dists LpDistance

Machine load matters: on a shared machine run it twice and compare (the header prints the load
average and thread counts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SIZES = [1024, 2048, 4096, 8192]
DIMS = [128, 512]
DISTS = ["LpDistance", "CosineSimilarity"]
GEMM_GOAL = 1.3


def timeit(
    fn: Callable[[], Any], *, target: float, min_repeats: int, max_repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Median / min of repeated calls after one warm-up (milliseconds of ``clock``).

    A short pause first lets the previous library's spinning worker threads (OpenBLAS,
    OpenMP) go to sleep, so that NumPy and torch measurements do not slow each other down.
    """
    time.sleep(0.2)
    t0 = clock()
    fn()
    warm = clock() - t0
    reps = int(min(max_repeats, max(min_repeats, target / max(warm, 1e-6))))
    samples = []
    for _ in range(reps):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return {"median_ms": 1e3 * statistics.median(samples), "min_ms": 1e3 * min(samples), "repeats": reps}


def _faster(same: dict[str, Any], general: dict[str, Any]) -> dict[str, Any]:
    """The GEMM limit: the faster of ``X @ X.T`` (NumPy runs it as syrk) and ``X @ Y.T`` (a general GEMM)."""
    best = dict(same if same["median_ms"] <= general["median_ms"] else general)
    best["x_xt"], best["x_yt"] = same, general
    return best


def limit_threads(n: int) -> Any:
    """Limit torch's and the BLAS/OpenMP pools to ``n`` threads (threadpoolctl, a scikit-learn dependency)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    return threadpool_limits(limits=n)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import pytorch_metric_learning
    from pytorch_metric_learning import distances as pml

    import agnostic_ml
    from agnostic_ml import distances as ours

    torch.set_grad_enabled(False)
    if args.threads:
        limit_threads(args.threads)  # kept for the whole run
    meta = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pml": pytorch_metric_learning.__version__,
        "agnostic_ml": agnostic_ml.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "dtype": "float32",
        "target_s": args.target,
        "clock": args.clock,
        "threads_limit": args.threads,
    }
    print(
        f"# numpy {meta['numpy']}, torch {meta['torch']} ({meta['torch_threads']} threads), PML {meta['pml']}, "
        f"{meta['cpu_count']} CPUs, load average {meta['loadavg_start'][0]:.2f} at start; float32; "
        f"median ms of {'process CPU time' if args.clock == 'cpu' else 'wall time'}"
    )
    rows = []
    header = (
        f"{'case':<30} {'ours-np':>9} {'ours-pt':>9} {'PML':>9} {'GEMM-np':>9} {'GEMM-pt':>9} "
        f"{'pt/PML':>7} {'np/GEMM':>8} {'pt/GEMM':>8}"
    )
    print(header)
    print("-" * len(header))
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    kw = {"target": args.target, "min_repeats": 3, "max_repeats": args.max_repeats, "clock": clock}
    for d in args.dims:
        for n in args.sizes:
            rng = np.random.default_rng(0)
            x_np = rng.standard_normal((n, d), dtype=np.float32)
            x_pt = torch.from_numpy(x_np.copy())
            y_np, y_pt = x_np.copy(), x_pt.clone()
            gemm_np = _faster(timeit(lambda: x_np @ x_np.T, **kw), timeit(lambda: x_np @ y_np.T, **kw))
            gemm_pt = _faster(timeit(lambda: x_pt @ x_pt.T, **kw), timeit(lambda: x_pt @ y_pt.T, **kw))
            for name in args.dists:
                mine, theirs = getattr(ours, name)(), getattr(pml, name)()
                want = theirs(x_pt)
                for got in (mine(x_np), mine(x_pt).numpy()):
                    if not np.allclose(got, want.numpy(), rtol=1e-4, atol=2e-3):
                        raise AssertionError(f"{name} N={n} D={d}: ours differs from PML")
                del want, got
                t_np = timeit(lambda: mine(x_np), **kw)
                t_pt = timeit(lambda: mine(x_pt), **kw)
                t_pml = timeit(lambda: theirs(x_pt), **kw)
                row = {
                    "case": f"{name} N={n} D={d}",
                    "distance": name,
                    "N": n,
                    "D": d,
                    "ours_numpy": t_np,
                    "ours_torch": t_pt,
                    "pml": t_pml,
                    "gemm_numpy": gemm_np,
                    "gemm_torch": gemm_pt,
                    "ratio_torch_vs_pml": t_pt["median_ms"] / t_pml["median_ms"],
                    "ratio_numpy_vs_gemm": t_np["median_ms"] / gemm_np["median_ms"],
                    "ratio_torch_vs_gemm": t_pt["median_ms"] / gemm_pt["median_ms"],
                    "loadavg": os.getloadavg()[0],
                }
                rows.append(row)
                print(
                    f"{row['case']:<30} {t_np['median_ms']:9.2f} {t_pt['median_ms']:9.2f} {t_pml['median_ms']:9.2f} "
                    f"{gemm_np['median_ms']:9.2f} {gemm_pt['median_ms']:9.2f} {row['ratio_torch_vs_pml']:7.2f} "
                    f"{row['ratio_numpy_vs_gemm']:8.2f} {row['ratio_torch_vs_gemm']:8.2f}",
                    flush=True,
                )
    meta["loadavg_end"] = os.getloadavg()
    goals = evaluate(rows)
    return {"meta": meta, "rows": rows, "goals": goals}


def evaluate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The goals, per LpDistance row: within 1.3x of GEMM on each backend; torch <= PML."""
    out = []
    print()
    for r in rows:
        if r["distance"] != "LpDistance":
            continue
        for key, label, bound in (
            ("ratio_numpy_vs_gemm", "ours-numpy / GEMM-numpy", GEMM_GOAL),
            ("ratio_torch_vs_gemm", "ours-torch / GEMM-torch", GEMM_GOAL),
            ("ratio_torch_vs_pml", "ours-torch / PML", 1.0),
        ):
            v = r[key]
            verdict = "PASS" if v <= bound else ("tie" if key == "ratio_torch_vs_pml" and v <= 1.05 else "MISS")
            out.append({"case": r["case"], "goal": label, "bound": bound, "value": v, "verdict": verdict})
            print(f"{verdict:<4} {r['case']:<28} {label:<24} {v:5.2f} (goal <= {bound})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run: N=256,512, D=64, short repeats")
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=SIZES)
    ap.add_argument("--dims", type=lambda s: [int(v) for v in s.split(",")], default=DIMS)
    ap.add_argument("--dists", type=lambda s: s.split(","), default=DISTS)
    ap.add_argument("--target", type=float, default=1.0, help="seconds of repeats per measurement")
    ap.add_argument("--max-repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="limit torch and BLAS to this many threads (0: their defaults)")
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time (default) or process CPU time (robust on a loaded machine; meaningful with --threads 1)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.dims, args.target, args.max_repeats = [256, 512], [64], 0.05, 5
    result = run(args)
    result["argv"] = list(sys.argv[1:] if argv is None else argv)  # so that plots can quote the command
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
