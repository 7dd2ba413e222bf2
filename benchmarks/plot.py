#!/usr/bin/env python
"""Plots (and Markdown tables) of time versus N from the JSON the benchmark scripts write.

Each plot shows, per miner or distance, the median time of ours on NumPy, ours on torch,
PML, and the limit measured in the same run (log-log):

* miners (``benchmarks/miners.py --json``): the limit is the faster of NumPy's and torch's
  ``X @ X.T`` + one pass over the N x N result, plus writing the output for miners that
  return all O(N^2 P) triplets (the rows ``miners.py`` marks ``all_triplets``);
* distances (``benchmarks/distances.py --json``): the limit is the faster bare GEMM.

The results files are ``docs/data/bench-<name>.json``; the plots go to
``docs/img/bench-<name>.png``. To regenerate both (a few minutes on 2 cores)::

    python benchmarks/miners.py --quick --miners "BatchHardMiner,MultiSimilarityMiner,PairMarginMiner,TripletMarginMiner[semihard]" \\
        --sizes 128,256,512,1024,2048 --dims 128 --threads 1 --clock cpu --json docs/data/bench-miners-scaling.json
    python benchmarks/distances.py --sizes 256,512,1024,2048,4096 --dims 128 --threads 1 --clock cpu --target 0.5 \\
        --json docs/data/bench-distances-scaling.json
    python benchmarks/plot.py

The docs build renders the same files as tables (``render_markdown``), so the tables and
the plots on the benchmarks page always come from one run. Needs matplotlib to plot
(``pip install -e ".[bench]"``); the tables need nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA_DIR = os.path.join(ROOT, "docs", "data")
IMG_DIR = os.path.join(ROOT, "docs", "img")
SCRIPTS = {"miners-scaling": "benchmarks/miners.py", "distances-scaling": "benchmarks/distances.py"}
SERIES = ("ours (NumPy)", "ours (torch)", "PML", "limit")


@dataclass
class Panel:
    """One miner or distance: median seconds per series and N."""

    name: str
    times: dict[str, dict[int, float]] = field(default_factory=lambda: {s: {} for s in SERIES})

    def sizes(self) -> list[int]:
        return sorted({n for s in self.times.values() for n in s})


@dataclass
class Run:
    panels: list[Panel]
    command: str
    machine: str
    clock: str
    dim: str


def _all_triplet_rows() -> set[str]:
    sys.path.insert(0, HERE)
    try:
        import miners  # benchmarks/miners.py: which rows return all O(N^2 P) triplets
    finally:
        sys.path.remove(HERE)
    return {c.name for c in miners.KNOWN if c.all_triplets}


def _machine_text(m: dict) -> str:
    cores = m.get("affinity") or m.get("cpus") or m.get("cpu_count")
    parts = ([str(m["cpu"])] if m.get("cpu") else []) + [f"{cores} usable cores"]
    if m.get("loadavg"):
        parts.append(f"load average {m['loadavg'][0]:.2f} at the start")
    if m.get("time"):
        parts.append(m["time"])
    return ", ".join(parts)


def load_miners(path: str) -> Run:
    with open(path) as f:
        data = json.load(f)
    all_triplets = _all_triplet_rows()
    limits: dict[int, float] = {}
    writes: dict[int, float] = {}
    panels: dict[str, Panel] = {}
    dims = set()
    for r in data["results"]:
        spec = r["spec"]
        if r.get("status") != "ok":
            continue
        n = spec["N"]
        if spec["kind"] == "limit":
            limits[n] = min(limits.get(n, float("inf")), r["median_s"])
            dims.add(spec["D"])
        elif spec["kind"] == "outwrite":
            writes[n] = r["median_s"]
        elif spec["kind"] == "miner":
            row = r["label"].split(" ")[0]
            series = {"numpy": "ours (NumPy)", "torch": "ours (torch)", "pml": "PML"}[spec["backend"]]
            panels.setdefault(row, Panel(row)).times[series][n] = r["median_s"]
            dims.add(spec["D"])
    for p in panels.values():
        for n in p.sizes():
            if n in limits and (p.name not in all_triplets or n in writes):
                p.times["limit"][n] = limits[n] + (writes[n] if p.name in all_triplets else 0.0)
    argv = [a for a in data["argv"] if a != "-v"]
    return Run(
        list(panels.values()),
        "python benchmarks/miners.py " + shlex.join(argv),
        _machine_text(data.get("machine", {})),
        data.get("machine", {}).get("clock", "wall"),
        ", ".join(str(d) for d in sorted(dims)),
    )


def load_distances(path: str) -> Run:
    with open(path) as f:
        data = json.load(f)
    panels: dict[str, Panel] = {}
    dims = set()
    for row in data["rows"]:
        p = panels.setdefault(row["distance"], Panel(row["distance"]))
        n = row["N"]
        dims.add(row["D"])
        p.times["ours (NumPy)"][n] = row["ours_numpy"]["median_ms"] / 1e3
        p.times["ours (torch)"][n] = row["ours_torch"]["median_ms"] / 1e3
        p.times["PML"][n] = row["pml"]["median_ms"] / 1e3
        p.times["limit"][n] = min(row["gemm_numpy"]["median_ms"], row["gemm_torch"]["median_ms"]) / 1e3
    meta = data["meta"]
    machine = {"cpu": meta.get("cpu"), "cpus": meta.get("cpu_count"), "loadavg": meta.get("loadavg_start")}
    argv = data.get("argv")
    cmd = "python benchmarks/distances.py " + (shlex.join(argv) if argv else "(arguments not recorded)")
    return Run(list(panels.values()), cmd, _machine_text(machine), meta.get("clock", "wall"), ", ".join(str(d) for d in sorted(dims)))


LOADERS = {"miners-scaling": load_miners, "distances-scaling": load_distances}


def load(name: str, data_dir: str = DATA_DIR) -> Run:
    return LOADERS[name](os.path.join(data_dir, f"bench-{name}.json"))


# ------------------------------------------------------------------------------------------
# Plot
# ------------------------------------------------------------------------------------------
STYLE = {
    "ours (NumPy)": {"color": "#1f77b4", "marker": "o"},
    "ours (torch)": {"color": "#2ca02c", "marker": "s"},
    "PML": {"color": "#d62728", "marker": "^"},
    "limit": {"color": "#555555", "linestyle": "--", "marker": None},
}


def plot(run: Run, out: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(run.panels)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, run.panels):
        for s in SERIES:
            pts = sorted(panel.times[s].items())
            if pts:
                ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], label=s, linewidth=1.6, markersize=4, **STYLE[s])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(panel.name, fontsize=10)
        ax.set_xlabel("N (batch size)")
        ax.set_ylabel(f"median ms ({run.clock} clock)")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(panel.sizes())
        ax.set_xticklabels([str(x) for x in panel.sizes()])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{title}, D = {run.dim}", fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# Markdown (used by the docs build: docs/_hooks/generate.py)
# ------------------------------------------------------------------------------------------
def _ms(t: float | None) -> str:
    if t is None:
        return "-"
    ms = t * 1e3
    return f"{ms:.3g}" if ms < 1000 else f"{ms:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return f"{r:.2g}x" if r < 10 else f"{r:.0f}x"


def render_markdown(name: str, data_dir: str = DATA_DIR) -> str:
    run = load(name, data_dir)
    head = ["", "N", "ours NumPy ms", "ours torch ms", "PML ms", "limit ms", "PML / ours NumPy", "PML / ours torch", "ours NumPy / limit"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for p in run.panels:
        for i, n in enumerate(p.sizes()):
            t = {s: p.times[s].get(n) for s in SERIES}
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"**{p.name}**" if i == 0 else "",
                        str(n),
                        _ms(t["ours (NumPy)"]),
                        _ms(t["ours (torch)"]),
                        _ms(t["PML"]),
                        _ms(t["limit"]),
                        _ratio(t["PML"], t["ours (NumPy)"]),
                        _ratio(t["PML"], t["ours (torch)"]),
                        _ratio(t["ours (NumPy)"], t["limit"]),
                    ]
                )
                + " |"
            )
    lines += [
        "",
        f"Median {run.clock} time (ms), D = {run.dim}; machine: {run.machine}. "
        "A ratio PML / ours above 1 means ours is faster.",
        "",
        "Regenerate the results, the table and the plot:",
        "",
        "```bash",
        run.command,
        "python benchmarks/plot.py",
        "```",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA_DIR, help="folder of bench-<name>.json (default docs/data)")
    ap.add_argument("--out", default=IMG_DIR, help="folder for bench-<name>.png (default docs/img)")
    ap.add_argument("names", nargs="*", help=f"which plots (default: every results file found among {sorted(LOADERS)})")
    args = ap.parse_args(argv)
    titles = {"miners-scaling": "Miners: time vs N", "distances-scaling": "Distance matrix: time vs N"}
    names = args.names or [n for n in LOADERS if os.path.exists(os.path.join(args.data, f"bench-{n}.json"))]
    if not names:
        ap.error(f"no bench-<name>.json in {args.data}")
    for name in names:
        if name not in LOADERS:
            ap.error(f"unknown plot {name!r}; known: {sorted(LOADERS)}")
        out = os.path.join(args.out, f"bench-{name}.png")
        plot(load(name, args.data), out, titles[name])
        print(f"wrote {os.path.relpath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
