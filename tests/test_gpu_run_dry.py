"""The GPU run script (benchmarks/gpu_run.py) works end to end: its --dry-run on the CPU at tiny sizes.

The real run needs a CUDA GPU; this checks that every step (tests, miners, kNN, accuracy) runs
and records its measurements, so the script is ready when a GPU machine is. ~10-15 s.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_run_dry_run(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_metric_learning")
    out = tmp_path / "gpu_run.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "adapters")]))
    res = subprocess.run(
        [sys.executable, os.path.join(REPO, "benchmarks", "gpu_run.py"), "--dry-run", "--reps", "1", "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["dry_run"] is True
    steps = data["steps"]
    assert steps["tests"]["rc"] == 0, steps["tests"]
    assert "passed" in steps["tests"]["summary"]
    miners = steps["miners"]
    ours = {(m["backend"], m["miner"]) for m in miners if not m["backend"].startswith("pml")}
    assert len(ours) == 2 * 7  # numpy and torch CPU x the seven issue-11 miners
    assert all(m["s"] > 0 and math.isfinite(m["s"] / m["limit_s"]) for m in miners)
    assert {(k["backend"], k["k"]) for k in steps["knn"]} == {(b, k) for b in ("numpy", "torch") for k in (10, 100)}
    acc = {a["backend"]: a["precision_at_1"] for a in steps["accuracy"]}
    assert set(acc) == {"numpy", "torch", "pml-cpu"}
    # Same data, exact kNN everywhere: the metrics agree with PML's.
    assert acc["numpy"] == pytest.approx(acc["pml-cpu"], abs=1e-6)
    assert acc["torch"] == pytest.approx(acc["pml-cpu"], abs=1e-6)
    for title in ("Tests, numpy required", "Miners, D=16", "Exact kNN, Q=200", "AccuracyCalculator"):
        assert title in res.stdout
