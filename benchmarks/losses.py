#!/usr/bin/env python
"""Losses: agnostic-ml's torch losses against PML 2.9.0, forward + backward on the same inputs.

Every case (loss x side x N) runs in its own child process (see ``_harness.py``): median time of
adaptive repeats of one forward + backward, and the peak RSS above the pre-call resident set
(*delta RSS*, the working memory of the step). Also measured per N: the limit, the forward
distance GEMM ``X @ X.T`` and its backward (``(X @ X.T).sum().backward()``), which every loss on
the N x N distance matrix has to pay.

Inputs: float32 ``standard_normal((N, 128))``, N/8 classes x 8 samples, shuffled, seed 0 (as the
miners benchmark); ``SmoothAPLoss`` gets the same classes sorted into blocks (PML's grouping needs
it). Classification losses get ``num_classes = N/8``, ``embedding_size = 128``; PML's loss is built
under ``torch.manual_seed(0)`` and its ``state_dict`` is loaded into ours, so both start from the
same weights. The self-supervised losses get ``ref_emb = 0.5 * X + 0.1 * noise``. The row
``TripletMarginLoss[pairs]`` gives both the same ``MultiSimilarityMiner(epsilon=0.1)`` pairs
(mined once, untimed), which the loss converts to triplets.

PML builds an O(N^3) tensor in some losses (the all-triplets cube in TripletMarginLoss,
MarginLoss, HistogramLoss, DynamicSoftMarginLoss; a positive-pairs x negative-pairs matrix in
NTXentLoss, LiftedStructureLoss, TupletMarginLoss; N x N x N differences in SmoothAPLoss and
PNPLoss). Where its predicted peak exceeds ``--pml-cap-gb`` (default 8) the PML case is not run
and the table says ``SKIP (pred. X GiB)``.

    python benchmarks/losses.py --quick
    python benchmarks/losses.py --losses TripletMarginLoss,NTXentLoss --sizes 256,1024
    python benchmarks/losses.py --json losses.json

Goals evaluated at the end (PASS / MISS lines):
  1. no loss slower than PML by more than 10% (ours / PML <= 1.10 at every N run);
  2. TripletMarginLoss (all triplets, N = 512) and NTXentLoss (N = 256) at least 5x faster than PML;
  3. no O(N^3) memory in our TripletMarginLoss, MarginLoss, NTXentLoss, LiftedStructureLoss and
     TupletMarginLoss: delta RSS <= 256 MiB + 48 N x N float32 matrices at the largest N run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

SAMPLES_PER_CLASS = 8
DIM = 128


@dataclasses.dataclass(frozen=True)
class LossCase:
    """One row: how to build the loss on either side (``L`` is ``agnostic_ml_torch.losses`` or PML's)."""

    name: str
    build: str  # a Python expression in L, C (classes), D (dim), N
    kind: str = "labels"  # labels | classification | self_supervised | manifold | pairs_tuple
    pml_cubic: str | None = None  # "triplets" | "pairs_x_negs" | "nnn": PML's O(N^3) tensor
    sorted_labels: bool = False
    cubic_goal: bool = False  # part of our no-O(N^3) memory goal
    speed_goal_n: int | None = None  # N at which ours must be >= 5x faster than PML


CASES: list[LossCase] = [
    LossCase("AngularLoss", "L.AngularLoss()"),
    LossCase("ArcFaceLoss", "L.ArcFaceLoss(C, D)", "classification"),
    LossCase("CircleLoss", "L.CircleLoss()"),
    LossCase("ContrastiveLoss", "L.ContrastiveLoss()"),
    LossCase("CosFaceLoss", "L.CosFaceLoss(C, D)", "classification"),
    LossCase("CrossBatchMemory", "L.CrossBatchMemory(L.ContrastiveLoss(), D, memory_size=N)"),
    LossCase("DynamicSoftMarginLoss", "L.DynamicSoftMarginLoss()", pml_cubic="triplets"),
    LossCase("FastAPLoss", "L.FastAPLoss()"),
    LossCase("GeneralizedLiftedStructureLoss", "L.GeneralizedLiftedStructureLoss()"),
    LossCase("HistogramLoss", "L.HistogramLoss()", pml_cubic="triplets"),
    LossCase("InstanceLoss", "L.InstanceLoss()"),
    LossCase("IntraPairVarianceLoss", "L.IntraPairVarianceLoss()"),
    LossCase("LargeMarginSoftmaxLoss", "L.LargeMarginSoftmaxLoss(C, D)", "classification"),
    LossCase("LiftedStructureLoss", "L.LiftedStructureLoss()", pml_cubic="pairs_x_negs", cubic_goal=True),
    LossCase("ManifoldLoss", "L.ManifoldLoss(l=D, K=C)", "manifold"),
    LossCase("MarginLoss", "L.MarginLoss()", pml_cubic="triplets", cubic_goal=True),
    LossCase("MultiSimilarityLoss", "L.MultiSimilarityLoss()"),
    LossCase("MultipleLosses", "L.MultipleLosses([L.ContrastiveLoss(), L.MultiSimilarityLoss()], weights=[1, 0.5])"),
    LossCase("NCALoss", "L.NCALoss()"),
    LossCase("NPairsLoss", "L.NPairsLoss()"),
    LossCase("NTXentLoss", "L.NTXentLoss()", pml_cubic="pairs_x_negs", cubic_goal=True, speed_goal_n=256),
    LossCase("NormalizedSoftmaxLoss", "L.NormalizedSoftmaxLoss(C, D)", "classification"),
    LossCase("P2SGradLoss", "L.P2SGradLoss(D, C)", "classification"),
    LossCase("PNPLoss", "L.PNPLoss()", pml_cubic="nnn"),
    LossCase("ProxyAnchorLoss", "L.ProxyAnchorLoss(C, D)", "classification"),
    LossCase("ProxyNCALoss", "L.ProxyNCALoss(C, D)", "classification"),
    LossCase("RankedListLoss", "L.RankedListLoss(margin=0.4, Tn=1)"),
    LossCase("SelfSupervisedLoss", "L.SelfSupervisedLoss(L.ContrastiveLoss())", "self_supervised"),
    LossCase("SignalToNoiseRatioContrastiveLoss", "L.SignalToNoiseRatioContrastiveLoss()"),
    LossCase("SmoothAPLoss", "L.SmoothAPLoss()", pml_cubic="nnn", sorted_labels=True),
    LossCase("SoftTripleLoss", "L.SoftTripleLoss(C, D)", "classification"),
    LossCase("SphereFaceLoss", "L.SphereFaceLoss(C, D)", "classification"),
    LossCase("SubCenterArcFaceLoss", "L.SubCenterArcFaceLoss(num_classes=C, embedding_size=D)", "classification"),
    LossCase("SupConLoss", "L.SupConLoss()"),
    LossCase("ThresholdConsistentMarginLoss", "L.ThresholdConsistentMarginLoss()"),
    LossCase("TripletMarginLoss", "L.TripletMarginLoss()", pml_cubic="triplets", cubic_goal=True, speed_goal_n=512),
    LossCase("TripletMarginLoss[pairs]", "L.TripletMarginLoss()", "pairs_tuple"),
    LossCase("TupletMarginLoss", "L.TupletMarginLoss()", pml_cubic="pairs_x_negs", cubic_goal=True),
    LossCase("VICRegLoss", "L.VICRegLoss()", "self_supervised"),
]
BY_NAME = {c.name: c for c in CASES}
#: The paired child's one call does all its rounds (see ``_paired``).
PAIRED_TIMING = H.Timing(single_shot_s=0.0)
QUICK_LOSSES = ("ContrastiveLoss", "TripletMarginLoss", "TripletMarginLoss[pairs]", "NTXentLoss", "MultiSimilarityLoss", "ArcFaceLoss")


# --------------------------------------------------------------------------------------------
# Child side: build one case
# --------------------------------------------------------------------------------------------


def make_inputs(n: int, d: int, seed: int, sorted_labels: bool = False):
    import numpy as np

    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, d), dtype=np.float32)
    labels = np.repeat(np.arange(n // SAMPLES_PER_CLASS), SAMPLES_PER_CLASS).astype(np.int64)
    if not sorted_labels:
        labels = rng.permutation(labels)
    noise = rng.standard_normal((n, d), dtype=np.float32)
    return emb, labels, 0.5 * emb + 0.1 * noise


def _build_loss(case: LossCase, side: str, n: int, d: int, seed: int):
    """Our loss or PML's; learnable weights are PML's (built under ``manual_seed(seed)``) in both."""
    import torch
    from pytorch_metric_learning import losses as pml_losses

    env = {"C": n // SAMPLES_PER_CLASS, "D": d, "N": n}
    torch.manual_seed(seed)
    theirs = eval(case.build, {"L": pml_losses, **env})  # noqa: S307 - our own table
    if side == "pml":
        return theirs
    H.add_repo_to_path()
    if os.path.join(H.REPO_ROOT, "adapters") not in sys.path:
        sys.path.insert(0, os.path.join(H.REPO_ROOT, "adapters"))
    from agnostic_ml_torch import losses as our_losses

    torch.manual_seed(seed)
    ours = eval(case.build, {"L": our_losses, **env})  # noqa: S307
    state = theirs.state_dict()
    if any(v.numel() for v in state.values()) and case.kind in ("classification", "manifold"):
        ours.load_state_dict(state)
    return ours


def _limit_call(n: int, d: int, seed: int, device):
    """The limit: the forward distance GEMM ``X @ X.T`` and its backward."""
    import torch

    emb, _, _ = make_inputs(n, d, seed)
    x = torch.from_numpy(emb).to(device).requires_grad_()

    def gemm_fwd_bwd():
        x.grad = None
        g = x @ x.T
        g.sum().backward()
        return x.grad

    return gemm_fwd_bwd


def build(spec: dict) -> H.Prepared:
    import torch

    n, d, seed = spec["N"], spec["D"], spec.get("seed", 0)
    device = torch.device(spec.get("device", "cpu"))
    cuda = device.type == "cuda"
    gpu = {}
    if cuda:
        gpu = {
            "sync": torch.cuda.synchronize,
            "gpu_reset": torch.cuda.reset_peak_memory_stats,
            "gpu_peak": torch.cuda.max_memory_allocated,
        }
    info = {"torch_threads": torch.get_num_threads(), "device": str(device)}

    if spec["kind"] == "limit":
        return H.Prepared(_limit_call(n, d, seed, device), info=info, **gpu)

    case = BY_NAME[spec["loss"]]
    if spec["kind"] == "paired":
        return _paired(spec, info)
    return _one_side(spec, case, spec["side"], device, info, gpu)


def _one_side(spec: dict, case: LossCase, side: str, device, info: dict, gpu: dict) -> H.Prepared:
    import torch

    n, d, seed = spec["N"], spec["D"], spec.get("seed", 0)
    emb, labels, ref = make_inputs(n, d, seed, case.sorted_labels)
    x = torch.from_numpy(emb).to(device).requires_grad_()
    y = torch.from_numpy(labels).to(device)
    r = torch.from_numpy(ref).to(device).requires_grad_()
    loss = _build_loss(case, side, n, d, seed).to(device)
    params = list(loss.parameters())
    leaves = [x, r, *params]

    if case.kind == "self_supervised":
        forward = lambda: loss(x, ref_emb=r)  # noqa: E731  (VICRegLoss takes ref_emb by keyword only)
    elif case.kind == "manifold":
        meta = torch.arange(n, device=device) % (n // SAMPLES_PER_CLASS)
        forward = lambda: loss(x, indices_tuple=meta)  # noqa: E731
    elif case.kind == "pairs_tuple":
        from pytorch_metric_learning import miners as pml_miners

        with torch.no_grad():
            tup = pml_miners.MultiSimilarityMiner(epsilon=0.1)(x, y)
        info["pos_pairs"], info["neg_pairs"] = int(tup[0].shape[0]), int(tup[2].shape[0])
        forward = lambda: loss(x, y, tup)  # noqa: E731
    else:
        forward = lambda: loss(x, y)  # noqa: E731

    def step():
        for t in leaves:
            t.grad = None
        value = forward()
        value.backward()
        return value.detach()

    def describe(value) -> dict:
        return {"loss": float(value)}

    return H.Prepared(step, describe=describe, info=info, **gpu)


def _paired(spec: dict, info: dict) -> H.Prepared:
    """Both sides in one process, called alternately: the ratio that other load disturbs least.

    The single (warm-up) call of this case runs rounds of one call of each side (alternating
    which goes first) and of the limit, after one untimed call of each, until ``paired_target_s``
    (at least 5, at most 40 rounds); it returns the three medians.
    """
    import statistics
    import time

    import torch

    case = BY_NAME[spec["loss"]]
    device = torch.device(spec.get("device", "cpu"))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sides = {s: _one_side(spec, case, s, device, {}, {}).call for s in ("ours", "pml")}
    sides["limit"] = _limit_call(spec["N"], spec["D"], spec.get("seed", 0), device)
    target_s, min_rounds, max_rounds = spec.get("paired_target_s", 2.0), 5, 40

    def rounds():
        times: dict[str, list[float]] = {s: [] for s in sides}
        for s in sides:
            sides[s]()
        sync()
        t_start = time.perf_counter()
        k = 0
        while k < max_rounds and (k < min_rounds or time.perf_counter() - t_start < target_s):
            for s in (("ours", "pml", "limit") if k % 2 == 0 else ("pml", "ours", "limit")):
                H.reseed(spec.get("seed", 0))
                t0 = time.perf_counter()
                sides[s]()
                sync()
                times[s].append(time.perf_counter() - t0)
            k += 1
        return {f"{s}_median_s": statistics.median(v) for s, v in times.items()} | {"rounds": k}

    return H.Prepared(rounds, describe=lambda out: out, info=info)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def pml_predicted_bytes(case: LossCase, n: int) -> int:
    """Rough peak of PML's O(N^3) tensors (from its source), 0 for losses without one."""
    t = n * (SAMPLES_PER_CLASS - 1) * (n - SAMPLES_PER_CLASS)  # all triplets = pos pairs x negatives
    if case.pml_cubic == "triplets":  # a bool N^3 cube, the int64 triplets, a few T-long floats
        return n**3 + t * (3 * 8 + 4 * 4)
    if case.pml_cubic == "pairs_x_negs":  # P x Nneg matrices: mask (float), products, exp
        p = n * (SAMPLES_PER_CLASS - 1)
        return p * n * (n - SAMPLES_PER_CLASS) * 4 * 4
    if case.pml_cubic == "nnn":  # N x N x N float differences, repeat, sigmoid, mask
        return n**3 * 4 * 5
    return 0


def main(argv: list[str]) -> int:
    if "--worker" in argv:
        return H.worker_main(build, argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    H.add_common_options(p)
    p.add_argument("--losses", help=f"comma-separated row names (default all; quick: {','.join(QUICK_LOSSES)})")
    p.add_argument("--sizes", help="comma-separated N (default 256,1024,4096; quick 256)")
    p.add_argument("--device", default="cpu", help="torch device of both sides (cpu, cuda)")
    p.add_argument("--pml-cap-gb", type=float, default=8.0, help="skip PML cases predicted above this peak (GiB)")
    p.add_argument("--no-goal-sizes", action="store_true", help="do not add N=512 (TripletMarginLoss) / N=256 (NTXentLoss) for the speed goal")
    p.add_argument("--seed", type=int, default=0)
    # One thread by default: with the library default (all cores) on a machine shared with other
    # work, OpenMP threads spin against each other and a 256 x 128 GEMM forward + backward took
    # 40 ms instead of 0.9 ms. Pass --threads 0 for the library default.
    p.set_defaults(threads=1)
    args = p.parse_args(argv)

    sizes = [int(x) for x in H.csv_list(args.sizes)] if args.sizes else ([256] if args.quick else [256, 1024, 4096])
    for n in sizes:
        if n % SAMPLES_PER_CLASS or n < 2 * SAMPLES_PER_CLASS:
            p.error(f"--sizes: N must be a multiple of {SAMPLES_PER_CLASS} and >= {2 * SAMPLES_PER_CLASS}, got {n}")
    wanted = H.csv_list(args.losses) or (list(QUICK_LOSSES) if args.quick else [c.name for c in CASES])
    missing = [w for w in wanted if w not in BY_NAME]
    if missing:
        p.error(f"--losses: unknown {missing}; known: {[c.name for c in CASES]}")
    cases = [BY_NAME[w] for w in wanted]
    timing = H.QUICK_TIMING if args.quick else H.FULL_TIMING
    timeout = args.timeout or (300.0 if args.quick else 900.0)
    mem_limit = int(args.mem_limit_gb * H.GiB) if args.mem_limit_gb else None
    cap = args.pml_cap_gb * H.GiB

    plan: list[tuple[LossCase, int]] = [(c, n) for n in sizes for c in cases]
    if not args.no_goal_sizes:
        plan += [(c, c.speed_goal_n) for c in cases if c.speed_goal_n and c.speed_goal_n not in sizes]
    all_sizes = sorted({n for _, n in plan})

    script = os.path.abspath(__file__)
    machine = H.report_header(args, "losses")
    print(f"losses {len(cases)}, sizes {sizes}, D {DIM}, device {args.device}, PML cap {args.pml_cap_gb} GiB, "
          f"RLIMIT_AS {args.mem_limit_gb} GiB, timeout {timeout:.0f} s")
    results: list[dict] = []

    def ok(r: dict | None) -> bool:
        return bool(r) and r.get("status") == "ok"

    def run(spec: dict, label: str, t: H.Timing = timing) -> dict:
        spec = dict(spec, seed=args.seed, device=args.device, timing=dict(dataclasses.asdict(t), clock=args.clock))
        res = H.run_case(script, spec, timeout=timeout, mem_limit=mem_limit, quiet_wait=args.quiet_wait,
                         env=H.child_env(args.threads, args.torch_thp))
        res["label"] = label
        results.append(res)
        H.progress(res, label, args.verbose)
        return res

    limits = {n: run({"kind": "limit", "N": n, "D": DIM}, f"limit GEMM fwd+bwd N={n}", H.LIMIT_TIMING) for n in all_sizes}
    table: dict = {}  # (name, N, side) -> result; side: "ours", "pml" (own children: memory) or "paired"
    for c, n in plan:
        pred = pml_predicted_bytes(c, n)
        for side in ("ours", "pml", "paired"):
            spec = {"kind": "paired" if side == "paired" else "loss", "loss": c.name, "side": side, "N": n, "D": DIM}
            label = f"{c.name} {side} N={n}"
            if side != "ours" and pred > cap:
                res = H.skipped(spec, f"PML predicted {pred / H.GiB:.0f} GiB > cap {args.pml_cap_gb:g} GiB (O(N^3) tensor): not run")
                res.update(predicted_bytes=pred, label=label)
                results.append(res)
                H.progress(res, label, args.verbose)
            elif side == "paired":
                if not (ok(table[(c.name, n, "ours")]) and ok(table[(c.name, n, "pml")])):
                    res = H.skipped(spec, "a side failed on its own: not paired")
                    results.append(res)
                else:
                    res = run(spec, label, PAIRED_TIMING)
            else:
                res = run(spec, label)
            table[(c.name, n, side)] = res
    print()

    def cell(r: dict | None, s: float | None) -> str:
        if s is not None:
            return H.fmt_num(s * 1e3)
        if not r:
            return "-"
        if r.get("status") == "SKIP" and r.get("predicted_bytes"):
            return f"SKIP (pred. {r['predicted_bytes'] / H.GiB:.0f} GiB)"
        return H.fmt_ms(r)

    def mem_ratio(a: dict | None, b: dict | None) -> str:
        if not ok(a) or not ok(b) or not b.get("delta_rss") or a.get("delta_rss") is None:
            return "-"
        return H.fmt_num(max(a["delta_rss"], 0) / b["delta_rss"], 2) + "x"

    def times(name: str, n: int) -> dict:
        """Medians (s) of ours, PML and the limit: from the paired child when there is one."""
        pr = table.get((name, n, "paired"))
        if ok(pr) and "ours_median_s" in pr.get("info", {}):
            i = pr["info"]
            return {"ours": i["ours_median_s"], "pml": i["pml_median_s"], "limit": i["limit_median_s"], "paired": True}
        a, lim = table.get((name, n, "ours")), limits.get(n)
        return {"ours": a["median_s"] if ok(a) else None, "pml": None,
                "limit": lim["median_s"] if ok(lim) else None, "paired": False}

    def rat(x: float | None, y: float | None) -> str:
        return "-" if x is None or not y else H.fmt_num(x / y, 2) + "x"

    out_lines: list[str] = []
    rows = [["X @ X.T fwd+bwd", n, H.fmt_ms(r), r.get("reps", "-"), H.fmt_mib(r.get("delta_rss")),
             f"{r.get('other_cores', 0):.2f}"] for n, r in limits.items()]
    out_lines.append(H.print_table("Limit (own children)", ["op", "N", "median ms", "reps", "delta RSS MiB", "other cores"], rows))
    for n in all_sizes:
        rows = []
        for c in cases:
            if (c.name, n, "ours") not in table:
                continue
            a, b = table[(c.name, n, "ours")], table[(c.name, n, "pml")]
            t = times(c.name, n)
            rows.append([
                c.name + ("" if t["paired"] else " *"), cell(a, t["ours"]), cell(b, t["pml"]), rat(t["ours"], t["pml"]),
                rat(t["ours"], t["limit"]), rat(t["pml"], t["limit"]),
                H.fmt_mib(a.get("delta_rss")) if ok(a) else "-", H.fmt_mib(b.get("delta_rss")) if ok(b) else "-",
                mem_ratio(a, b),
            ])
        out_lines.append(H.print_table(
            f"Losses, forward + backward, N={n}, D={DIM} ({'quick' if args.quick else 'full'} run, {args.device}, "
            f"{args.clock} clock, threads: {args.threads or 'default'})",
            ["loss", "ours ms", "PML ms", "ours/PML", "ours/limit", "PML/limit", "ours dRSS MiB", "PML dRSS MiB", "ours/PML mem"],
            rows,
            note="Times: medians of ours, PML and the limit (X @ X.T forward + backward) called alternately in one child; "
            "* = PML not run, ours from its own child and the limit from the table above. dRSS: peak RSS above the "
            "pre-call resident set, each side in its own child. Ratios < 1 mean ours is faster / smaller.",
        ))

    print("\n### Goals")
    goals: list[str] = []
    for c in cases:
        rs = [(n, table[(c.name, n, "ours")], table[(c.name, n, "pml")]) for n in all_sizes if (c.name, n, "ours") in table]
        bad = [f"N={n} {H.status_cell(a)}" for n, a, _ in rs if not ok(a)]
        both = [(n, times(c.name, n)["ours"] / times(c.name, n)["pml"]) for n, a, b in rs if times(c.name, n)["paired"]]
        pml_only_failed = [n for n, a, b in rs if ok(a) and not times(c.name, n)["paired"]]
        if bad:
            goals.append(H.goal_line(False, f"speed: {c.name}: ours failed ({', '.join(bad)})"))
            continue
        if not both:
            goals.append(H.goal_line(None, f"speed: {c.name}: PML did not run at any N"))
            continue
        worst_n, worst = max(both, key=lambda t: t[1])
        txt = ", ".join(f"N={n}: {x:.2f}x" for n, x in both)
        extra = f"; PML not run / failed at N={pml_only_failed}" if pml_only_failed else ""
        goals.append(H.goal_line(worst <= 1.10, f"speed: {c.name} ours/PML <= 1.10 ({txt}){extra}"))
    for c in cases:
        if not c.speed_goal_n:
            continue
        a, b = table.get((c.name, c.speed_goal_n, "ours")), table.get((c.name, c.speed_goal_n, "pml"))
        if a is None:
            goals.append(H.goal_line(None, f"5x: {c.name} at N={c.speed_goal_n} not in this run"))
        elif times(c.name, c.speed_goal_n)["paired"]:
            t = times(c.name, c.speed_goal_n)
            s = t["pml"] / t["ours"]
            goals.append(H.goal_line(s >= 5.0, f"5x: {c.name} at N={c.speed_goal_n}: {s:.1f}x faster than PML (need >= 5x)"))
        else:
            goals.append(H.goal_line(False if not ok(a) else None,
                                     f"5x: {c.name} at N={c.speed_goal_n}: ours {H.status_cell(a)}, PML {H.status_cell(b or {})}"))
    for c in cases:
        if not c.cubic_goal:
            continue
        n_max = max(n for (name, n, _) in table if name == c.name)
        a = table.get((c.name, n_max, "ours"))
        if not ok(a):
            goals.append(H.goal_line(False, f"no O(N^3): {c.name} at N={n_max}: {H.status_cell(a or {})}"))
            continue
        bound = 256 * H.MiB + 48 * n_max * n_max * 4
        peak = max(a.get("delta_rss", 0), 0)
        goals.append(H.goal_line(peak <= bound, (
            f"no O(N^3): {c.name} at N={n_max}: delta RSS {peak / H.MiB:.0f} MiB (bound {bound / H.MiB:.0f} MiB; "
            f"PML's O(N^3) tensor would be {pml_predicted_bytes(c, n_max) / H.GiB:.2f} GiB)")))
    if max(all_sizes) < 4096:
        print("(the memory goal is meant at N=4096: --sizes 4096)")
    if args.quick:
        print("(quick run on a machine shared with other workers: timings are indicative only)")
    if args.json:
        H.write_json(args.json, {"benchmark": "losses", "quick": args.quick, "argv": argv, "machine": machine,
                                 "results": results, "tables": out_lines, "goals": goals})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
