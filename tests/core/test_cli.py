"""The ``agnostic-ml`` command line, run in-process through ``main([...])``.

Files are NumPy ``.npy`` arrays in ``tmp_path``; every command's output is compared with
calling the library directly on the same arrays. The CLI works on NumPy (``--device cpu``)
or CuPy (``--device cuda``), so these tests do not take the backend fixture; the library
calls behind them are tested on every backend elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agnostic_ml import cli
from agnostic_ml.cli import main
from helpers import run_cli as _run

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


def _batch(n=48, d=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = rng.standard_normal((classes, d))
    emb = centres[labels] + 0.8 * rng.standard_normal((n, d))
    return emb.astype(np.float32), labels.astype(np.int64)


def _save(tmp_path, **arrays):
    paths = {}
    for name, arr in arrays.items():
        p = tmp_path / f"{name}.npy"
        np.save(p, arr)
        paths[name] = str(p)
    return paths


@pytest.fixture
def files(tmp_path):
    emb, labels = _batch()
    ref, ref_labels = _batch(n=30, seed=1)
    return _save(tmp_path, emb=emb, labels=labels, ref=ref, ref_labels=ref_labels), (emb, labels, ref, ref_labels)


# --------------------------------------------------------------------------- parser basics


def test_help_and_version(capsys):
    code, out, _ = _run(capsys, ["--help"])
    assert code == 0
    for command in ("demo", "mine", "evaluate", "check-miner", "check-loss", "bench"):
        assert command in out
    code, out, _ = _run(capsys, ["--version"])
    assert code == 0 and out.strip().startswith("agnostic-ml ")


def test_no_command_prints_help_and_exits_2(capsys):
    code, _, err = _run(capsys, [])
    assert code == 2
    assert "usage:" in err


def test_parse_params_literals_strings_and_distances():
    from agnostic_ml.distances import CosineSimilarity, DotProductSimilarity, LpDistance, SNRDistance

    got = cli.parse_params(["margin=0.1", "type_of_triplets=semihard", "allowed_pos_range=(0, 1.5)",
                            "normalize=True", "name='x y'"])
    assert got == {"margin": 0.1, "type_of_triplets": "semihard", "allowed_pos_range": (0, 1.5),
                   "normalize": True, "name": "x y"}
    for text, cls in [("cosine", CosineSimilarity), ("lp", LpDistance), ("dot", DotProductSimilarity),
                      ("snr", SNRDistance), ("CosineSimilarity", CosineSimilarity)]:
        assert type(cli.parse_params([f"distance={text}"])["distance"]) is cls
    d = cli.parse_params(["distance=lp(p=1, power=2, normalize_embeddings=False)"])["distance"]
    assert isinstance(d, LpDistance) and d.p == 1 and d.power == 2 and d.normalize_embeddings is False


@pytest.mark.parametrize("bad", ["margin", "=3", "1x=2", "distance=manhattan", "distance=lp(1)",
                                 "distance=lp(p=x)", "distance=lp(bogus=1)"])
def test_parse_params_rejects_bad_items(bad):
    with pytest.raises(cli.CLIError):
        cli.parse_params([bad])


def test_find_miner_is_forgiving_about_spelling():
    from agnostic_ml.miners import MultiSimilarityMiner

    for name in ("MultiSimilarityMiner", "multisimilarityminer", "multi_similarity", "multi-similarity-miner"):
        assert cli.find_miner(name) is MultiSimilarityMiner


def test_available_miners_lists_the_exported_miner_classes():
    import agnostic_ml.miners as miners

    table = cli.available_miners()
    assert "BaseMiner" not in table
    for name in ("MultiSimilarityMiner", "TripletMarginMiner", "BatchHardMiner"):
        assert table[name] is getattr(miners, name)


# --------------------------------------------------------------------------- mine


MINE_CASES = [
    ("MultiSimilarityMiner", [], {}),
    ("MultiSimilarityMiner", ["epsilon=0.3", "distance=lp"], "lp"),
    ("TripletMarginMiner", ["margin=0.3", "type_of_triplets=semihard"], {"margin": 0.3, "type_of_triplets": "semihard"}),
    ("BatchHardMiner", [], {}),
    ("PairMarginMiner", ["pos_margin=0.3", "neg_margin=0.7"], {"pos_margin": 0.3, "neg_margin": 0.7}),
]


@pytest.mark.parametrize("name,params,kwargs", MINE_CASES)
def test_mine_writes_the_miner_output(tmp_path, capsys, files, name, params, kwargs):
    import agnostic_ml.miners as miners
    from agnostic_ml.distances import LpDistance

    paths, (emb, labels, _, _) = files
    out = tmp_path / "tuples.npz"
    argv = ["mine", "--miner", name, paths["emb"], paths["labels"], "-o", str(out)]
    for p in params:
        argv += ["--param", p]
    code, stdout, err = _run(capsys, argv)
    assert code == 0, err

    if kwargs == "lp":
        kwargs = {"epsilon": 0.3, "distance": LpDistance()}
    expected = getattr(miners, name)(**kwargs)(emb, labels)
    keys = ("a1", "p", "a2", "n") if len(expected) == 4 else ("a", "p", "n")
    with np.load(out) as got:
        assert sorted(got.files) == sorted(keys)
        for key, exp in zip(keys, expected):
            assert got[key].dtype == np.int64
            np.testing.assert_array_equal(got[key], np.asarray(exp))
    if len(expected) == 4:
        assert f"pairs: {len(expected[0])} positive, {len(expected[2])} negative" in stdout
    else:
        assert f"triplets: {len(expected[0])}" in stdout
    assert "wrote" in stdout and "tuples.npz" in stdout


def test_mine_with_a_reference_set(tmp_path, capsys, files):
    from agnostic_ml.miners import TripletMarginMiner

    paths, (emb, labels, ref, ref_labels) = files
    out = tmp_path / "t.npz"
    code, stdout, err = _run(capsys, ["mine", "--miner", "TripletMarginMiner", paths["emb"], paths["labels"],
                                      "--ref-emb", paths["ref"], "--ref-labels", paths["ref_labels"],
                                      "-o", str(out)])
    assert code == 0, err
    a, p, n = TripletMarginMiner()(emb, labels, ref, ref_labels)
    with np.load(out) as got:
        np.testing.assert_array_equal(got["a"], a)
        np.testing.assert_array_equal(got["p"], p)
        np.testing.assert_array_equal(got["n"], n)
        assert got["p"].max(initial=0) < len(ref) and got["a"].max(initial=0) < len(emb)
    assert "reference set" in stdout


def test_mine_seed_is_the_miners_rng(tmp_path, capsys, files):
    from agnostic_ml.miners import DistanceWeightedMiner

    paths, (emb, labels, _, _) = files
    outs = []
    for i in range(2):
        out = tmp_path / f"dw{i}.npz"
        code, stdout, err = _run(capsys, ["mine", "--miner", "DistanceWeightedMiner", "--seed", "3",
                                          paths["emb"], paths["labels"], "-o", str(out)])
        assert code == 0, err
        assert "rng seed 3" in stdout
        outs.append(out)
    expected = DistanceWeightedMiner(rng=3)(emb, labels)
    for out in outs:
        with np.load(out) as got:
            for key, exp in zip(("a", "p", "n"), expected):
                np.testing.assert_array_equal(got[key], exp)


def test_mine_without_output_only_prints(capsys, files):
    paths, _ = files
    code, stdout, _ = _run(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], paths["labels"]])
    assert code == 0
    assert "triplets: " in stdout and "wrote" not in stdout


def test_mine_empty_result_writes_empty_arrays(tmp_path, capsys):
    emb, _ = _batch(n=12)
    paths = _save(tmp_path, emb=emb, labels=np.arange(12))  # every label distinct: no positives
    out = tmp_path / "none.npz"
    code, stdout, err = _run(capsys, ["mine", "--miner", "MultiSimilarityMiner", paths["emb"], paths["labels"],
                                      "-o", str(out)])
    assert code == 0, err
    assert "pairs: 0 positive" in stdout
    with np.load(out) as got:
        assert got["a1"].shape == (0,) and got["a1"].dtype == np.int64


# --------------------------------------------------------------------------- mine: errors exit 2


def _assert_error(capsys, argv, *fragments):
    code, out, err = _run(capsys, argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, err
    return err


def test_unknown_miner_lists_available_ones(capsys, files):
    paths, _ = files
    err = _assert_error(capsys, ["mine", "--miner", "NoSuchMiner", paths["emb"], paths["labels"]],
                        "unknown miner 'NoSuchMiner'", "MultiSimilarityMiner", "BatchHardMiner")
    assert err.startswith("agnostic-ml mine: error:")


def test_unknown_parameter_is_a_clean_error(capsys, files):
    paths, _ = files
    _assert_error(capsys, ["mine", "--miner", "MultiSimilarityMiner", "--param", "margin=0.1",
                           paths["emb"], paths["labels"]], "MultiSimilarityMiner has no parameter margin", "epsilon")


def test_bad_parameter_value_is_a_clean_error(capsys, files):
    paths, _ = files
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", "--param", "distance=nope",
                           paths["emb"], paths["labels"]], "unknown distance 'nope'")
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", "--param", "collect_stats",
                           paths["emb"], paths["labels"]], "KEY=VALUE")
    _assert_error(capsys, ["mine", "--miner", "BatchEasyHardMiner", "--param", "pos_strategy='semihard'",
                           "--param", "neg_strategy='semihard'", paths["emb"], paths["labels"]],
                  "bad parameter for BatchEasyHardMiner")


def test_bad_files_are_clean_errors(tmp_path, capsys, files):
    paths, (emb, labels, _, _) = files
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", str(tmp_path / "missing.npy"), paths["labels"]],
                  "no such file")
    short = _save(tmp_path, short=labels[:-1], flat=emb[:, 0], text=np.array([["a", "b"], ["c", "d"]]))
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], short["short"]],
                  "labels has 47 entries but the embeddings have 48 rows")
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", short["flat"], paths["labels"]], "2-D")
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", short["text"], paths["labels"]], "numbers")
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], paths["labels"],
                           "--ref-emb", paths["ref"]], "--ref-emb and --ref-labels go together")
    nan = emb.copy()
    nan[3, 2] = np.nan
    bad = _save(tmp_path, nan=nan)
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", bad["nan"], paths["labels"]],
                  "embeddings has NaN or inf values in 1 row(s)", "first row 3")


def test_usage_errors_exit_2(capsys, files):
    paths, _ = files
    code, _, err = _run(capsys, ["mine", paths["emb"], paths["labels"]])  # --miner is required
    assert code == 2 and "--miner" in err
    code, _, err = _run(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], paths["labels"],
                                 "--device", "tpu"])
    assert code == 2 and "invalid choice" in err


def test_device_cuda_without_cupy_or_gpu_is_a_clean_error(capsys, files):
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a CUDA GPU is present: --device cuda works here")
    except Exception:
        pass
    paths, _ = files
    _assert_error(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], paths["labels"], "--device", "cuda"],
                  "--device cuda")


def test_device_cuda_mines_on_the_gpu(tmp_path, capsys, files):
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy sees no CUDA GPU")
    except Exception as exc:
        pytest.skip(f"no usable CUDA GPU: {exc}")
    from agnostic_ml.miners import BatchHardMiner

    paths, (emb, labels, _, _) = files
    out = tmp_path / "gpu.npz"
    code, _, err = _run(capsys, ["mine", "--miner", "BatchHardMiner", paths["emb"], paths["labels"],
                                 "--device", "cuda", "-o", str(out)])
    assert code == 0, err
    expected = BatchHardMiner()(emb, labels)
    with np.load(out) as got:
        for key, exp in zip(("a", "p", "n"), expected):
            np.testing.assert_array_equal(got[key], exp)


# --------------------------------------------------------------------------- evaluate


def _digits_subset(n=300, d=16):
    from agnostic_ml.datasets import load_digits, random_projection, standardize

    x, y = load_digits()
    return random_projection(standardize(x[:n]), d, rng=0), y[:n]


def test_evaluate_json_equals_accuracy_calculator(tmp_path, capsys):
    from agnostic_ml.accuracy import AccuracyCalculator

    emb, labels = _digits_subset()
    paths = _save(tmp_path, emb=emb, labels=labels)
    code, out, err = _run(capsys, ["evaluate", paths["emb"], paths["labels"], "--json", "--no-progress"])
    assert code == 0, err
    got = json.loads(out)
    expected = AccuracyCalculator(**_seed_kwargs(0)).get_accuracy(emb, labels)
    assert set(got) == set(expected)
    assert len(got) == 7
    for key, value in expected.items():
        assert isinstance(value, float)
        assert got[key] == pytest.approx(value, abs=1e-12, nan_ok=True)


def _seed_kwargs(seed):
    import inspect

    from agnostic_ml.accuracy import AccuracyCalculator

    params = inspect.signature(AccuracyCalculator).parameters
    return {"rng": seed} if "rng" in params else {}


def test_evaluate_table_with_reference_metrics_and_k(tmp_path, capsys):
    from agnostic_ml.accuracy import AccuracyCalculator

    emb, labels = _digits_subset(n=400)
    query, qlabels, ref, rlabels = emb[:100], labels[:100], emb[100:], labels[100:]
    paths = _save(tmp_path, q=query, ql=qlabels, r=ref, rl=rlabels)
    metrics = ["precision_at_1", "mean_average_precision_at_r"]
    code, out, err = _run(capsys, ["evaluate", paths["q"], paths["ql"], "--reference", paths["r"], paths["rl"],
                                   "--metrics", *metrics, "--k", "max_bin_count", "--no-progress"])
    assert code == 0, err
    expected = AccuracyCalculator(include=tuple(metrics), k="max_bin_count").get_accuracy(query, qlabels, ref, rlabels)
    assert set(expected) == set(metrics)
    lines = out.splitlines()
    assert "100 queries, 300 references" in lines[0]
    table = {line.split()[0]: line.split()[1] for line in lines[3:] if line.strip()}
    for m in metrics:
        assert table[m] == f"{expected[m]:.4f}"

    code, out, err = _run(capsys, ["evaluate", paths["q"], paths["ql"], "--reference", paths["r"], paths["rl"],
                                   "--metrics", "precision_at_1", "--k", "5", "--json", "--no-progress"])
    assert code == 0, err
    exp5 = AccuracyCalculator(include=("precision_at_1",), k=5).get_accuracy(query, qlabels, ref, rlabels)
    assert json.loads(out) == pytest.approx(exp5)


def test_evaluate_errors_exit_2(tmp_path, capsys):
    emb, labels = _digits_subset(n=60)
    paths = _save(tmp_path, emb=emb, labels=labels, other=np.zeros((5, 3), np.float32), ol=np.zeros(5))
    _assert_error(capsys, ["evaluate", paths["emb"], paths["labels"], "--metrics", "nonsense_metric"],
                  "agnostic-ml evaluate: error:", "nonsense_metric")
    _assert_error(capsys, ["evaluate", paths["emb"], paths["labels"], "--reference", paths["other"], paths["ol"]],
                  "dimension")
    _assert_error(capsys, ["evaluate", paths["emb"], paths["labels"], "--ref-includes-query"], "--reference")
    code, _, err = _run(capsys, ["evaluate", paths["emb"], paths["labels"], "--k", "zero"])
    assert code == 2 and "max_bin_count" in err


# --------------------------------------------------------------------------- demo


def test_demo_runs_on_bundled_digits(capsys):
    code, out, err = _run(capsys, ["demo", "--no-train", "--quick"])
    assert code == 0, err
    assert "1797 images" in out
    for name in ("MultiSimilarityMiner", "TripletMarginMiner", "BatchHardMiner"):
        assert name in out
    assert "pairs" in out and "triplets" in out
    for metric in ("precision_at_1", "r_precision", "mean_average_precision_at_r", "AMI", "NMI"):
        assert metric in out
    # leave-one-out precision@1 of raw digit pixels is high (0.98 on the --quick subset)
    row = next(line for line in out.splitlines() if line.startswith("precision_at_1"))
    values = [float(v) for v in row.split()[1:]]
    assert len(values) == 3 and values[0] > 0.9 and all(0 <= v <= 1 for v in values)


def test_demo_with_one_miner_and_params(capsys):
    code, out, err = _run(capsys, ["demo", "--no-train", "--quick", "--miner", "PairMarginMiner", "--param", "pos_margin=0.1",
                                   "--batch-size", "60", "--dim", "8"])
    assert code == 0, err
    assert "PairMarginMiner(pos_margin=0.1)" in out
    assert "MultiSimilarityMiner" not in out
    _assert_error(capsys, ["demo", "--no-train", "--dim", "65"], "at most 64")
    _assert_error(capsys, ["demo", "--param", "epsilon=1"], "--param needs --miner")


# --------------------------------------------------------------------------- check-miner


def test_check_miner_passes_for_a_library_miner(capsys):
    code, out, err = _run(capsys, ["check-miner", "BatchHardMiner", "--examples", "8"])
    assert code == 0, (out, err)
    assert "pass" in out and "FAIL" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["HardClusterMiner"],
        ["TripletMinerWithMemory", "--param", "bank_size_in_batches=2", "--param", "tri_expand_k=2"],
    ],
)
def test_check_miner_checks_extended_index_miners_against_their_extended_set(capsys, argv):
    """These miners index [batch; class centres or memory bank] by design; the check must use that set."""
    code, out, err = _run(capsys, ["check-miner", *argv, "--examples", "8"])
    assert code == 0, (out, err)
    assert "valid tuples, no reference set" in out and "FAIL" not in out


def test_check_miner_reports_a_violation_and_exits_1(capsys, monkeypatch):
    import agnostic_ml.miners as miners
    from agnostic_ml.miners import BaseMiner

    class SelfPairMiner(BaseMiner):
        """Broken on purpose: pairs every anchor with itself as a 'positive'."""

        def mine(self, embeddings, labels, ref_emb, ref_labels):
            from agnostic_ml._array_api import namespace_and_device

            xp, device = namespace_and_device(embeddings)
            idx = xp.arange(embeddings.shape[0], device=device)
            return idx, idx, idx, idx

    monkeypatch.setattr(miners, "SelfPairMiner", SelfPairMiner, raising=False)
    monkeypatch.setattr(miners, "__all__", [*miners.__all__, "SelfPairMiner"])
    code, out, err = _run(capsys, ["check-miner", "SelfPairMiner", "--examples", "5"])
    assert code == 1, (out, err)
    assert "FAIL" in out


# --------------------------------------------------------------------------- bench


def test_bench_runs_the_script_with_its_arguments(tmp_path, capsys, monkeypatch):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "bench_miners.py").write_text(
        "import sys\nprint('ARGS', sys.argv[1:])\nsys.exit(3)\n"
    )
    monkeypatch.setenv("AGNOSTIC_ML_BENCHMARKS", str(bench))
    code = main(["bench", "miners", "--sizes", "64", "128"])
    assert code == 3  # the script's exit code is passed on
    _, err = capsys.readouterr()
    assert "bench_miners.py" in err


def test_bench_outside_a_source_checkout_says_so(capsys, monkeypatch):
    from agnostic_ml.cli import bench as bench_command

    monkeypatch.setattr(bench_command, "find_benchmarks_dir", lambda: None)
    _assert_error(capsys, ["bench", "distances"], "source checkout")
    code, _, err = _run(capsys, ["bench", "nope"])
    assert code == 2 and "invalid choice" in err


def test_bench_finds_this_checkouts_benchmarks(monkeypatch):
    monkeypatch.delenv("AGNOSTIC_ML_BENCHMARKS", raising=False)
    folder = cli.find_benchmarks_dir()
    assert folder is not None and folder.resolve() == (REPO / "benchmarks").resolve()


# --------------------------------------------------------------------------- datasets


def test_load_digits_and_embeddings_are_deterministic():
    from agnostic_ml.datasets import l2_normalize, load_digits, pca_projection, random_projection, standardize

    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y).tolist()) == set(range(10))
    z = standardize(x)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-5)
    e1, e2 = random_projection(z, 16, rng=3), random_projection(z, 16, rng=3)
    np.testing.assert_array_equal(e1, e2)
    assert e1.shape == (1797, 16) and np.allclose(np.linalg.norm(e1, axis=1), 1, atol=1e-5)
    p = pca_projection(z, 10)
    assert p.shape == (1797, 10) and np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-5)
    assert np.allclose(l2_normalize(np.zeros((2, 3), np.float32)), 0)
    with pytest.raises(ValueError, match="dim"):
        random_projection(z, 0)
    with pytest.raises(TypeError, match="floating"):
        standardize(np.ones((3, 2), dtype=np.int64))


# --------------------------------------------------------------------------- subprocess smoke


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_python_dash_m_runs_without_importing_torch(tmp_path, files):
    paths, (emb, labels, _, _) = files
    out = tmp_path / "sub.npz"
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['agnostic-ml', 'mine', '--miner', 'BatchHardMiner', {paths['emb']!r}, {paths['labels']!r},"
        f" '-o', {str(out)!r}]\n"
        "try:\n"
        "    runpy.run_module('agnostic_ml.cli', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "bad = [m for m in ('torch', 'cupy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 0, res.stderr
    assert "triplets:" in res.stdout
    with np.load(out) as got:
        assert sorted(got.files) == ["a", "n", "p"]


def test_installed_console_script(tmp_path):
    script = Path(sys.executable).parent / ("agnostic-ml.exe" if os.name == "nt" else "agnostic-ml")
    if not script.exists():
        pytest.skip("the agnostic-ml console script is not installed in this environment (pip install -e .)")
    res = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "evaluate" in res.stdout
    res = subprocess.run([str(script), "mine", "--miner", "Nope", "x.npy", "y.npy"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "unknown miner" in res.stderr and "Traceback" not in res.stderr
