"""DistributedLossWrapper / DistributedMinerWrapper with 2 gloo processes on the CPU.

The loss value and the parameter gradients after DDP's averaging equal one process's on the
concatenated batch (efficient=False, with and without a wrapped miner, with unequal shares,
and with a CrossBatchMemory over several steps); efficient=True equals its definition.
Outside a process group the wrappers warn and compute locally.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from agnostic_ml_torch import losses, miners  # noqa: E402
from agnostic_ml_torch.distributed import DistributedLossWrapper, DistributedMinerWrapper  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this build")
    worker = Path(__file__).with_name("_ddp_worker.py")
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [
        subprocess.Popen([sys.executable, str(worker), str(r), "2", str(port), str(tmp_path)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for r in range(2)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for r, p in enumerate(procs):
        report = tmp_path / f"rank{r}.txt"
        assert report.exists(), f"rank {r} exited with {p.returncode}:\n{logs[r][-3000:]}"
        assert report.read_text() == "ok", f"rank {r}:\n{report.read_text()}"


def test_outside_a_process_group_computes_locally():
    x = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    y = torch.arange(10) % 3
    with pytest.warns(UserWarning, match="outside a torch.distributed process group"):
        v = DistributedLossWrapper(losses.ContrastiveLoss())(x, y)
    assert torch.equal(v, losses.ContrastiveLoss()(x, y))
    with pytest.warns(UserWarning, match="outside"):
        t = DistributedMinerWrapper(miners.BatchHardMiner())(x, y)
    assert all(torch.equal(a, b) for a, b in zip(t, miners.BatchHardMiner()(x, y)))


def test_wrapper_argument_errors():
    with pytest.raises(TypeError, match="loss must be"):
        DistributedLossWrapper(lambda e, l: e.sum())
    with pytest.raises(ValueError, match="efficient=True"):
        DistributedLossWrapper(losses.CrossBatchMemory(losses.ContrastiveLoss(), 4), efficient=True)
    with pytest.raises(TypeError, match="miner must be"):
        DistributedMinerWrapper(losses.ContrastiveLoss())
    w = DistributedLossWrapper(losses.CrossBatchMemory(losses.ContrastiveLoss(), 4))
    with pytest.raises(ValueError, match="ref_emb"):
        w(torch.randn(4, 4), torch.arange(4), None, torch.randn(4, 4), torch.arange(4))
    with pytest.raises(ValueError, match="enqueue_mask"):
        DistributedLossWrapper(losses.ContrastiveLoss())(torch.randn(4, 4), torch.arange(4), enqueue_mask=torch.ones(4, dtype=torch.bool))


def test_docstring_examples_run():
    """The module's docstring examples (CI's --doctest-modules covers agnostic_ml, not adapters/)."""
    import doctest

    import agnostic_ml_torch.distributed as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
