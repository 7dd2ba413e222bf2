#!/usr/bin/env python
"""Miners: agnostic-ml (on NumPy and on torch CPU) against PML 2.9.0, on the same inputs, in one run.

Every case (miner x backend x N x D) runs in its own child process (see ``_harness.py``):
median time of adaptive repeats, peak RSS above the pre-call resident set, and the tuple count.
Also measured in the same run, per (N, D): the bare limit, ``X @ X.T`` followed by one in-place
elementwise pass over the N x N result (``clip`` in NumPy, ``clamp_`` in torch; the faster of the
two is the limit), and, per N, the cost of writing the all-triplets output (3 x T int64, the floor of
a miner that returns O(N^2 P) triplets).

Inputs: float32 ``standard_normal((N, D))``, N/8 classes x 8 samples, shuffled, seed 0 (as in PML's
baseline). Default arguments everywhere (``TripletMarginMiner`` for each ``type_of_triplets``).

    python benchmarks/miners.py --quick
    python benchmarks/miners.py --miners PairMarginMiner,BatchHardMiner --sizes 1024,2048 --dims 128
    python benchmarks/miners.py --json miners.json

Goals evaluated at the end (PASS / MISS lines):
  1. no O(N^3): TripletMarginMiner, AngularMiner, AllTripletsMiner at N=4096 finish with a peak of
     O(N^2 + output) (bound: 512 MiB + 16 N x N float32 matrices + 3 x the output's int64 bytes);
  2. every deterministic miner at N=1024, D=128 at least 1.5x faster than PML on NumPy and on torch
     CPU, and within 4x of the limit (GEMM + one pass; for miners that return all O(N^2 P) triplets the
     limit also includes writing that output, measured in the same run);
  3. issue 11: the pair and batch miners (BatchHard, BatchEasyHard, PairMargin, MultiSimilarity, HDC)
     within 3x of the limit at N=1024 and N=4096 (D=128), on NumPy and on torch; UniformHistogram and
     DistanceWeighted within 5x;
  4. with ``--growth`` (N = 512 ... 8192, D = 128, ours only unless ``--backends`` says otherwise):
     the exponent of a least-squares fit of log time against log N for every miner and for the limit;
     the goal is N^2 growth (exponent <= 2.2: the limit's own GEMM is ~N^2 at these sizes).

    python benchmarks/miners.py --growth --threads 1
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

SAMPLES_PER_CLASS = 8


@dataclasses.dataclass(frozen=True)
class MinerCase:
    name: str  # row label, e.g. "TripletMarginMiner[hard]"
    cls: str  # class name in agnostic_ml.miners
    kwargs: tuple = ()  # constructor kwargs (same for ours and PML)
    pml: str | None = None  # PML class name, "lmu.get_all_triplets_indices", or None (ours only)
    deterministic: bool = True  # tuple counts must equal PML's
    all_triplets: bool = False  # returns O(N^2 P) triplets: limit includes the output write
    cubic_goal: bool = False  # part of the no-O(N^3) goal


def _tm(t: str) -> MinerCase:
    return MinerCase(
        f"TripletMarginMiner[{t}]",
        "TripletMarginMiner",
        (("type_of_triplets", t),),
        "TripletMarginMiner",
        all_triplets=t != "easy",
        cubic_goal=True,
    )


KNOWN: list[MinerCase] = [
    MinerCase("AllTripletsMiner", "AllTripletsMiner", (), "lmu.get_all_triplets_indices", all_triplets=True, cubic_goal=True),
    MinerCase("AngularMiner", "AngularMiner", (), "AngularMiner", all_triplets=True, cubic_goal=True),
    MinerCase("BatchEasyHardMiner", "BatchEasyHardMiner", (), "BatchEasyHardMiner"),
    MinerCase("BatchHardMiner", "BatchHardMiner", (), "BatchHardMiner"),
    MinerCase("DistanceWeightedMiner", "DistanceWeightedMiner", (), "DistanceWeightedMiner", deterministic=False),
    MinerCase("HDCMiner", "HDCMiner", (), "HDCMiner"),
    MinerCase("MultiSimilarityMiner", "MultiSimilarityMiner", (), "MultiSimilarityMiner"),
    MinerCase("PairMarginMiner", "PairMarginMiner", (), "PairMarginMiner"),
    _tm("all"),
    _tm("hard"),
    _tm("semihard"),
    _tm("easy"),
    MinerCase("UniformHistogramMiner", "UniformHistogramMiner", (), "UniformHistogramMiner", deterministic=False),
]
BACKENDS = ("numpy", "torch", "pml")
# Issue 11's goals: ours / limit at N = 1024 and 4096 (D = 128), on NumPy and torch.
LIMIT_GOALS: dict[str, float] = {
    "BatchHardMiner": 3.0,
    "BatchEasyHardMiner": 3.0,
    "PairMarginMiner": 3.0,
    "MultiSimilarityMiner": 3.0,
    "HDCMiner": 3.0,
    "UniformHistogramMiner": 5.0,
    "DistanceWeightedMiner": 5.0,
}
GROWTH_SIZES = (512, 1024, 2048, 4096, 8192)
GROWTH_MAX_EXPONENT = 2.2


def growth_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of the least-squares line through ``(log N, log t)``: t ~ N^slope.

    >>> round(growth_exponent([512, 1024, 2048], [1.0, 4.0, 16.0]), 6)
    2.0
    """
    import math

    if len(sizes) != len(seconds) or len(sizes) < 2:
        raise ValueError(f"growth_exponent needs >= 2 (N, time) points of equal length, got {len(sizes)} and {len(seconds)}")
    xs = [math.log(n) for n in sizes]
    ys = [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError(f"growth_exponent needs at least two different sizes, got {sizes}")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


# --------------------------------------------------------------------------------------------
# Child side: build one case
# --------------------------------------------------------------------------------------------


def make_inputs(n: int, d: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, d), dtype=np.float32)
    labels = rng.permutation(np.repeat(np.arange(n // SAMPLES_PER_CLASS), SAMPLES_PER_CLASS)).astype(np.int64)
    return emb, labels


def _count(out) -> dict:
    if len(out) == 3:
        return {"tuples": int(out[0].shape[0]), "form": "triplets"}
    return {"pos": int(out[0].shape[0]), "neg": int(out[2].shape[0]), "form": "pairs"}


def build(spec: dict) -> H.Prepared:
    import numpy as np

    n, d, seed = spec["N"], spec["D"], spec.get("seed", 0)
    kind = spec["kind"]
    if kind == "outwrite":
        t = spec["T"]

        def write():
            return np.full((3, t), 1, dtype=np.int64)

        return H.Prepared(write, info={"T": t})

    emb, labels = make_inputs(n, d, seed)
    backend = spec["backend"]
    if kind == "limit":
        if backend == "numpy":

            def gemm_pass():
                g = emb @ emb.T
                np.clip(g, -1.0, 1.0, out=g)
                return g

            return H.Prepared(gemm_pass, tracemalloc=True)
        import torch

        x = torch.from_numpy(emb)

        def gemm_pass_t():
            g = x @ x.T
            g.clamp_(-1.0, 1.0)
            return g

        return H.Prepared(gemm_pass_t, info={"torch_threads": torch.get_num_threads()})

    kwargs = dict(spec.get("kwargs", []))
    if backend == "pml":
        import torch
        import pytorch_metric_learning as pml_pkg
        from pytorch_metric_learning import miners as pml_miners
        from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

        e, lab = torch.from_numpy(emb), torch.from_numpy(labels)
        info = {"torch_threads": torch.get_num_threads(), "pml": pml_pkg.__version__}
        if spec["pml"] == "lmu.get_all_triplets_indices":
            return H.Prepared(lambda: lmu.get_all_triplets_indices(lab), describe=_count, info=info)
        miner = getattr(pml_miners, spec["pml"])(**kwargs)
        return H.Prepared(lambda: miner(e, lab), describe=_count, info=info)

    H.add_repo_to_path()
    import agnostic_ml.miners as ours

    cls = getattr(ours, spec["cls"])
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    if "rng" in params:
        kwargs["rng"] = seed
    miner = cls(**kwargs)
    if backend == "numpy":
        return H.Prepared(lambda: miner(emb, labels), describe=_count, tracemalloc=False)
    import torch

    e, lab = torch.from_numpy(emb), torch.from_numpy(labels)
    return H.Prepared(lambda: miner(e, lab), describe=_count, info={"torch_threads": torch.get_num_threads()})


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def n_all_triplets(n: int) -> int:
    p = SAMPLES_PER_CLASS - 1
    return n * p * (n - SAMPLES_PER_CLASS)


def pml_predicted_bytes(case: MinerCase, n: int, d: int) -> int:
    """Rough peak of PML's implementation (from its source; see the baseline's analysis)."""
    t = n_all_triplets(n)
    base = 300 * H.MiB
    if case.pml in ("TripletMarginMiner", "lmu.get_all_triplets_indices", "AngularMiner"):
        if n**3 < 2**31 - 1:
            idx = n**3 + 2 * 3 * t * 8  # uint8 cube + where() output and a copy
        else:
            idx = 2 * 3 * t * 8  # per-anchor pieces + torch.cat
        if case.pml == "AngularMiner":
            return base + idx + 5 * t * d * 4  # a, p, n, centre gathers + a temporary, all T x D float32
        if case.pml == "TripletMarginMiner":
            return base + idx + 3 * t * 4
        return base + idx
    return base + 24 * n * n * 4


def discover_ours() -> tuple[list[str], str | None]:
    """Miner classes that agnostic_ml.miners exports (imported in the parent: NumPy only)."""
    H.add_repo_to_path()
    try:
        import agnostic_ml.miners as ours
    except Exception as exc:  # noqa: BLE001
        return [], f"{type(exc).__name__}: {exc}"
    names = getattr(ours, "__all__", dir(ours))
    out = []
    for x in names:
        if not x.endswith("Miner") or x == "BaseMiner":
            continue
        try:  # only miners that can be built with default arguments
            params = inspect.signature(getattr(ours, x)).parameters.values()
        except (TypeError, ValueError, AttributeError):
            continue
        if any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params):
            continue
        out.append(x)
    return out, None


def main(argv: list[str]) -> int:
    if "--worker" in argv:
        return H.worker_main(build, argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    H.add_common_options(p)
    p.add_argument("--miners", help="comma-separated row names or class names (default: all)")
    p.add_argument("--sizes", help="comma-separated N (default 512,1024,2048,4096; quick 512,1024)")
    p.add_argument("--dims", help="comma-separated D (default 128,512; quick 128)")
    p.add_argument("--backends", help="comma-separated from numpy,torch,pml (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-limits", action="store_true", help="skip the GEMM+pass and output-write rows")
    p.add_argument("--growth", action="store_true",
                   help="time growth with N: sizes 512..8192, D=128, the issue-11 miners, ours only (unless "
                        "--sizes/--dims/--miners/--backends say otherwise); prints the fitted exponent")
    args = p.parse_args(argv)
    if args.growth:
        args.sizes = args.sizes or ",".join(map(str, GROWTH_SIZES))
        args.dims = args.dims or "128"
        args.miners = args.miners or ",".join(LIMIT_GOALS)
        args.backends = args.backends or "numpy,torch"

    sizes = [int(x) for x in H.csv_list(args.sizes)] if args.sizes else ([512, 1024] if args.quick else [512, 1024, 2048, 4096])
    dims = [int(x) for x in H.csv_list(args.dims)] if args.dims else ([128] if args.quick else [128, 512])
    backends = H.csv_list(args.backends) or list(BACKENDS)
    for b in backends:
        if b not in BACKENDS:
            p.error(f"--backends: unknown backend {b!r}, expected some of {BACKENDS}")
    timing = H.QUICK_TIMING if args.quick else H.FULL_TIMING
    timeout = args.timeout or (300.0 if args.quick else 900.0)
    mem_limit = int(args.mem_limit_gb * H.GiB) if args.mem_limit_gb else None

    ours_names, import_error = discover_ours()
    cases = list(KNOWN)
    known_cls = {c.cls for c in KNOWN}
    for name in ours_names:
        if name not in known_cls:
            cases.append(MinerCase(name, name, (), None, deterministic=False))
    all_names = [c.name for c in cases]
    wanted = H.csv_list(args.miners)
    if wanted:
        cases = [c for c in cases if c.name in wanted or c.cls in wanted]
        missing = [w for w in wanted if not any(w in (c.name, c.cls) for c in cases)]
        if missing:
            p.error(f"--miners: unknown {missing}; known: {all_names}")

    script = os.path.abspath(__file__)
    machine = H.report_header(args, "miners")
    if import_error:
        print(f"note: agnostic_ml.miners failed to import in the parent: {import_error}")
    print(f"sizes {sizes}, dims {dims}, backends {backends}, RLIMIT_AS {args.mem_limit_gb} GiB, timeout {timeout:.0f} s")

    results: list[dict] = []

    def run(spec: dict, label: str, t: H.Timing = timing) -> dict:
        spec = dict(spec, seed=args.seed, timing=dict(dataclasses.asdict(t), clock=args.clock))
        res = H.run_case(script, spec, timeout=timeout, mem_limit=mem_limit, quiet_wait=args.quiet_wait, env=H.child_env(args.threads, args.torch_thp))
        res["label"] = label
        results.append(res)
        H.progress(res, label, args.verbose)
        return res

    table: dict = {}  # (N, D, row, backend) -> result
    limits: dict = {}  # (N, D) -> {"numpy": res, "torch": res}
    outwrite: dict = {}  # N -> res
    for n in sizes:
        if not args.no_limits and any(c.all_triplets for c in cases):
            outwrite[n] = run({"kind": "outwrite", "N": n, "D": 0, "T": n_all_triplets(n)}, f"output write N={n}")
        for d in dims:
            if not args.no_limits:
                limits[(n, d)] = {
                    b: run({"kind": "limit", "backend": b, "N": n, "D": d}, f"{b} GEMM+pass N={n} D={d}", H.LIMIT_TIMING)
                    for b in ("numpy", "torch")
                }
            for c in cases:
                for b in backends:
                    if b == "pml" and c.pml is None:
                        continue
                    spec = {"kind": "miner", "backend": b, "N": n, "D": d, "cls": c.cls, "pml": c.pml, "kwargs": list(c.kwargs)}
                    label = f"{c.name} {b} N={n} D={d}"
                    if b == "pml" and mem_limit and pml_predicted_bytes(c, n, d) > mem_limit:
                        pred = pml_predicted_bytes(c, n, d)
                        res = H.skipped(spec, f"predicted {pred / H.GiB:.1f} GiB > RLIMIT_AS {args.mem_limit_gb} GiB: not run", "SKIP")
                        res.update(predicted_oom=True, predicted_bytes=pred, label=label)
                        results.append(res)
                        H.progress(res, label, args.verbose)
                    else:
                        res = run(spec, label)
                    table[(n, d, c.name, b)] = res
    print()

    out_lines: list[str] = []
    # ---- limits
    rows = []
    for (n, d), lim in limits.items():
        for b, r in lim.items():
            rows.append([f"{b} GEMM+pass", n, d, H.fmt_ms(r), H.fmt_num(r.get("min_s", 0) * 1e3) if r.get("status") == "ok" else "-",
                         r.get("reps", "-"), H.fmt_mib(r.get("delta_rss")), f"{r.get('other_cores', 0):.2f}"])
    for n, r in outwrite.items():
        rows.append([f"write 3 x {n_all_triplets(n):,} int64", n, "-", H.fmt_ms(r), H.fmt_num(r.get("min_s", 0) * 1e3) if r.get("status") == "ok" else "-",
                     r.get("reps", "-"), H.fmt_mib(r.get("delta_rss")), f"{r.get('other_cores', 0):.2f}"])
    if rows:
        out_lines.append(H.print_table("Limits (same run)", ["op", "N", "D", "median ms", "min ms", "reps", "delta RSS MiB", "other cores"], rows))

    def limit_s(n: int, d: int, c: MinerCase) -> float | None:
        lim = limits.get((n, d))
        if not lim:
            return None
        ok = [r["median_s"] for r in lim.values() if r.get("status") == "ok"]
        if not ok:
            return None
        base = min(ok)
        if c.all_triplets:
            w = outwrite.get(n)
            if not w or w.get("status") != "ok":
                return None
            base += w["median_s"]
        return base

    def cnt(r: dict | None) -> str:
        if not r or r.get("status") != "ok":
            return "-"
        i = r.get("info", {})
        if i.get("form") == "triplets":
            return f"{i['tuples']:,}"
        if i.get("form") == "pairs":
            return f"{i['pos']:,}+{i['neg']:,}"
        return "?"

    def counts_of(r: dict | None):
        if not r or r.get("status") != "ok":
            return None
        i = r.get("info", {})
        return (i["tuples"],) if i.get("form") == "triplets" else (i.get("pos"), i.get("neg"))

    def close(a: tuple, b: tuple) -> tuple[bool, int]:
        diff = max(abs(x - y) for x, y in zip(a, b))
        return diff == 0 or diff <= 2 or diff / max(1, max(b)) < 1e-5, diff

    def check(c: MinerCase, rs: dict) -> str:
        if c.pml is None:
            return "ours only"
        ref = counts_of(rs.get("pml"))
        mine = [counts_of(rs.get(b)) for b in ("numpy", "torch") if counts_of(rs.get(b)) is not None]
        if not mine:
            return "-"
        if not c.deterministic:
            if ref is None:
                return "(random)"
            diff = max(abs(a - b) for a, b in zip(mine[0], ref))
            return "(random) equal" if diff == 0 else f"(random, {diff / max(1, max(ref)):.1%})"
        pairs = [(m, ref) for m in mine] if ref is not None else []
        if len(mine) == 2:
            pairs.append((mine[0], mine[1]))
        if not pairs:
            return "-"
        if any(len(a) != len(b) for a, b in pairs):
            return "MISMATCH (form)"
        verdicts = [close(a, b) for a, b in pairs]
        worst = max(d for _, d in verdicts)
        if worst == 0:
            return "equal"
        if all(ok for ok, _ in verdicts):
            return f"~equal (max diff {worst}: float ties at the margin)"
        return f"MISMATCH (max diff {worst})"

    for n in sizes:
        for d in dims:
            rows = []
            for c in cases:
                rs = {b: table.get((n, d, c.name, b)) for b in backends}
                lim = limit_s(n, d, c)

                def over_lim(r):
                    if lim is None or not r or r.get("status") != "ok":
                        return "-"
                    return H.fmt_num(r["median_s"] / lim, 2) + "x"

                rows.append([
                    c.name,
                    *[H.fmt_ms(rs.get(b)) if b in backends else "-" for b in BACKENDS],
                    H.fmt_ratio(rs.get("numpy"), rs.get("pml")),
                    H.fmt_ratio(rs.get("torch"), rs.get("pml")),
                    *[over_lim(rs.get(b)) for b in BACKENDS],
                    " / ".join(H.fmt_mib(rs[b].get("delta_rss")) if rs.get(b) and rs[b].get("status") == "ok" else (H.status_cell(rs[b]) if rs.get(b) else "-") for b in BACKENDS if b in backends),
                    " / ".join(cnt(rs.get(b)) for b in backends),
                    check(c, rs),
                ])
            lim_txt = []
            if (n, d) in limits:
                ok = {b: r["median_s"] * 1e3 for b, r in limits[(n, d)].items() if r.get("status") == "ok"}
                if ok:
                    best = min(ok, key=ok.get)
                    lim_txt.append(f"limit = {best} GEMM+pass {ok[best]:.3g} ms")
            if outwrite.get(n, {}).get("status") == "ok":
                lim_txt.append(f"+ output write {outwrite[n]['median_s'] * 1e3:.3g} ms for all-triplet miners")
            out_lines.append(H.print_table(
                f"Miners, N={n}, D={d} ({'quick' if args.quick else 'full'} run, {args.clock} clock, threads: {args.threads or 'default'})",
                ["miner", "ours numpy ms", "ours torch ms", "PML ms", "numpy/PML", "torch/PML",
                 "numpy/limit", "torch/limit", "PML/limit", f"delta RSS MiB ({'/'.join(backends)})",
                 f"tuples ({'/'.join(backends)})", "count check"],
                rows,
                note=("; ".join(lim_txt) + ". " if lim_txt else "No limit measured (--no-limits). ")
                + "Ratios < 1 mean ours is faster. Counts: pairs as pos+neg.",
            ))

    # ---- goals
    print("\n### Goals")
    goals: list[str] = []
    ours_b = [b for b in ("numpy", "torch") if b in backends]
    cubic = [c for c in cases if c.cubic_goal]
    if cubic and 4096 not in sizes:
        goals.append(H.goal_line(None, "no O(N^3): needs N=4096 (not in this run; e.g. --miners TripletMarginMiner,AngularMiner,"
                                       "AllTripletsMiner --sizes 4096 --dims 128)"))
        cubic = []
    for c in cubic:
        for b in ours_b:
            r = table.get((4096, 128, c.name, b)) or next((table[k] for k in table if k[0] == 4096 and k[2] == c.name and k[3] == b), None)
            if r is None:
                goals.append(H.goal_line(None, f"no O(N^3): {c.name} on {b}: N=4096 not in this run"))
                continue
            if r.get("status") != "ok":
                goals.append(H.goal_line(False, f"no O(N^3): {c.name} on {b} at N=4096: {r.get('status')} {r.get('message', '')[:120]}"))
                continue
            n = 4096
            t = r["info"].get("tuples", 0)
            bound = 512 * H.MiB + 16 * n * n * 4 + 3 * 3 * t * 8
            peak = r.get("delta_rss", 0)
            goals.append(H.goal_line(peak <= bound, (
                f"no O(N^3): {c.name} on {b} at N=4096 D={r['spec']['D']}: delta RSS {peak / H.MiB:.0f} MiB "
                f"(output {3 * t * 8 / H.MiB:.0f} MiB, N^2 float32 {n * n * 4 / H.MiB:.0f} MiB; bound {bound / H.MiB:.0f} MiB; "
                f"an N^3 byte cube would be {n ** 3 / H.GiB:.0f} GiB), {r['median_s'] * 1e3:.4g} ms")))
    n, d = 1024, 128
    if not (n in sizes and d in dims):
        goals.append(H.goal_line(None, "speed: needs N=1024, D=128 (not in this run)"))
    for c in (cases if n in sizes and d in dims else []):
        if not c.deterministic or c.pml is None:
            continue
        pml_r = table.get((n, d, c.name, "pml"))
        lim = limit_s(n, d, c)
        for b in ours_b:
            r = table.get((n, d, c.name, b))
            if r is None:
                goals.append(H.goal_line(None, f"speed: {c.name} on {b}: N=1024, D=128 not in this run"))
                continue
            if r.get("status") != "ok":
                goals.append(H.goal_line(False, f"speed: {c.name} on {b} at N=1024: {r.get('status')} {r.get('message', '')[:120]}"))
                continue
            parts, verdicts = [], []
            if pml_r is not None and pml_r.get("status") == "ok":
                speedup = pml_r["median_s"] / r["median_s"]
                verdicts.append(speedup >= 1.5)
                parts.append(f"{speedup:.2f}x faster than PML (need >= 1.5x)")
            elif pml_r is not None:
                verdicts.append(True)  # PML cannot run this case at all
                parts.append(f"PML {H.status_cell(pml_r)}")
            else:
                verdicts.append(None)
                parts.append("PML not run")
            if lim is not None:
                x = r["median_s"] / lim
                verdicts.append(x <= 4.0)
                parts.append(f"{x:.2f}x the limit (need <= 4x{'; limit includes the output write' if c.all_triplets else ''})")
            else:
                verdicts.append(None)
                parts.append("limit not measured")
            ok = False if False in verdicts else (None if None in verdicts else True)
            goals.append(H.goal_line(ok, f"speed: {c.name} on {b} at N=1024 D=128: {r['median_s'] * 1e3:.3g} ms, " + ", ".join(parts)))
    # ---- issue 11: ours / limit
    for n in (1024, 4096):
        if n not in sizes or 128 not in dims:
            goals.append(H.goal_line(None, f"limit: needs N={n}, D=128 (not in this run)"))
            continue
        for c in cases:
            bound = LIMIT_GOALS.get(c.name)
            if bound is None:
                continue
            lim = limit_s(n, 128, c)
            for b in ours_b:
                r = table.get((n, 128, c.name, b))
                if r is None or lim is None:
                    goals.append(H.goal_line(None, f"limit: {c.name} on {b} at N={n}: {'limit' if lim is None else 'case'} not measured"))
                elif r.get("status") != "ok":
                    goals.append(H.goal_line(False, f"limit: {c.name} on {b} at N={n}: {r.get('status')}"))
                else:
                    x = r["median_s"] / lim
                    goals.append(H.goal_line(x <= bound, f"limit: {c.name} on {b} at N={n} D=128: {x:.2f}x the limit (need <= {bound:g}x)"))
    # ---- growth with N
    grown = [n for n in sizes if n >= 512]
    if len(grown) >= 3:
        rows = []
        series: list[tuple[str, str, dict]] = []
        for b in ("numpy", "torch"):
            series.append(("limit (GEMM+pass)", b, {n: limits.get((n, 128), {}).get(b) for n in grown}))
        for c in cases:
            for b in backends:
                series.append((c.name, b, {n: table.get((n, 128, c.name, b)) for n in grown}))
        for name, b, rs in series:
            ok = [(n, r["median_s"]) for n, r in rs.items() if r and r.get("status") == "ok"]
            if len(ok) < 3:
                continue
            e = growth_exponent([n for n, _ in ok], [t for _, t in ok])
            rows.append([name, b, *[H.fmt_ms(rs.get(n)) for n in grown], f"{e:.2f}"])
            if name in LIMIT_GOALS and b != "pml":
                goals.append(H.goal_line(e <= GROWTH_MAX_EXPONENT, f"growth: {name} on {b}, N={ok[0][0]}..{ok[-1][0]}: "
                                                                 f"time ~ N^{e:.2f} (need <= N^{GROWTH_MAX_EXPONENT})"))
        if rows:
            out_lines.append(H.print_table("Growth with N (D=128): median ms and the fitted exponent of t ~ N^e",
                                           ["case", "backend", *[f"N={n}" for n in grown], "exponent"], rows))
    if args.quick:
        print("(quick run on a machine shared with other workers: timings are indicative only)")

    if args.json:
        H.write_json(args.json, {"benchmark": "miners", "quick": args.quick, "argv": argv, "machine": machine,
                                 "results": results, "tables": out_lines, "goals": goals})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
