"""A training script written for PyTorch Metric Learning, as PML's examples write them.

tests/torch_adapter/test_pml_style_script.py runs it after replacing ``pytorch_metric_learning``
by ``agnostic_ml_torch`` in its text, and nothing else. (PML itself cannot run it here: its
``logging_presets.get_record_keeper`` needs the ``record-keeper`` package.)
Usage: python pml_style_training.py OUTPUT_FOLDER
"""

import logging
import os
import sys

import numpy as np
import torch

import pytorch_metric_learning.utils.logging_presets as logging_presets
from pytorch_metric_learning import losses, miners, samplers, testers, trainers
from pytorch_metric_learning.utils import common_functions as c_f
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

logging.getLogger().setLevel(logging.INFO)
c_f.LOGGER.info("example started")


class MLP(torch.nn.Module):
    # layer_sizes[0] is the dimension of the input
    # layer_sizes[-1] is the dimension of the output
    def __init__(self, layer_sizes, final_relu=False):
        super().__init__()
        layer_list = []
        layer_sizes = [int(x) for x in layer_sizes]
        num_layers = len(layer_sizes) - 1
        final_relu_layer = num_layers if final_relu else num_layers - 1
        for i in range(len(layer_sizes) - 1):
            input_size = layer_sizes[i]
            curr_size = layer_sizes[i + 1]
            if i < final_relu_layer:
                layer_list.append(torch.nn.ReLU(inplace=False))
            layer_list.append(torch.nn.Linear(input_size, curr_size))
        self.net = torch.nn.Sequential(*layer_list)
        self.last_linear = self.net[-1]

    def forward(self, x):
        return self.net(x)


out = sys.argv[1]
device = torch.device("cpu")
torch.manual_seed(0)
rng = np.random.RandomState(0)

# Synthetic data: 10 classes around random centres in 16-D.
centres = rng.randn(10, 16) * 3
def make(n_per_class):
    x = np.concatenate([c + rng.randn(n_per_class, 16) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(10), n_per_class)
    return torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), y

train_dataset, train_labels = make(20)
val_dataset, _ = make(10)

trunk = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32))
trunk = torch.nn.DataParallel(trunk.to(device))
embedder = torch.nn.DataParallel(MLP([32, 8]).to(device))

trunk_optimizer = torch.optim.Adam(trunk.parameters(), lr=0.001, weight_decay=0.0001)
embedder_optimizer = torch.optim.Adam(embedder.parameters(), lr=0.001, weight_decay=0.0001)

loss = losses.TripletMarginLoss(margin=0.1)
miner = miners.MultiSimilarityMiner(epsilon=0.1)
sampler = samplers.MPerClassSampler(train_labels, m=4, length_before_new_iter=len(train_dataset))

batch_size = 32
num_epochs = 3

models = {"trunk": trunk, "embedder": embedder}
optimizers = {"trunk_optimizer": trunk_optimizer, "embedder_optimizer": embedder_optimizer}
loss_funcs = {"metric_loss": loss}
mining_funcs = {"tuple_miner": miner}

record_keeper, _, _ = logging_presets.get_record_keeper(os.path.join(out, "example_logs"), os.path.join(out, "example_tensorboard"))
hooks = logging_presets.get_hook_container(record_keeper)
dataset_dict = {"val": val_dataset}
model_folder = os.path.join(out, "example_saved_models")

tester = testers.GlobalEmbeddingSpaceTester(
    end_of_testing_hook=hooks.end_of_testing_hook,
    dataloader_num_workers=0,
    accuracy_calculator=AccuracyCalculator(k="max_bin_count"),
)

end_of_epoch_hook = hooks.end_of_epoch_hook(tester, dataset_dict, model_folder, test_interval=1, patience=1)

trainer = trainers.MetricLossOnly(
    models,
    optimizers,
    batch_size,
    loss_funcs,
    train_dataset,
    mining_funcs=mining_funcs,
    sampler=sampler,
    dataloader_num_workers=0,
    end_of_iteration_hook=hooks.end_of_iteration_hook,
    end_of_epoch_hook=end_of_epoch_hook,
)

trainer.train(num_epochs=num_epochs)

best_epoch, best_accuracy = hooks.get_best_epoch_and_accuracy(tester, "val")
print("best", best_epoch, best_accuracy)
