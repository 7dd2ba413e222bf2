"""``DeepAdversarialMetricLearning``: a generator synthesises hard negatives (Duan et al. 2018)."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from agnostic_ml.losses import TripletMarginLoss as _CoreTripletMarginLoss
from agnostic_ml.tuples import convert_to_triplets

from ..distances import LpDistance
from ..miners import EmbeddingsAlreadyPackagedAsTriplets
from .train_with_classifier import TrainWithClassifier

__all__ = ["DeepAdversarialMetricLearning", "NegativeLpDistance"]


class NegativeLpDistance(LpDistance):
    """``-LpDistance()`` (p = 2, normalised embeddings): what DAML's ``g_adv_loss`` measures with."""

    def __init__(self) -> None:
        super().__init__()

    def compute_mat(self, query_emb: Any, ref_emb: Any) -> Any:
        return -super().compute_mat(query_emb, ref_emb)

    def pairwise_distance(self, query_emb: Any, ref_emb: Any, axis: int = -1) -> Any:
        return -super().pairwise_distance(query_emb, ref_emb, axis=axis)


class DeepAdversarialMetricLearning(TrainWithClassifier):
    r"""PML's ``DeepAdversarialMetricLearning(metric_alone_epochs=0, g_alone_epochs=0, g_triplets_per_anchor=100, ...)``.

    ``models["generator"]`` maps the concatenated trunk outputs of a real triplet
    ``[a, p, n]`` (width ``3 d``) to a synthetic negative (width ``d``). Per iteration, with
    ``g_triplets_per_anchor`` random triplets per anchor (drawn from the trainer's ``rng``):

    - ``metric_loss`` (and ``classifier_loss``) on the real embeddings, as in
      :class:`TrainWithClassifier`;
    - ``synth_loss`` on the triplets ``(a, p, synthetic n)`` embedded by the embedder;
    - ``g_adv_loss``, a ``TripletMarginLoss`` whose margin is negated and whose distance is
      :class:`NegativeLpDistance` (so the generator is rewarded for negatives that violate
      the margin);
    - ``g_hard_loss`` :math:`= \mathrm{MSE}(\hat n / \|\hat n\|, a / \|a\|)` and
      ``g_reg_loss`` :math:`= \mathrm{MSE}(\hat n / \|\hat n\|, n / \|n\|)`.

    Epochs ``1..metric_alone_epochs`` train only the metric part (generator frozen), the
    next ``g_alone_epochs`` only the generator (trunk and classifier frozen), then both; the
    weights of the losses not trained in a phase are set to 0 (from the original
    ``loss_weights``). Required: ``models["generator"]``, ``loss_funcs`` ``metric_loss``,
    ``synth_loss`` and ``g_adv_loss`` (a TripletMarginLoss: TypeError otherwise).

    Differences from PML (fixes): models in ``freeze_these`` stay frozen (PML re-enables
    their gradients every iteration); parameters created with ``requires_grad=False`` keep
    it; a loss's own optimizer (``<loss>_optimizer``) steps in the phases that train that
    loss (PML never steps it); a batch without a valid triplet skips the synthetic losses
    (PML: NaN from an empty mean).

    Examples
    --------
    >>> import torch
    >>> from agnostic_ml_torch import losses
    >>> from agnostic_ml_torch.trainers import DeepAdversarialMetricLearning
    >>> x, y = torch.randn(32, 4), torch.arange(32) % 4
    >>> trunk, gen = torch.nn.Linear(4, 3), torch.nn.Linear(9, 3)
    >>> opt = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)
    >>> trainer = DeepAdversarialMetricLearning(
    ...     g_triplets_per_anchor=2, models={"trunk": trunk, "generator": gen},
    ...     optimizers={"trunk_optimizer": opt(trunk), "generator_optimizer": opt(gen)},
    ...     batch_size=8, dataset=torch.utils.data.TensorDataset(x, y),
    ...     loss_funcs={"metric_loss": losses.TripletMarginLoss(), "synth_loss": losses.TripletMarginLoss(),
    ...                 "g_adv_loss": losses.TripletMarginLoss()},
    ...     dataloader_num_workers=0, data_device="cpu", progress_bar=False, seed=0)
    >>> trainer.train(num_epochs=1)
    >>> sorted(k for k in trainer.loss_weights)
    ['g_adv_loss', 'g_hard_loss', 'g_reg_loss', 'metric_loss', 'synth_loss']
    """

    def __init__(
        self,
        metric_alone_epochs: int = 0,
        g_alone_epochs: int = 0,
        g_triplets_per_anchor: Any = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        for name, v in (("metric_alone_epochs", metric_alone_epochs), ("g_alone_epochs", g_alone_epochs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"DeepAdversarialMetricLearning: {name} must be an int >= 0, got {v!r}")
        if not (g_triplets_per_anchor == "all" or (isinstance(g_triplets_per_anchor, int) and not isinstance(g_triplets_per_anchor, bool) and g_triplets_per_anchor > 0)):
            raise ValueError(f"DeepAdversarialMetricLearning: g_triplets_per_anchor must be a positive int or 'all', got {g_triplets_per_anchor!r}")
        super().__init__(*args, **kwargs)
        self.original_loss_weights = copy.deepcopy(self.loss_weights)
        self.metric_alone_epochs = metric_alone_epochs
        self.g_alone_epochs = g_alone_epochs
        self.loss_funcs["g_adv_loss"].margin *= -1
        self.loss_funcs["g_adv_loss"].distance = NegativeLpDistance()
        self.g_triplets_per_anchor = g_triplets_per_anchor
        self._initial_requires_grad = {
            k: [p.requires_grad for p in m.parameters()] for k, m in self.models.items()
        }

    def custom_setup(self) -> None:
        self.mining_funcs["synth_packaged_as_triplets"] = EmbeddingsAlreadyPackagedAsTriplets()
        self.loss_names += ["g_hard_loss", "g_reg_loss"]

    def check_configuration(self) -> None:
        super().check_configuration()
        self._required_loss("metric_loss")
        adv = self.loss_funcs["g_adv_loss"]
        if not isinstance(adv, _CoreTripletMarginLoss):
            raise TypeError(
                f"DeepAdversarialMetricLearning: loss_funcs['g_adv_loss'] must be a TripletMarginLoss (its margin and "
                f"distance are negated), got {type(adv).__name__}"
            )

    def calculate_loss(self, curr_batch: Any) -> None:
        data, labels = curr_batch
        penultimate = self.get_trunk_output(data)
        if self.do_metric:
            final = self.get_final_embeddings(penultimate)
            indices_tuple = self.maybe_mine_embeddings(final, labels)
            self.losses["metric_loss"] = self.loss_funcs["metric_loss"](final, labels, indices_tuple)
            logits = self.maybe_get_logits(final)
            self.losses["classifier_loss"] = self.maybe_get_classifier_loss(logits, labels)
        if self.do_adv:
            self.calculate_synth_loss(penultimate, labels)

    def update_loss_weights(self) -> None:
        self.do_metric_alone = self.epoch <= self.metric_alone_epochs
        self.do_adv_alone = self.metric_alone_epochs < self.epoch <= self.metric_alone_epochs + self.g_alone_epochs
        self.do_both = not self.do_adv_alone and not self.do_metric_alone
        self.do_adv = self.do_adv_alone or self.do_both
        self.do_metric = self.do_metric_alone or self.do_both
        active = []
        if self.do_adv:
            active += ["g_hard_loss", "g_reg_loss", "g_adv_loss"]
        if self.do_metric:
            active += ["metric_loss", "classifier_loss"]
        if self.do_both:
            active += ["synth_loss"]
        for k in self.loss_weights:
            self.loss_weights[k] = self.original_loss_weights[k] if k in active else 0
        self.maybe_exclude_networks_from_gradient()

    def maybe_exclude_networks_from_gradient(self) -> None:
        self.set_to_train()
        if self.do_adv_alone:
            no_grad = ["trunk", "classifier"]
        elif self.do_metric_alone:
            no_grad = ["generator"]
        else:
            no_grad = []
        for k, model in self.models.items():
            if k in self.freeze_these:
                continue
            if k in no_grad:
                for p in model.parameters():
                    p.requires_grad = False
                model.eval()
            else:
                for p, flag in zip(model.parameters(), self._initial_requires_grad[k]):
                    p.requires_grad = flag

    def optimizers_to_step(self) -> list[str]:
        steps = []
        if self.do_metric:
            steps += ["trunk_optimizer", "embedder_optimizer", "classifier_optimizer"]
            steps += [f"{k}_optimizer" for k in ("metric_loss", "classifier_loss", "synth_loss")]
        if self.do_adv:
            steps += ["generator_optimizer", "g_adv_loss_optimizer"]
        frozen = {f"{k}_optimizer" for k in self.freeze_these}
        return [k for k in self.optimizers if k in steps and k not in frozen]

    def calculate_synth_loss(self, penultimate: torch.Tensor, labels: torch.Tensor) -> None:
        a, p, n = convert_to_triplets(
            None, labels, t_per_anchor=self.g_triplets_per_anchor, rng=self.rng, like=labels
        )
        if a.shape[0] == 0:
            return
        dev = penultimate.device
        a, p, n = a.to(dev), p.to(dev), n.to(dev)
        real_anchors, real_positives, real_negatives = penultimate[a], penultimate[p], penultimate[n]
        synthetic = self.run_model("generator", torch.cat([real_anchors, real_positives, real_negatives], dim=1))
        # Rows a0, p0, s0, a1, p1, s1, ... (PML's unslice_by_n).
        interleaved = torch.stack([real_anchors, real_positives, synthetic], dim=1).reshape(-1, penultimate.shape[1])
        final = self.get_final_embeddings(interleaved)
        lab = labels.to(dev)
        synth_labels = torch.stack([lab[a], lab[p], lab[n]], dim=1).reshape(-1)
        indices_tuple = self.mining_funcs["synth_packaged_as_triplets"](final, synth_labels)
        if self.do_both:
            self.losses["synth_loss"] = self.loss_funcs["synth_loss"](final, synth_labels, indices_tuple)
        self.losses["g_adv_loss"] = self.loss_funcs["g_adv_loss"](final, synth_labels, indices_tuple)
        s = F.normalize(synthetic, p=2, dim=1)
        self.losses["g_hard_loss"] = F.mse_loss(s, F.normalize(real_anchors, p=2, dim=1))
        self.losses["g_reg_loss"] = F.mse_loss(s, F.normalize(real_negatives, p=2, dim=1))

    def modify_schema(self) -> None:
        super().modify_schema()
        self.schema["models"].keys += ["generator"]
        self.schema["models"].essential += ["generator"]
        self.schema["loss_funcs"].keys += ["synth_loss", "g_adv_loss"]
        self.schema["loss_funcs"].essential += ["synth_loss", "g_adv_loss"]
        self.schema["mining_funcs"].keys += ["synth_packaged_as_triplets"]
