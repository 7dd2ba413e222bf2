"""The demo's protocol run by PML 2.9 and by agnostic-ml, side by side, over several seeds.

Both sides use the same splits (``agnostic_ml_torch.demo.prepare_splits``), the same MLP
(64-128-64, same initial weights per seed), ``TripletMarginLoss(margin=0.05)`` +
``MultiSimilarityMiner(epsilon=0.1)``, Adam 1e-3, batches of 64 from ``MPerClassSampler(m=16,
batch_size=64)``, 40 epochs, through each library's ``MetricLossOnly`` trainer and
``GlobalEmbeddingSpaceTester`` (PML's on faiss, ours on the exact AccuracyCalculator), with
``k="max_bin_count"``. Prints Precision@1 / R-Precision / MAP@R per split, mean +- standard
deviation over the seeds, and the raw pixels' values.

    python benchmarks/demo_vs_pml.py --seeds 5 [--epochs 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters"))

from agnostic_ml_torch.demo import METRICS, SPLITS, prepare_splits  # noqa: E402


def _mlp(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))


def run_pml(seed: int, epochs: int) -> dict:
    from pytorch_metric_learning import losses, miners, samplers, testers, trainers
    from pytorch_metric_learning.utils import common_functions as c_f
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    c_f.LOGGER.setLevel("ERROR")
    data = prepare_splits(seed)
    ds = {k: torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in data.items()}
    np.random.seed(seed)
    trunk = _mlp(seed)
    torch.manual_seed(seed)
    sampler = samplers.MPerClassSampler(data["train"][1], m=16, batch_size=64, length_before_new_iter=len(data["train"][1]))
    trainer = trainers.MetricLossOnly(
        models={"trunk": trunk},
        optimizers={"trunk_optimizer": torch.optim.Adam(trunk.parameters(), lr=1e-3)},
        batch_size=64,
        loss_funcs={"metric_loss": losses.TripletMarginLoss(margin=0.05)},
        mining_funcs={"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.1)},
        dataset=ds["train"],
        sampler=sampler,
        dataloader_num_workers=0,
        data_device=torch.device("cpu"),
    )
    trainer.train(num_epochs=epochs)
    tester = testers.GlobalEmbeddingSpaceTester(
        accuracy_calculator=AccuracyCalculator(include=METRICS, k="max_bin_count", device=torch.device("cpu")),
        dataloader_num_workers=0,
        data_device=torch.device("cpu"),
    )
    acc = tester.test({k: ds[k] for k in SPLITS}, epochs, trunk)
    return {s: {m: float(acc[s][f"{m}_level0"]) for m in METRICS} for s in SPLITS}


def run_ours(seed: int, epochs: int) -> dict:
    from agnostic_ml_torch.demo import train_and_evaluate

    res = train_and_evaluate(seed=seed, epochs=epochs, plot="none", progress_bar=False)
    return res["metrics"], res["raw_pixels"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows: dict = {"ours": [], "pml": []}
    raw = None
    for seed in range(args.seeds):
        t = time.perf_counter()
        ours, raw = run_ours(seed, args.epochs)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        pml = run_pml(seed, args.epochs)
        t_pml = time.perf_counter() - t
        rows["ours"].append(ours)
        rows["pml"].append(pml)
        print(f"seed {seed}: MAP@R seen_heldout ours {ours['seen_heldout']['mean_average_precision_at_r']:.4f} "
              f"PML {pml['seen_heldout']['mean_average_precision_at_r']:.4f}; unseen ours "
              f"{ours['unseen']['mean_average_precision_at_r']:.4f} PML {pml['unseen']['mean_average_precision_at_r']:.4f} "
              f"({t_ours:.1f} s / {t_pml:.1f} s)", flush=True)
    print()
    print(f"{'split':13s} {'metric':28s} {'raw pixels':>10s} {'agnostic-ml':>16s} {'PML 2.9':>16s}")
    summary = {}
    for split in SPLITS:
        for m in METRICS:
            vals = {k: [r[split][m] for r in rows[k]] for k in rows}
            cell = {k: (statistics.mean(v), statistics.pstdev(v)) for k, v in vals.items()}
            summary[f"{split}/{m}"] = {k: {"mean": a, "sd": b} for k, (a, b) in cell.items()} | {"raw": raw[split][m]}
            print(f"{split:13s} {m:28s} {raw[split][m]:10.4f} {cell['ours'][0]:9.4f} ±{cell['ours'][1]:.4f} "
                  f"{cell['pml'][0]:9.4f} ±{cell['pml'][1]:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(sys.argv), "seeds": args.seeds, "epochs": args.epochs,
                                               "per_seed": rows, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
