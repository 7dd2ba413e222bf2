"""Train the demo's MLP on the digits for a few epochs with checkpoints every epoch.

Usage: python resumable_training.py FOLDER {full,kill,resume} [KILL_AT_ITERATION]
``kill`` SIGKILLs its own process at the given global iteration (mid-epoch, no clean-up);
``resume`` loads the latest checkpoint of FOLDER and finishes the run. The final weights are
written to FOLDER/final_trunk.pt.
"""

import os
import signal
import sys

import torch

from agnostic_ml.accuracy import AccuracyCalculator
from agnostic_ml_torch import losses, miners, samplers, testers, trainers
from agnostic_ml_torch.demo import prepare_splits
from agnostic_ml_torch.utils import logging_presets

folder, mode = sys.argv[1], sys.argv[2]
kill_at = int(sys.argv[3]) if mode == "kill" else None
EPOCHS = 5
torch.set_num_threads(1)
torch.manual_seed(0)
data = prepare_splits(0, quick=True)
ds = {k: torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)) for k, (x, y) in data.items()}
trunk = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16))
loss = losses.CrossBatchMemory(losses.ContrastiveLoss(), 16, memory_size=96)  # state that must be restored
sampler = samplers.MPerClassSampler(data["train"][1], m=8, batch_size=32, length_before_new_iter=len(data["train"][1]), seed=0)
record_keeper, _, _ = logging_presets.get_record_keeper(os.path.join(folder, "logs"))
hooks = logging_presets.get_hook_container(record_keeper, validation_split_name="seen_heldout")
tester = testers.GlobalEmbeddingSpaceTester(
    accuracy_calculator=AccuracyCalculator(include=("mean_average_precision_at_r",), k="max_bin_count"),
    dataloader_num_workers=0, end_of_testing_hook=hooks.end_of_testing_hook,
)
end_of_epoch = hooks.end_of_epoch_hook(tester, {"seen_heldout": ds["seen_heldout"]}, os.path.join(folder, "models"))


def end_of_iteration(trainer):
    hooks.end_of_iteration_hook(trainer)
    if kill_at is not None and trainer.get_global_iteration() == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


trainer = trainers.MetricLossOnly(
    models={"trunk": trunk},
    optimizers={"trunk_optimizer": torch.optim.Adam(trunk.parameters(), lr=1e-3)},
    batch_size=32,
    loss_funcs={"metric_loss": loss},
    mining_funcs={"tuple_miner": miners.MultiSimilarityMiner(epsilon=0.1)},
    dataset=ds["train"],
    sampler=sampler,
    dataloader_num_workers=0,
    end_of_iteration_hook=end_of_iteration,
    end_of_epoch_hook=end_of_epoch,
    progress_bar=False,
    seed=0,
)
start = hooks.load_latest_checkpoint(trainer, os.path.join(folder, "models")) if mode == "resume" else 1
trainer.train(start_epoch=start, num_epochs=EPOCHS)
torch.save(trunk.state_dict(), os.path.join(folder, "final_trunk.pt"))
print("done from epoch", start)
