#!/usr/bin/env python
"""The whole GPU check in one run (< 8 minutes on one GPU): tests, miners, kNN and accuracy on CuPy and torch CUDA.

Steps, each printed as a Markdown table (and all written to ``--json``):

1. **tests**: the core miner, distance and kNN tests with the GPU backends *required*
   (``AGNOSTIC_ML_TEST_BACKENDS=cupy,torch_cuda``: a backend that cannot be built fails instead
   of skipping), restricted to those backends' parametrisations (``-k``);
2. **miners**: the issue-11 miners (BatchHard, BatchEasyHard, PairMargin, MultiSimilarity, HDC,
   UniformHistogram, DistanceWeighted) on each GPU backend and PML on CUDA, N = 1024 ... 16384,
   D = 128, as a ratio to the GPU's own limit (GEMM ``X @ X.T`` plus one in-place pass, on the same
   device); on torch CUDA also the number of host synchronisations per call
   (``torch.cuda.set_sync_debug_mode``: the boundary's ``nonzero`` is one; a hot path must not add
   one per step);
3. **kNN**: ``agnostic_ml.accuracy.knn`` with 10k queries against 100k and 1M references (k = 10,
   100), ratio to the GEMM of the same Q x R work on the device (measured on one 100k-reference
   tile and scaled), and faiss GPU ``IndexFlatL2`` when faiss has GPU support;
4. **accuracy**: the AccuracyCalculator's kNN metrics at Q = R = 50k, ours on the GPU backends
   against PML's on CUDA (``k="max_bin_count"``).

Time: the median of ``--reps`` calls after one warm-up, each followed by a device synchronisation.
Sizes that would not fit ``--budget-s`` (checked before each case, from the time used so far) are
skipped and reported.

``--dry-run`` runs every step end to end on the CPU at tiny sizes (NumPy and torch CPU instead of
CuPy and torch CUDA, PML on CPU, the test step on NumPy), so that the script is known to work
before a GPU is available (``tests/test_gpu_run_dry.py`` runs it).

    bash benchmarks/gpu_run.sh                 # on the GPU machine
    python benchmarks/gpu_run.py --dry-run     # anywhere, ~10 s
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from typing import Any, Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "adapters"))

MINERS = ("BatchHardMiner", "BatchEasyHardMiner", "PairMarginMiner", "MultiSimilarityMiner", "HDCMiner",
          "UniformHistogramMiner", "DistanceWeightedMiner")
RANDOM_MINERS = ("UniformHistogramMiner", "DistanceWeightedMiner")
TEST_FILES = ("tests/core/test_pair_miners.py", "tests/core/test_triplet_miners.py", "tests/core/test_distances.py",
              "tests/core/test_knn.py")


class Plan:
    """Sizes and backends of a run: the GPU plan, or the tiny CPU plan of ``--dry-run``."""

    def __init__(self, dry: bool) -> None:
        self.dry = dry
        self.backends = ("numpy", "torch") if dry else ("cupy", "torch-cuda")
        self.test_backends = ("numpy",) if dry else ("cupy", "torch_cuda")
        self.test_files = TEST_FILES[:1] if dry else TEST_FILES
        self.miner_sizes = (64, 128) if dry else (1024, 4096, 16384)
        self.knn_q = 200 if dry else 10_000
        self.knn_refs = (1_000, 4_000) if dry else (100_000, 1_000_000)
        self.knn_ks = (10, 100)
        self.acc_n = 500 if dry else 50_000
        self.dim = 16 if dry else 128
        self.pml_device = "cpu" if dry else "cuda"


# --------------------------------------------------------------------------------------------
# Backends: moving host arrays, synchronising, the device GEMM limit
# --------------------------------------------------------------------------------------------


def move(backend: str, *arrays: Any) -> list[Any]:
    """Host NumPy arrays -> arrays of ``backend`` (numpy, torch, cupy, torch-cuda)."""
    if backend == "numpy":
        return list(arrays)
    if backend == "cupy":
        import cupy

        return [cupy.asarray(a) for a in arrays]
    import torch

    dev = "cuda" if backend == "torch-cuda" else "cpu"
    return [torch.from_numpy(a).to(dev) for a in arrays]


def syncer(backend: str) -> Callable[[], None]:
    if backend == "cupy":
        import cupy

        return lambda: cupy.cuda.Device().synchronize()
    if backend == "torch-cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def median_s(f: Callable[[], Any], sync: Callable[[], None], reps: int) -> float:
    f()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def gemm_pass(backend: str, x: Any) -> Callable[[], Any]:
    """The limit: ``x @ x.T`` then one in-place pass over the result, on ``x``'s device."""
    if backend in ("numpy", "cupy"):
        mod = __import__(backend)

        def f() -> Any:
            g = x @ x.T
            mod.clip(g, -1.0, 1.0, out=g)
            return g

        return f

    def ft() -> Any:
        g = x @ x.T
        g.clamp_(-1.0, 1.0)
        return g

    return ft


def count_syncs(backend: str, f: Callable[[], Any]) -> int | None:
    """Host synchronisations in one call of ``f`` (torch CUDA only; None elsewhere)."""
    if backend != "torch-cuda":
        return None
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            f()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


class Run:
    def __init__(self, plan: Plan, budget_s: float, reps: int) -> None:
        self.plan, self.budget_s, self.reps = plan, budget_s, reps
        self.t0 = time.perf_counter()
        self.out: dict[str, Any] = {"dry_run": plan.dry, "steps": {}}

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        print(f"\n#### {title}\n")
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join("---" for _ in headers) + "|")
        for r in rows:
            print("| " + " | ".join(str(c) for c in r) + " |")
        sys.stdout.flush()

    # 1 ------------------------------------------------------------------------------------
    def tests(self) -> None:
        p = self.plan
        env = dict(os.environ, AGNOSTIC_ML_TEST_BACKENDS=",".join(p.test_backends),
                   PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "adapters"), os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *p.test_files,
               "-k", " or ".join(p.test_backends)]
        t = time.perf_counter()
        res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=max(30, self.left() / 3))
        tail = (res.stdout.strip().splitlines() or [""])[-1]
        self.out["steps"]["tests"] = {"cmd": cmd, "rc": res.returncode, "summary": tail, "s": time.perf_counter() - t}
        self.table(f"Tests, {','.join(p.test_backends)} required", ["rc", "summary", "s"],
                   [[res.returncode, tail, f"{time.perf_counter() - t:.1f}"]])
        if res.returncode != 0:
            print(res.stdout[-4000:], res.stderr[-2000:], sep="\n")

    # 2 ------------------------------------------------------------------------------------
    def miners(self) -> None:
        import numpy as np

        import agnostic_ml.miners as ours

        p = self.plan
        rows, data = [], []
        for n in p.miner_sizes:
            rng = np.random.default_rng(0)
            emb = rng.standard_normal((n, p.dim), dtype=np.float32)
            lab = rng.permutation(np.repeat(np.arange(n // 8), 8)).astype(np.int64)
            for b in p.backends:
                if self.left() < 60 and not p.dry:
                    rows.append([n, b, "skipped: time budget", "", "", "", ""])
                    continue
                e, lab_b = move(b, emb, lab)
                sync = syncer(b)
                lim = median_s(gemm_pass(b, e), sync, max(self.reps, 5))
                for name in MINERS:
                    kw = {"rng": 0} if name in RANDOM_MINERS else {}
                    m = getattr(ours, name)(**kw)
                    t = median_s(lambda: m(e, lab_b), sync, self.reps)
                    syncs = count_syncs(b, lambda: m(e, lab_b))
                    rows.append([n, b, name, f"{t * 1e3:.3g}", f"{t / lim:.2f}x", "-" if syncs is None else syncs, ""])
                    data.append({"N": n, "backend": b, "miner": name, "s": t, "limit_s": lim, "syncs": syncs})
            pml_rows = self._pml_miners(n, emb, lab)
            for name, t in pml_rows.items():
                lim = min((d["limit_s"] for d in data if d["N"] == n), default=float("nan"))
                rows.append([n, f"PML ({p.pml_device})", name, f"{t * 1e3:.3g}", f"{t / lim:.2f}x", "-", ""])
                data.append({"N": n, "backend": f"pml-{p.pml_device}", "miner": name, "s": t, "limit_s": lim})
        self.out["steps"]["miners"] = data
        self.table(f"Miners, D={p.dim}: ours/limit (limit = the device's GEMM + one pass)",
                   ["N", "backend", "miner", "ms", "/limit", "host syncs per call", ""], rows)

    def _pml_miners(self, n: int, emb: Any, lab: Any) -> dict[str, float]:
        try:
            import torch
            from pytorch_metric_learning import miners as pml
        except ImportError:
            return {}
        if self.left() < 60 and not self.plan.dry:
            return {}
        dev = self.plan.pml_device
        e, lab_t = torch.from_numpy(emb).to(dev), torch.from_numpy(lab).to(dev)
        sync = syncer("torch-cuda" if dev == "cuda" else "torch")
        out = {}
        for name in MINERS:
            if n > 4096 and name in ("UniformHistogramMiner",):  # PML's Python loop over bins: minutes at 16k
                continue
            m = getattr(pml, name)()
            out[name] = median_s(lambda: m(e, lab_t), sync, max(1, self.reps // 2))
        return out

    # 3 ------------------------------------------------------------------------------------
    def knn(self) -> None:
        import numpy as np

        from agnostic_ml.accuracy import knn

        p = self.plan
        rng = np.random.default_rng(1)
        rows, data = [], []
        q_np = rng.standard_normal((p.knn_q, p.dim), dtype=np.float32)
        for n_ref in p.knn_refs:
            r_np = rng.standard_normal((n_ref, p.dim), dtype=np.float32)
            for b in p.backends:
                if self.left() < 45 and not p.dry:
                    rows.append([n_ref, b, "-", "skipped: time budget", "", ""])
                    continue
                q, r = move(b, q_np, r_np)
                sync = syncer(b)
                tile = min(n_ref, 100_000)
                r_tile = r[:tile]
                g = median_s(lambda: q @ r_tile.T, sync, 3) * (n_ref / tile)
                for k in p.knn_ks:
                    t = median_s(lambda: knn(q, r, k), sync, max(1, self.reps // 2))
                    rows.append([n_ref, b, k, f"{t * 1e3:.4g}", f"{t / g:.2f}x", ""])
                    data.append({"R": n_ref, "backend": b, "k": k, "s": t, "gemm_s": g})
                del q, r, r_tile
            for k in p.knn_ks:
                t = self._faiss_gpu(q_np, r_np, k)
                if t is not None:
                    rows.append([n_ref, "faiss GPU IndexFlatL2", k, f"{t * 1e3:.4g}", "", ""])
                    data.append({"R": n_ref, "backend": "faiss-gpu", "k": k, "s": t})
        self.out["steps"]["knn"] = data
        self.table(f"Exact kNN, Q={p.knn_q}, D={p.dim}: ours/GEMM (the Q x R GEMM on the device)",
                   ["R", "backend", "k", "ms", "/GEMM", ""], rows)

    def _faiss_gpu(self, q: Any, r: Any, k: int) -> float | None:
        if self.plan.dry:
            return None
        try:
            import faiss

            res = faiss.StandardGpuResources()
        except (ImportError, AttributeError):
            return None

        def f() -> Any:
            index = faiss.GpuIndexFlatL2(res, q.shape[1])
            index.add(r)
            return index.search(q, k)

        return median_s(f, lambda: None, max(1, self.reps // 2))

    # 4 ------------------------------------------------------------------------------------
    def accuracy(self) -> None:
        import numpy as np

        from agnostic_ml.accuracy import AccuracyCalculator

        p = self.plan
        rng = np.random.default_rng(2)
        n = p.acc_n
        centres = rng.standard_normal((100, p.dim), dtype=np.float32)
        lab = rng.permutation(np.repeat(np.arange(100), -(-n // 100))[:n]).astype(np.int64)
        x = centres[lab] + 1.5 * rng.standard_normal((n, p.dim), dtype=np.float32)
        rows, data = [], []
        for b in p.backends:
            if self.left() < 30 and not p.dry:
                rows.append([n, b, "skipped: time budget", ""])
                continue
            xa, la = move(b, x, lab)
            calc = AccuracyCalculator(exclude=("AMI", "NMI"), k="max_bin_count")
            t = median_s(lambda: calc.get_accuracy(xa, la), syncer(b), max(1, self.reps // 3))
            p1 = float(calc.get_accuracy(xa, la)["precision_at_1"])
            rows.append([n, b, f"{t:.3g}", f"{p1:.4f}"])
            data.append({"N": n, "backend": b, "s": t, "precision_at_1": p1})
        try:
            import torch
            from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator as PMLCalc

            dev = torch.device(p.pml_device)
            calc = PMLCalc(exclude=("AMI", "NMI"), k="max_bin_count", device=dev)
            xt, lt = torch.from_numpy(x).to(dev), torch.from_numpy(lab).to(dev)
            t = median_s(lambda: calc.get_accuracy(xt, lt), syncer("torch-cuda" if p.pml_device == "cuda" else "torch"),
                         max(1, self.reps // 3))
            p1 = float(calc.get_accuracy(xt, lt)["precision_at_1"])
            rows.append([n, f"PML ({p.pml_device})", f"{t:.3g}", f"{p1:.4f}"])
            data.append({"N": n, "backend": f"pml-{p.pml_device}", "s": t, "precision_at_1": p1})
        except ImportError as exc:
            rows.append([n, "PML", f"not run: {exc}", ""])
        self.out["steps"]["accuracy"] = data
        self.table("AccuracyCalculator, kNN metrics (all default metrics but AMI, NMI), k='max_bin_count'",
                   ["Q = R", "backend", "s", "precision@1"], rows)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="everything on the CPU at tiny sizes (NumPy, torch CPU)")
    ap.add_argument("--steps", default="tests,miners,knn,accuracy", help="comma-separated subset of the steps")
    ap.add_argument("--budget-s", type=float, default=450.0, help="stop adding cases after this many seconds (default 450)")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per case after one warm-up (default 5)")
    ap.add_argument("--json", metavar="PATH", help="write every measurement to PATH")
    args = ap.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    known = ("tests", "miners", "knn", "accuracy")
    bad = [s for s in steps if s not in known]
    if bad:
        ap.error(f"--steps: unknown {bad}, expected some of {known}")
    if args.reps < 1:
        ap.error(f"--reps must be >= 1, got {args.reps}")
    plan = Plan(args.dry_run)
    if not plan.dry:
        import torch

        if not torch.cuda.is_available():
            print("no CUDA device: torch.cuda.is_available() is False (use --dry-run to check the script on CPU)")
            return 2
        print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    run = Run(plan, args.budget_s, args.reps)
    for s in steps:
        t = time.perf_counter()
        getattr(run, s)()
        print(f"({s}: {time.perf_counter() - t:.1f} s, {run.left():.0f} s of the budget left)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(run.out, f, indent=1, default=str)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
