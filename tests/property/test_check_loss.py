"""``agnostic_ml.testing.check_loss`` / ``property_test_loss`` and ``agnostic-ml check-loss``.

1. Every loss of the catalogue (``tests/torch_adapter/loss_catalogue.py``: every shipped
   loss and its notable configurations) passes the property test. Invariants that do not
   apply to a loss are declared in :data:`DECLARED` with the reason.
2. Each check catches a deliberately broken loss (one bug each), with a readable minimal
   example: the check, the batch, the two values compared and the tolerance; the
   single-batch ``check_loss`` run on the reported batch fails the same way.
3. The command line: exit 0 / 1 / 2, built-in names, ``module:Class`` and ``file.py:Class``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")
pytest.importorskip("pytorch_metric_learning")

from agnostic_ml_torch import losses  # noqa: E402

from helpers import run_cli as _run  # noqa: E402
from agnostic_ml.testing import (  # noqa: E402
    LOSS_CHECKS,
    LossInvariantViolation,
    LossPropertyError,
    check_loss,
    loss_batches,
    property_test_loss,
)

_CATALOGUE_DIR = str(Path(__file__).resolve().parents[1] / "torch_adapter")
if _CATALOGUE_DIR not in sys.path:
    sys.path.insert(0, _CATALOGUE_DIR)

from loss_catalogue import D, N, all_losses  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning"),
]

# -- 1. every shipped loss --------------------------------------------------------------------

_ORDER = ("PML's InstanceLoss takes the rank of each label among the batch's classes as the target column of "
          "the N x N similarity matrix, so the value depends on the row order and on the order of the class ids "
          "(kept as PML)")
_NPAIRS = ("keeps the first positive pair of each class in batch order (PML's "
           "convert_to_pos_pairs_with_unique_labels), so another row order picks other pairs (kept as PML)")
_TIES = ("its BatchHardMiner takes the first of equally hard positives or negatives (argmax), so exact distance ties "
         "resolve by row order")


def _manifold_call(loss, x, y, tup, r):
    """ManifoldLoss takes no labels; its indices_tuple is each embedding's meta class (a proxy index)."""
    return loss(x, indices_tuple=y)


def _no_constant_rows(b):
    return not any(np.ptp(row) == 0 for row in b.embeddings)


#: Per-case options of the property test, beyond what the catalogue flags say.
DECLARED: dict[str, dict] = {
    "instance": {"skip": {"permutation": _ORDER, "relabel": _ORDER}},
    "instance_gamma": {"skip": {"permutation": _ORDER, "relabel": _ORDER}},
    "n_pairs": {"skip": {"permutation": _NPAIRS}},
    "n_pairs_lp": {"skip": {"permutation": _NPAIRS}},
    "multiple_losses_dict_miners": {"skip": {"permutation": _TIES}},
    # A constant anchor row has no signal (Var = 0): its SNR distance to any other row is inf, as in
    # PML. Such batches are left out here; the nan gradient of constant duplicates is tested below.
    "snr_contrastive": {"filter": _no_constant_rows},
    "snr_contrastive_margins": {"filter": _no_constant_rows},
    "margin_learn_beta_per_class": {"labels_kind": "class_index", "num_classes": N},
    "manifold": {"call": _manifold_call, "labels_kind": "class_index", "num_classes": 4},
    "manifold_lambda3_alpha06": {"call": _manifold_call, "labels_kind": "class_index", "num_classes": 4},
}


def kit_options(case) -> dict:
    """The property test's options for a catalogue case: from its flags, then :data:`DECLARED`."""
    opts: dict = {"dim": D, "max_examples": 12}
    if case.kind == "self_supervised":
        opts["self_supervised"] = True
    if not case.tuples:
        opts["tuples"] = False
    if case.kind == "classification" or case.extra.get("miner_weighted"):
        opts["empty_tuple"] = "no_tuple"  # PML's convert_to_weights: an empty tuple weighs every sample 1
    skip = {}
    if case.tuples and not case.empty_tuple_is_zero:
        skip["empty_tuple"] = case.why or "a given tuple is added to the loss's own mining"
    declared = dict(DECLARED.get(case.name, {}))
    skip.update(declared.pop("skip", {}))
    keep = declared.pop("filter", None)
    if skip:
        opts["skip"] = skip
    opts.update(declared)
    if keep is not None:
        opts["batches"] = loss_batches(
            D, max_classes=4, labels_kind=opts.get("labels_kind", "ids"), num_classes=opts.get("num_classes"),
            with_tuple=opts.get("tuples", True),
        ).filter(keep)
    return opts


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in all_losses()])
def test_every_shipped_loss_passes_the_kit(case):
    report = property_test_loss(case.ours, name=case.name, **kit_options(case))
    assert report.passed.get("finite", 0) > 0, report.summary()
    for check in ("permutation", "dtype"):
        assert check in report.declared or report.passed.get(check, 0) > 0, report.summary()


def test_the_catalogue_declares_only_cases_it_has():
    names = {c.name for c in all_losses()}
    assert set(DECLARED) <= names


@pytest.mark.parametrize("cls", [losses.SignalToNoiseRatioContrastiveLoss, losses.ContrastiveLoss])
def test_constant_duplicate_rows_give_a_finite_gradient(cls):
    """SNRDistance divided 0 by 0 on a constant row and sent nan back to every row (PML sends 0)."""
    emb = np.full((4, 6), -1.0)
    out = check_loss(cls(), emb, [0, 0, 1, 1], checks=["finite", "permutation"])
    assert out == {"finite": "pass", "permutation": "pass"}


@pytest.mark.parametrize("make", [lambda: losses.P2SGradLoss(6, 4), lambda: losses.ManifoldLoss(l=6, K=4)])
def test_an_empty_batch_gives_zero_with_a_zero_gradient(make):
    """P2SGradLoss and ManifoldLoss took a mean over no rows (nan, as PML); nothing to compute is 0."""
    loss = make()
    x = torch.zeros(0, 6, requires_grad=True)
    y = torch.zeros(0, dtype=torch.int64)
    v = loss(x, y) if isinstance(loss, losses.P2SGradLoss) else loss(x, indices_tuple=y)
    (g,) = torch.autograd.grad(v, x, allow_unused=True)
    assert float(v.detach()) == 0.0
    assert g is None or g.numel() == 0


# -- 2. broken losses: each check catches its bug -----------------------------------------------


class _Wrapped(torch.nn.Module):
    """A real ContrastiveLoss; each subclass adds one bug."""

    def __init__(self):
        super().__init__()
        self.inner = losses.ContrastiveLoss()

    def forward(self, embeddings, labels=None, indices_tuple=None):
        return self.inner(embeddings, labels, indices_tuple)


class FirstRowMatters(_Wrapped):
    """Bug: a term that depends on which row comes first."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        v = super().forward(embeddings, labels, indices_tuple)
        if indices_tuple is None and embeddings.shape[0] > 1:
            v = v + 0.1 * (embeddings[0] - embeddings[-1]).pow(2).sum()
        return v


class LabelValuesMatter(_Wrapped):
    """Bug: uses the class ids as numbers."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        v = super().forward(embeddings, labels, indices_tuple)
        if indices_tuple is None and labels.numel():
            v = v + 1e-3 * labels.double().mean().to(v.dtype)
        return v


class NanOnDuplicates(_Wrapped):
    """Bug: the square root of a squared distance, whose gradient at 0 is nan."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        v = super().forward(embeddings, labels, indices_tuple)
        n = embeddings.shape[0]
        if indices_tuple is None and n > 1:
            sq = (embeddings[:, None, :] - embeddings[None, :, :]).pow(2).sum(-1)
            off = ~torch.eye(n, dtype=torch.bool)
            v = v + 1e-3 * sq[off].sqrt().sum()
        return v


class OneOnEmptyTuple(_Wrapped):
    """Bug: returns a 'no pairs' sentinel of 1 when the tuple is empty."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        if indices_tuple is not None and indices_tuple[0].numel() == 0:
            return 1.0 + 0.0 * embeddings.sum()
        return super().forward(embeddings, labels, indices_tuple)


class RejectsPairs(_Wrapped):
    """Bug: refuses a pair miner's output."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        if indices_tuple is not None and len(indices_tuple) == 4 and indices_tuple[0].numel():
            raise ValueError("RejectsPairs takes triplets only")
        return super().forward(embeddings, labels, indices_tuple)


class Float32Margin(_Wrapped):
    """Bug: a float32 code path with another margin."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        self.inner.neg_margin = 1.5 if embeddings.dtype == torch.float32 else 1.0
        return super().forward(embeddings, labels, indices_tuple)


class NotZeroD(torch.nn.Module):
    """Bug: returns the per-row losses instead of their mean."""

    def forward(self, embeddings, labels=None, indices_tuple=None):
        return embeddings.pow(2).sum(1)


BROKEN = [
    pytest.param(FirstRowMatters, "permutation", "value on the permuted batch", id="permutation"),
    pytest.param(LabelValuesMatter, "relabel", "value with renamed ids", id="relabel"),
    pytest.param(NanOnDuplicates, "finite", "gradient of embeddings is not finite", id="nan_grad_on_duplicates"),
    pytest.param(OneOnEmptyTuple, "empty_tuple", "not 0", id="nonzero_on_empty_tuple"),
    pytest.param(RejectsPairs, "tuples", "RejectsPairs takes triplets only", id="rejects_pairs"),
    pytest.param(Float32Margin, "dtype", "float32 gives", id="dtype_dependent"),
]


@pytest.mark.parametrize("cls, check, phrase", BROKEN)
def test_each_check_catches_its_broken_loss(cls, check, phrase):
    with pytest.raises(LossPropertyError) as info:
        property_test_loss(cls, max_examples=40, dim=3)
    err = info.value
    text = str(err)
    assert err.check == check, text
    assert phrase in text, text
    # readable: the rule, the batch, and (for comparisons) the values and the tolerance
    assert text.startswith("minimal failing batch found by hypothesis:")
    assert f"check '{check}' ({LOSS_CHECKS[check]}) fails" in text
    assert "embeddings = " in text and "labels = " in text and "indices_tuple = " in text
    assert "reproduce: check_loss(" in text
    if check in ("permutation", "relabel", "dtype"):
        assert "tolerance" in text and len(err.violation.values) == 2
    # shrunk: a small batch
    assert err.batch.n <= 4, text
    # the single-batch check on the reported batch fails the same way
    b = err.batch
    with pytest.raises(LossInvariantViolation) as again:
        check_loss(cls, b.embeddings, b.labels, indices_tuple=b.indices_tuple, checks=[check])
    assert again.value.rule == check
    # the report says which check failed
    assert any(row[1] == "FAIL" for row in err.report.rows())


def test_a_crash_is_reported_as_errors():
    class Crashes(_Wrapped):
        def forward(self, embeddings, labels=None, indices_tuple=None):
            if embeddings.shape[0] > 2:
                raise RuntimeError("index out of range")
            return super().forward(embeddings, labels, indices_tuple)

    with pytest.raises(LossPropertyError) as info:
        property_test_loss(Crashes, max_examples=30, dim=2)
    assert info.value.check == "errors" and "RuntimeError: index out of range" in str(info.value)
    assert info.value.batch.n == 3


def test_a_loss_that_rejects_every_batch_fails():
    class Refuses(_Wrapped):
        def forward(self, embeddings, labels=None, indices_tuple=None):
            raise ValueError("never")

    with pytest.raises(LossPropertyError, match="rejected every one of the 5 batches"):
        property_test_loss(Refuses, max_examples=5)


def test_a_non_scalar_value_fails_finite():
    emb = np.eye(3)
    with pytest.raises(LossInvariantViolation, match=r"must return a 0-D tensor, got a tensor of shape \(3,\)"):
        check_loss(NotZeroD(), emb, [0, 1, 0])


# -- check_loss on one batch ------------------------------------------------------------------


def test_check_loss_message_shows_values_tolerance_and_batch():
    emb = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    with pytest.raises(LossInvariantViolation) as info:
        check_loss(FirstRowMatters(), emb, [0, 1, 0], checks=["permutation"])
    text = str(info.value)
    v = info.value
    assert v.rule == "permutation" and v.labels.tolist() == [0, 1, 0]
    a, b = v.values
    assert f"value on the batch = {a!r}" in text and f"value on the permuted batch = {b!r}" in text
    assert f"tolerance {v.tolerance}" in text and "perm = [" in text
    assert "embeddings = [[0.0, 0.0]," in text


def test_a_plain_loss_function_is_checked_as_it_is():
    def mean_norm(embeddings, labels, indices_tuple=None):
        if indices_tuple is not None and indices_tuple[0].numel() == 0:
            return embeddings.sum() * 0.0
        return embeddings.pow(2).sum(1).mean() if embeddings.shape[0] else embeddings.sum() * 0.0

    out = check_loss(mean_norm, np.eye(3), [0, 1, 1])
    assert set(out.values()) == {"pass"}


def test_check_loss_remaps_the_indices_tuple_when_permuting():
    emb = np.random.default_rng(0).standard_normal((6, 3))
    lab = np.array([0, 0, 1, 1, 2, 2])
    tup = (np.array([0, 2]), np.array([1, 3]), np.array([4, 5]))
    out = check_loss(losses.TripletMarginLoss(margin=0.5), emb, lab, indices_tuple=tup)
    assert set(out.values()) == {"pass"}


def test_declared_invariants_are_reported_with_the_reason():
    emb = np.random.default_rng(1).standard_normal((5, 3))
    out = check_loss(FirstRowMatters(), emb, [0, 0, 1, 1, 2], skip={"permutation": "depends on order by design"})
    assert out["permutation"] == "skip: depends on order by design"
    assert out["relabel"] == "pass"


def test_class_index_losses_permute_their_weights_when_renaming():
    emb = np.random.default_rng(2).standard_normal((8, 6))
    lab = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    out = check_loss(lambda: losses.ArcFaceLoss(4, 6), emb, lab, empty_tuple="no_tuple")
    assert set(out.values()) == {"pass"}
    # renaming without permuting the weights changes the value: the check would fail
    with pytest.raises(LossInvariantViolation, match="relabel"):
        check_loss(lambda: losses.ArcFaceLoss(4, 6), emb, lab, labels_kind="ids", checks=["relabel"])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"checks": ["nope"]}, ValueError, "checks must be"),
        ({"skip": {"nope": "x"}}, ValueError, "unknown check 'nope'"),
        ({"skip": {"dtype": ""}}, ValueError, "non-empty reason"),
        ({"labels_kind": "weird"}, ValueError, "labels_kind must be"),
        ({"labels_kind": "class_index"}, ValueError, "num_classes must be a positive int"),
        ({"empty_tuple": "maybe"}, ValueError, "empty_tuple must be"),
        ({"call": 3}, TypeError, "call must be callable"),
        ({"rtol": -1.0}, ValueError, "rtol must be"),
    ],
)
def test_check_loss_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_loss(losses.ContrastiveLoss(), np.eye(3), [0, 1, 0], **kwargs)


def test_check_loss_bad_batches():
    with pytest.raises(ValueError, match="embeddings must be 2-D"):
        check_loss(losses.ContrastiveLoss(), np.ones(3), [0, 1, 0])
    with pytest.raises(ValueError, match="labels must be 3 integers"):
        check_loss(losses.ContrastiveLoss(), np.eye(3), [0, 1])
    with pytest.raises(TypeError, match="loss must be"):
        check_loss(3, np.eye(3), [0, 1, 0])


def test_property_test_loss_bad_arguments():
    with pytest.raises(ValueError, match="max_examples must be a positive int"):
        property_test_loss(losses.ContrastiveLoss, max_examples=0)
    with pytest.raises(ValueError, match="dtype must be"):
        property_test_loss(losses.ContrastiveLoss, dtype="float16")


def test_float32_runs_pass_for_a_shipped_loss():
    report = property_test_loss(lambda: losses.MultiSimilarityLoss(), dtype="float32", max_examples=10)
    assert report.dtype == "float32" and report.passed["permutation"] > 0


# -- 3. the command line ----------------------------------------------------------------------

_BROKEN_FILE = textwrap.dedent(
    """
    import torch
    from agnostic_ml_torch.losses import ContrastiveLoss

    class MyLoss(torch.nn.Module):
        def __init__(self, scale=1.0):
            super().__init__()
            self.inner = ContrastiveLoss()
            self.scale = scale

        def forward(self, embeddings, labels=None, indices_tuple=None):
            v = self.scale * self.inner(embeddings, labels, indices_tuple)
            if indices_tuple is None and embeddings.shape[0] > 1:
                v = v + 0.1 * (embeddings[0] - embeddings[-1]).pow(2).sum()  # order-dependent
            return v

    class GoodLoss(torch.nn.Module):
        def __init__(self, scale=1.0):
            super().__init__()
            self.inner = ContrastiveLoss(pos_margin=0.1)
            self.scale = scale

        def forward(self, embeddings, labels=None, indices_tuple=None):
            return self.scale * self.inner(embeddings, labels, indices_tuple)
    """
)


def test_cli_passes_a_builtin_loss(capsys):
    code, out, err = _run(capsys, ["check-loss", "TripletMarginLoss", "--param", "margin=0.2", "--examples", "6"])
    assert code == 0, (out, err)
    assert "all invariants hold" in out and "FAIL" not in out


def test_cli_fills_in_class_sizes_of_a_classification_loss(capsys):
    code, out, err = _run(capsys, ["check-loss", "arcface", "--empty-tuple", "no-tuple", "--examples", "6"])
    assert code == 0, (out, err)
    assert "num_classes=4, embedding_size=6" in out
    # the default --empty-tuple either accepts PML's convert_to_weights reading too; zero does not
    code, out, err = _run(capsys, ["check-loss", "arcface", "--examples", "6"])
    assert code == 0, (out, err)
    code, out, err = _run(capsys, ["check-loss", "arcface", "--empty-tuple", "zero", "--examples", "6"])
    assert code == 1 and "check 'empty_tuple'" in out, (out, err)


def test_cli_file_class_fails_with_the_minimal_example(tmp_path, capsys):
    path = tmp_path / "my_loss.py"
    path.write_text(_BROKEN_FILE)
    code, out, err = _run(capsys, ["check-loss", f"{path}:MyLoss", "--param", "scale=2.0", "--examples", "30"])
    assert code == 1, (out, err)
    assert "FAIL" in out and "minimal failing batch found by hypothesis" in out
    assert "check 'permutation'" in out and "embeddings = " in out
    code, out, err = _run(capsys, ["check-loss", f"{path}:GoodLoss", "--examples", "6"])
    assert code == 0, (out, err)


def test_cli_module_class_and_declared_skips(tmp_path, capsys, monkeypatch):
    (tmp_path / "my_losses_pkg.py").write_text(_BROKEN_FILE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = _run(capsys, ["check-loss", "my_losses_pkg:MyLoss", "--examples", "8",
                                   "--skip", "permutation=order matters by design"])
    assert code == 0, (out, err)
    assert "declared: order matters by design" in out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["check-loss", "NoSuchLoss"], "unknown loss 'NoSuchLoss'"),
        (["check-loss", "ContrastiveLoss", "--param", "nope=1"], "has no parameter nope"),
        (["check-loss", "ContrastiveLoss", "--skip", "dtype"], "--skip expects CHECK=REASON"),
        (["check-loss", "ContrastiveLoss", "--skip", "speed=fast"], "unknown check 'speed'"),
        (["check-loss", "my_loss.py"], "name the class too"),
        (["check-loss", "no_such_module_xyz:Loss"], "no module named 'no_such_module_xyz'"),
        (["check-loss", "ContrastiveLoss", "--examples", "0"], "expected a positive integer"),
        (["check-loss", "ContrastiveLoss", "--dtype", "float16"], "invalid choice"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, argv, match):
    code, out, err = _run(capsys, argv)
    assert code == 2, (out, err)
    assert match in err and len(err.strip().splitlines()) == 1


def test_cli_file_without_the_class_exits_2(tmp_path, capsys):
    path = tmp_path / "my_loss.py"
    path.write_text(_BROKEN_FILE)
    code, _, err = _run(capsys, ["check-loss", f"{path}:Missing"])
    assert code == 2 and "has no 'Missing'" in err and "MyLoss" in err


def test_cli_without_torch_exits_2_with_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ModuleNotFoundError
    code, _, err = _run(capsys, ["check-loss", "ContrastiveLoss"])
    assert code == 2
    assert "torch" in err and "not installed" in err and len(err.strip().splitlines()) == 1
