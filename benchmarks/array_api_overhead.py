#!/usr/bin/env python
"""Per-call cost of the array-API layer on torch: array-api-compat's wrappers vs the core's fast namespace.

The core calls every function through the namespace that
``agnostic_ml._array_api.namespace_and_device`` returns. On torch that used to be
``array_api_compat.torch`` (Python wrappers that make torch follow the standard); it is now
``agnostic_ml._array_api._fast_torch.fast_torch_namespace()``, which calls torch directly for
the hot operations when torch already does what the standard says. This script times the
same call, on the same small tensors (where the wrapper, not the kernel, is the cost),
through both namespaces and through bare torch, interleaved in one process, and prints the
overhead over bare torch in microseconds per call (minimum over rounds: robust to other
load on the machine).

    python benchmarks/array_api_overhead.py            # 8 x 8 float32
    python benchmarks/array_api_overhead.py --n 256 --rounds 9
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cases(xp, torch, n: int) -> dict:
    x = torch.randn(n, n)
    y = torch.randn(n, n)
    b = x > 0
    i = torch.arange(n // 2)
    j = torch.zeros(n, 1, dtype=torch.int64)
    return {
        "take(axis=0)": (lambda: xp.take(x, i, axis=0), lambda: torch.index_select(x, 0, i)),
        "take_along_axis": (lambda: xp.take_along_axis(x, j, axis=1), lambda: torch.take_along_dim(x, j, dim=1)),
        "matmul": (lambda: xp.matmul(x, y), lambda: torch.matmul(x, y)),
        "sum(axis=1)": (lambda: xp.sum(x, axis=1), lambda: torch.sum(x, dim=1)),
        "max(axis=1)": (lambda: xp.max(x, axis=1), lambda: torch.amax(x, dim=1)),
        "min(axis=1)": (lambda: xp.min(x, axis=1), lambda: torch.amin(x, dim=1)),
        "count_nonzero": (lambda: xp.count_nonzero(b, axis=1), lambda: torch.count_nonzero(b, dim=1)),
        "logical_and": (lambda: xp.logical_and(b, b), lambda: torch.logical_and(b, b)),
        "maximum": (lambda: xp.maximum(x, y), lambda: torch.maximum(x, y)),
        "expand_dims": (lambda: xp.expand_dims(x, axis=1), lambda: torch.unsqueeze(x, 1)),
    }


def per_call_us(f, calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        f()
    return (time.perf_counter() - t) / calls * 1e6


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=8, help="tensors are n x n float32 (default 8)")
    p.add_argument("--calls", type=int, default=2000, help="calls per timing (default 2000)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the minimum is reported (default 5)")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error(f"--n must be >= 2, got {args.n}")
    import array_api_compat.torch as compat
    import torch

    from agnostic_ml._array_api._fast_torch import fast_torch_namespace

    torch.set_num_threads(1)
    fast = fast_torch_namespace()
    c_compat, c_fast = cases(compat, torch, args.n), cases(fast, torch, args.n)
    best = {k: [float("inf")] * 3 for k in c_compat}
    for _ in range(args.rounds):
        for k in c_compat:
            for slot, f in enumerate((c_compat[k][0], c_fast[k][0], c_compat[k][1])):
                best[k][slot] = min(best[k][slot], per_call_us(f, args.calls))
    print(f"torch {torch.__version__}, {args.n} x {args.n} float32, 1 thread, min of {args.rounds} rounds x {args.calls} calls")
    print(f"\n| operation | bare torch us | compat overhead us | fast overhead us |\n|---|---|---|---|")
    tot_c = tot_f = 0.0
    for k, (tc, tf, tn) in best.items():
        tot_c += tc - tn
        tot_f += tf - tn
        print(f"| {k} | {tn:.2f} | {tc - tn:+.2f} | {tf - tn:+.2f} |")
    print(f"| **sum over the {len(best)} operations** | | {tot_c:+.2f} | {tot_f:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
