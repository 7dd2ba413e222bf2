"""End-to-end workflows of issue 9: the training demo, a PML script with only its imports
changed, and a run killed mid-epoch and resumed from its checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).with_name("scripts")


def _env() -> dict:
    path = os.pathsep.join([str(ROOT), str(ROOT / "adapters"), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", TQDM_DISABLE="1")


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_demo_trains_evaluates_and_writes_its_outputs(tmp_path):
    out = tmp_path / "demo"
    proc = _run(["-m", "agnostic_ml.cli", "demo", "--quick", "--epochs", "2", "--plot", "pca", "--output", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in ("seen_heldout", "unseen", "classes never seen in training", "raw pixels", "trained",
                 "mean_average_precision_at_r"):
        assert text in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"seen_heldout", "unseen", "raw_pixels"}
    assert set(metrics["raw_pixels"]) == {"seen_heldout", "unseen"}
    for split in ("seen_heldout", "unseen"):
        for m in ("precision_at_1", "r_precision", "mean_average_precision_at_r"):
            assert 0.0 <= metrics[split][m] <= 1.0 and 0.0 <= metrics["raw_pixels"][split][m] <= 1.0
    assert list((out / "logs").glob("*.csv"))
    assert list((out / "checkpoints").glob("trunk_*.pth")) and list((out / "checkpoints").glob("trunk_best*.pth"))
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == ["seen_heldout_embeddings_level0.png", "unseen_embeddings_level0.png"]


def test_demo_usage_errors(tmp_path):
    proc = _run(["-m", "agnostic_ml.cli", "demo", "--loss", "NoSuchLoss", "--quick"], tmp_path)
    assert proc.returncode == 2 and "unknown loss 'NoSuchLoss'" in proc.stderr
    (tmp_path / "afile").write_text("x")
    proc = _run(["-m", "agnostic_ml.cli", "demo", "--output", str(tmp_path / "afile")], tmp_path)
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr


@pytest.mark.slow
def test_pml_script_runs_with_only_its_imports_changed(tmp_path):
    source = (SCRIPTS / "pml_style_training.py").read_text()
    script = tmp_path / "converted.py"
    script.write_text(source.replace("pytorch_metric_learning", "agnostic_ml_torch"))
    proc = _run([str(script), str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = [line for line in proc.stdout.splitlines() if line.startswith("best")]
    assert best, proc.stdout
    assert list((tmp_path / "example_logs").glob("*.csv"))
    assert list((tmp_path / "example_saved_models").glob("trunk_*.pth"))


@pytest.mark.slow
def test_killed_mid_epoch_and_resumed_ends_with_the_same_weights(tmp_path):
    """SIGKILL in the middle of epoch 4 (no clean-up), resume after the epoch-3 checkpoint in a
    fresh process: the final weights equal an uninterrupted run's bit for bit (sampler,
    optimizer, CrossBatchMemory queue and RNG states restored)."""
    full, broken = tmp_path / "full", tmp_path / "broken"
    full.mkdir(), broken.mkdir()
    script = str(SCRIPTS / "resumable_training.py")
    p = _run([script, str(full), "full"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    p = _run([script, str(broken), "kill", "20"], tmp_path)  # 6 iterations per epoch: the 2nd of epoch 4
    assert p.returncode == -9, f"the run was not killed: {p.returncode}\n{p.stderr[-2000:]}"
    assert not (broken / "final_trunk.pt").exists()
    p = _run([script, str(broken), "resume"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "done from epoch 4" in p.stdout, p.stdout
    a = torch.load(full / "final_trunk.pt", weights_only=True)
    b = torch.load(broken / "final_trunk.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
