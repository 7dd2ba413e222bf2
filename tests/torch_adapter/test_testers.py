"""Testers: results equal a direct AccuracyCalculator call (and PML's tester where comparable)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agnostic_ml.accuracy import AccuracyCalculator  # noqa: E402
from agnostic_ml_torch import testers  # noqa: E402
from agnostic_ml_torch.inference import fit_pca  # noqa: E402
from agnostic_ml_torch.testers.visualization import AutoVisualizer  # noqa: E402
from agnostic_ml_torch.utils import common_functions as c_f  # noqa: E402

KNN_METRICS = ("precision_at_1", "r_precision", "mean_average_precision_at_r", "mean_average_precision", "mean_reciprocal_rank")


def _data(n: int, d: int, classes: int, seed: int, levels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = np.random.default_rng(seed)
    labels = g.integers(0, classes, size=n)
    centers = g.normal(size=(classes, d)) * 1.5
    x = centers[labels] + g.normal(size=(n, d))
    if levels == 2:
        lab = np.stack([labels, labels // 2], axis=1)
        return torch.tensor(x, dtype=torch.float32), torch.tensor(lab)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(labels)


def _dict(seed: int = 0, levels: int = 1) -> dict[str, c_f.EmbeddingDataset]:
    xt, lt = _data(40, 6, 4, seed, levels)
    xv, lv = _data(30, 6, 4, seed + 1, levels)
    return {"train": c_f.EmbeddingDataset(xt, lt), "val": c_f.EmbeddingDataset(xv, lv)}


def _tester(cls=testers.GlobalEmbeddingSpaceTester, **kw):
    kw.setdefault("dataloader_num_workers", 0)
    kw.setdefault("batch_size", 7)  # several batches, the last one partial
    return cls(**kw)


def _norm(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, p=2, dim=1)


def test_global_tester_equals_direct_calculator_call() -> None:
    data = _dict()
    tester = _tester()
    out = tester.test(data, 3, torch.nn.Identity())
    calc = AccuracyCalculator()
    for split, ds in data.items():
        direct = calc.get_accuracy(_norm(ds.embeddings), ds.labels, _norm(ds.embeddings), ds.labels, True)
        got = out[split]
        assert got["epoch"] == 3
        assert set(got) == {"epoch"} | {f"{m}_level0" for m in direct}
        for m, v in direct.items():
            assert got[f"{m}_level0"] == v, (split, m)
    assert tester.all_accuracies is out
    assert not hasattr(tester, "embeddings_and_labels")  # freed after the test, as in PML


@pytest.mark.parametrize(
    "splits, refs_for_val, includes",
    [
        ([("val", ["train"])], ["train"], False),
        ([("val", ["train", "val"])], ["val", "train"], True),  # the query moves to the front
    ],
)
def test_cross_split_equals_direct_call(splits, refs_for_val, includes) -> None:
    data = _dict(1)
    tester = _tester(accuracy_calculator=AccuracyCalculator(include=KNN_METRICS))
    out = tester.test(data, 1, torch.nn.Identity(), splits_to_eval=splits)
    assert tester.reference_split_names["val"] == refs_for_val
    ref = torch.cat([_norm(data[s].embeddings) for s in refs_for_val])
    ref_labels = torch.cat([data[s].labels for s in refs_for_val])
    direct = AccuracyCalculator(include=KNN_METRICS).get_accuracy(_norm(data["val"].embeddings), data["val"].labels, ref, ref_labels, includes)
    assert {k[: -len("_level0")]: v for k, v in out["val"].items() if k != "epoch"} == direct
    assert list(out) == ["val"]


def test_trunk_embedder_and_use_trunk_output() -> None:
    data = _dict(2)
    torch.manual_seed(0)
    trunk, embedder = torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
    calc = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"))
    with torch.no_grad():
        emb = embedder(trunk(data["val"].embeddings))
        tr = trunk(data["val"].embeddings)
    for use_trunk, e in ((False, emb), (True, tr)):
        out = _tester(accuracy_calculator=calc, use_trunk_output=use_trunk).test(
            {"val": data["val"]}, 1, trunk, embedder
        )
        direct = calc.get_accuracy(_norm(e), data["val"].labels)
        assert out["val"]["precision_at_1_level0"] == direct["precision_at_1"]
        assert out["val"]["mean_average_precision_at_r_level0"] == direct["mean_average_precision_at_r"]
    assert not trunk.training and not embedder.training


def test_label_levels_and_average_keys() -> None:
    data = _dict(3, levels=2)
    calc = AccuracyCalculator(include=("precision_at_1", "r_precision"))
    out = _tester(accuracy_calculator=calc, label_hierarchy_level="all").test(data, 1, torch.nn.Identity())
    keys = set(out["val"]) - {"epoch"}
    assert keys == {f"{m}_level{L}" for m in ("precision_at_1", "r_precision") for L in (0, 1)} | {
        "AVERAGE_precision_at_1",
        "AVERAGE_r_precision",
    }
    x, lab = data["val"].embeddings, data["val"].labels
    for L in (0, 1):
        direct = calc.get_accuracy(_norm(x), lab[:, L])
        assert out["val"][f"r_precision_level{L}"] == direct["r_precision"]
    assert out["val"]["AVERAGE_r_precision"] == pytest.approx((out["val"]["r_precision_level0"] + out["val"]["r_precision_level1"]) / 2)
    # one chosen level of 2-D labels
    one = _tester(accuracy_calculator=calc, label_hierarchy_level=1).test(data, 1, torch.nn.Identity())
    assert set(one["val"]) == {"epoch", "precision_at_1_level1", "r_precision_level1"}
    with pytest.raises(ValueError, match="label_hierarchy_level"):
        _tester(accuracy_calculator=calc, label_hierarchy_level=2).test(data, 1, torch.nn.Identity())


def test_with_same_parent_label_equals_per_parent_calls() -> None:
    data = _dict(4, levels=2)
    calc = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"))
    out = _tester(testers.WithSameParentLabelTester, accuracy_calculator=calc).test(data, 1, torch.nn.Identity())
    x, lab = _norm(data["val"].embeddings), data["val"].labels
    per = []
    for parent in torch.unique(lab[:, 1]):
        m = lab[:, 1] == parent
        per.append(calc.get_accuracy(x[m], lab[m, 0], x[m], lab[m, 0], True)["mean_average_precision_at_r"])
    assert out["val"]["mean_average_precision_at_r_level0"] == pytest.approx(float(np.mean(per)), abs=1e-12)
    with pytest.raises(ValueError, match="parent"):
        _tester(testers.WithSameParentLabelTester, accuracy_calculator=calc, label_hierarchy_level=1).test(
            data, 1, torch.nn.Identity()
        )


class _TwoStream(torch.utils.data.Dataset):
    def __init__(self, a, pn, labels):
        self.a, self.pn, self.labels = a, pn, labels

    def __len__(self):
        return len(self.a)

    def __getitem__(self, i):
        return self.a[i], self.pn[i], self.labels[i]


def _two_stream(seed: int = 5) -> _TwoStream:
    a, lab = _data(24, 5, 3, seed)
    pn = a + 0.3 * torch.from_numpy(np.random.default_rng(seed).normal(size=a.shape)).float()
    return _TwoStream(a, pn, lab)


def test_two_stream_tester_anchors_query_posnegs() -> None:
    ds = _two_stream()
    calc = AccuracyCalculator(include=KNN_METRICS)
    out = _tester(testers.GlobalTwoStreamEmbeddingSpaceTester, accuracy_calculator=calc).test({"val": ds}, 2, torch.nn.Identity())
    direct = calc.get_accuracy(_norm(ds.a), ds.labels, _norm(ds.pn), ds.labels, False)
    assert {k[: -len("_level0")]: v for k, v in out["val"].items() if k != "epoch"} == direct
    with pytest.raises(ValueError, match="different reference and query"):
        _tester(testers.GlobalTwoStreamEmbeddingSpaceTester, accuracy_calculator=calc).test(
            {"val": ds, "other": ds}, 2, torch.nn.Identity(), splits_to_eval=[("val", ["other"])]
        )


def test_pca_self_splits_per_split_and_cross_splits_shared() -> None:
    data = _dict(6)
    calc = AccuracyCalculator(include=KNN_METRICS)
    out = _tester(accuracy_calculator=calc, pca=3).test(data, 1, torch.nn.Identity())
    x, lab = data["val"].embeddings, data["val"].labels
    direct = calc.get_accuracy(_norm(fit_pca(x, 3, standardize=True)(x)), lab)
    assert out["val"]["mean_average_precision_at_r_level0"] == pytest.approx(direct["mean_average_precision_at_r"], abs=1e-12)
    # val against train: one projection fitted on both splits
    cross = _tester(accuracy_calculator=calc, pca=3).test(data, 1, torch.nn.Identity(), splits_to_eval=[("val", ["train"])])
    union = torch.cat([data["val"].embeddings, data["train"].embeddings])
    proj = fit_pca(union, 3, standardize=True)
    want = calc.get_accuracy(_norm(proj(x)), lab, _norm(proj(data["train"].embeddings)), data["train"].labels, False)
    assert cross["val"]["precision_at_1_level0"] == want["precision_at_1"]
    with pytest.raises(ValueError, match="pca=9"):
        _tester(accuracy_calculator=calc, pca=9).test(data, 1, torch.nn.Identity())


def test_get_all_embeddings_and_numpy() -> None:
    data = _dict(7)
    tester = _tester(normalize_embeddings=False)
    emb, lab = tester.get_all_embeddings(data["val"], torch.nn.Identity(), return_as_numpy=True)
    np.testing.assert_array_equal(emb, data["val"].embeddings.numpy())
    np.testing.assert_array_equal(lab[:, 0], data["val"].labels.numpy())
    assert lab.shape == (30, 1)


def test_dict_batches_label_mapping_and_hook() -> None:
    x, lab = _data(20, 4, 3, 8)

    class DictSet(torch.utils.data.Dataset):  # the 0.9-era dataset items
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return {"data": x[i], "label": lab[i] + 100}

    seen = {}

    def hook(tester):
        seen["keys"] = sorted(tester.embeddings_and_labels)
        seen["labels"] = tester.embeddings_and_labels["val"][1][:, 0].tolist()

    calc = AccuracyCalculator(include=("precision_at_1",))
    out = _tester(accuracy_calculator=calc, set_min_label_to_zero=True, dataset_labels=(lab + 100).numpy(), end_of_testing_hook=hook).test(
        {"val": DictSet()}, 1, torch.nn.Identity()
    )
    assert seen["keys"] == ["val"] and seen["labels"] == lab.tolist()
    assert out["val"]["precision_at_1_level0"] == calc.get_accuracy(_norm(x), lab)["precision_at_1"]


def _angles(degrees):
    r = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    return torch.tensor(np.stack([np.cos(r), np.sin(r)], axis=1), dtype=torch.float32)


def test_reference_set_of_seed_004_maps_onto_splits_to_eval() -> None:
    data = {
        "train": c_f.EmbeddingDataset(_angles([0, 10, 20, 30, 50, 60, 70, 80]), torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])),
        "val": c_f.EmbeddingDataset(_angles([1, 11, 21, 31, 51, 59, 71, 81]), torch.tensor([1, 1, 1, 1, 1, 0, 0, 0])),
    }
    calc = AccuracyCalculator(include=("precision_at_1",))
    expected = {  # hand-checked: every train point's nearest other point is the val point 1 degree away
        "compared_to_self": ({"train": 1.0, "val": 6 / 8}, [("train", ["train"]), ("val", ["val"])]),
        "compared_to_sets_combined": ({"train": 1 / 8, "val": 1 / 8}, [("train", ["train", "val"]), ("val", ["val", "train"])]),
        "compared_to_training_set": ({"train": 1.0, "val": 1 / 8}, [("train", ["train"]), ("val", ["train"])]),
    }
    for reference_set, (want, splits) in expected.items():
        with pytest.warns(FutureWarning, match="splits_to_eval"):
            tester = _tester(reference_set=reference_set, accuracy_calculator=calc)
        out = tester.test(data, 0, torch.nn.Identity())
        assert {k: out[k]["precision_at_1_level0"] for k in out} == pytest.approx(want)
        today = _tester(accuracy_calculator=calc).test(data, 0, torch.nn.Identity(), splits_to_eval=splits)
        assert {k: today[k]["precision_at_1_level0"] for k in today} == {k: out[k]["precision_at_1_level0"] for k in out}
    with pytest.raises(ValueError, match="reference_set"):
        _tester(reference_set="compared_to_everything")
    with pytest.warns(FutureWarning):  # 0.9's first positional argument
        positional = testers.GlobalEmbeddingSpaceTester("compared_to_sets_combined", dataloader_num_workers=0)
    assert positional.reference_set == "compared_to_sets_combined" and positional.normalize_embeddings is True
    with pytest.raises(TypeError, match="normalize_embeddings"):
        testers.GlobalEmbeddingSpaceTester("yes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(ValueError, match="'train' split"):
            _tester(reference_set="compared_to_training_set").test({"val": data["val"]}, 0, torch.nn.Identity())


def test_bad_configuration_errors() -> None:
    data = _dict(9)
    with pytest.raises(TypeError, match="metric_for_best_epoch.*primary_metric"):
        testers.GlobalEmbeddingSpaceTester(metric_for_best_epoch="NMI")
    with pytest.raises(TypeError, match="unexpected keyword"):
        testers.GlobalEmbeddingSpaceTester(no_such_argument=1)
    with pytest.raises(ValueError, match="more than once"):
        _tester().test(data, 1, torch.nn.Identity(), splits_to_eval=[("val", ["val"]), ("val", ["train"])])
    with pytest.raises(ValueError, match="not in dataset_dict"):
        _tester().test(data, 1, torch.nn.Identity(), splits_to_eval=[("test", ["test"])])
    with pytest.raises(ValueError, match="pca"):
        testers.GlobalEmbeddingSpaceTester(pca=-1)
    with pytest.raises(ValueError, match="empty"):
        _tester().test({"val": c_f.EmbeddingDataset(torch.zeros(0, 3), torch.zeros(0))}, 1, torch.nn.Identity())
    with pytest.raises(TypeError, match="fit_transform"):
        testers.GlobalEmbeddingSpaceTester(visualizer=object())


# -- visualisation ---------------------------------------------------------------------------
def test_plot_folder_writes_a_png_per_split(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    data = _dict(10)
    tester = _tester(accuracy_calculator=AccuracyCalculator(include=("precision_at_1",)), plot_folder=tmp_path, visualizer="pca")
    tester.test(data, 4, torch.nn.Identity())
    pngs = sorted(p.name for p in tmp_path.iterdir())
    assert pngs == ["train_embeddings_level0.png", "val_embeddings_level0.png"]
    for p in tmp_path.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tester.visualizer.last_method == "PCA"


def test_default_visualizer_with_plot_folder_is_auto(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    tester = _tester(plot_folder=tmp_path)
    assert isinstance(tester.visualizer, AutoVisualizer) and tester.visualizer.method == "auto"
    assert _tester().visualizer is None  # no folder, no projection (PML's default)
    xy = AutoVisualizer(method="tsne", tsne_iterations=250).fit_transform(np.random.default_rng(0).normal(size=(12, 4)))
    assert xy.shape == (12, 2) and np.isfinite(xy).all()


def test_custom_visualizer_hook_gets_pml_arguments() -> None:
    calls = []

    class Proj:  # anything with fit_transform, as in PML
        def fit_transform(self, x):
            return x[:, :2]

    def hook(visualizer, dim_reduced, labels, split_name, keyname, epoch):
        calls.append((type(visualizer).__name__, dim_reduced.shape, labels.shape, split_name, keyname, epoch))

    data = _dict(11)
    _tester(visualizer=Proj(), visualizer_hook=hook, accuracy_calculator=AccuracyCalculator(include=("precision_at_1",))).test(
        data, 2, torch.nn.Identity()
    )
    assert sorted(calls, key=lambda c: c[3]) == [
        ("Proj", (40, 2), (40,), "train", "Proj_level0", 2),
        ("Proj", (30, 2), (30,), "val", "Proj_level0", 2),
    ]


def test_failed_plot_write_keeps_the_previous_png(tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    data = {"val": _dict(12)["val"]}
    tester = _tester(plot_folder=tmp_path, visualizer="pca", accuracy_calculator=AccuracyCalculator(include=("precision_at_1",)))
    tester.test(data, 1, torch.nn.Identity())
    path = tmp_path / "val_embeddings_level0.png"
    before = path.read_bytes()

    def broken(self, f, **kw):
        f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        tester.test(data, 2, torch.nn.Identity())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["val_embeddings_level0.png"]


# -- PML's tester on the same data -----------------------------------------------------------
pml_testers = pytest.importorskip("pytorch_metric_learning.testers")
pml_ac = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")


def _both(cls_name: str, data, pml_kw=None, **kw):
    pml_kw = pml_kw or {}
    ours = getattr(testers, cls_name)(dataloader_num_workers=0, accuracy_calculator=AccuracyCalculator(include=KNN_METRICS, k="max_bin_count"), **kw)
    theirs = getattr(pml_testers, cls_name)(
        dataloader_num_workers=0,
        accuracy_calculator=pml_ac.AccuracyCalculator(include=KNN_METRICS, k="max_bin_count", device=torch.device("cpu")),
        data_device=torch.device("cpu"),
        **kw,
        **pml_kw,
    )
    return ours, theirs


def _close(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], float) and math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert a[k] == pytest.approx(b[k], abs=1e-6), k


@pytest.mark.parametrize("level", [0, "all"])
def test_global_tester_equals_pml(level) -> None:
    data = _dict(13, levels=2)
    ours, theirs = _both("GlobalEmbeddingSpaceTester", data, label_hierarchy_level=level)
    splits = [("train", ["train"]), ("val", ["train", "val"])]
    a = ours.test(data, 1, torch.nn.Identity(), splits_to_eval=[(q, list(r)) for q, r in splits])
    b = theirs.test(data, 1, torch.nn.Identity(), splits_to_eval=[(q, list(r)) for q, r in splits])
    for split in ("train", "val"):
        _close(dict(a[split]), dict(b[split]))


def test_pca_equals_pml() -> None:
    data = _dict(14)
    ours, theirs = _both("GlobalEmbeddingSpaceTester", data, pca=4)
    _close(dict(ours.test(data, 1, torch.nn.Identity())["val"]), dict(theirs.test(data, 1, torch.nn.Identity())["val"]))


def test_same_parent_and_two_stream_equal_pml() -> None:
    data = _dict(15, levels=2)
    ours, theirs = _both("WithSameParentLabelTester", data)
    _close(dict(ours.test(data, 1, torch.nn.Identity())["val"]), dict(theirs.test(data, 1, torch.nn.Identity())["val"]))
    ds = {"val": _two_stream(16)}
    ours, theirs = _both("GlobalTwoStreamEmbeddingSpaceTester", ds)
    _close(dict(ours.test(ds, 1, torch.nn.Identity())["val"]), dict(theirs.test(ds, 1, torch.nn.Identity())["val"]))
