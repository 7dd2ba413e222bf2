"""``agnostic-ml check-miner`` on the user's own miners (``file.py:Class``, ``package.module:Class``).

The command is :func:`agnostic_ml.testing.property_test_miner` behind a command line, so
these tests check the command-line part: loading the class, ``--param``, ``--backend``,
``--examples``, ``--rule``, ``--calls``, the exit codes (0 pass, 1 a check fails with the
minimal failing batch, 2 a usage error in one line) and the printed report.
"""

from __future__ import annotations

import sys
import textwrap
import uuid

import pytest

from helpers import run_cli as _run

GOOD = '''
import array_api_compat
from agnostic_ml.miners import BaseMiner


class MarginPairMiner(BaseMiner):
    """Positive pairs with d > margin, negative pairs with d < margin."""

    def __init__(self, margin=0.5, **kwargs):
        super().__init__(**kwargs)
        self.margin = margin

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp = array_api_compat.array_namespace(embeddings)
        device = array_api_compat.device(embeddings)
        d = self.distance(embeddings, ref_emb)
        same = labels[:, None] == ref_labels[None, :]
        pos = same
        if ref_labels is labels:
            pos = xp.logical_and(same, xp.logical_not(xp.eye(labels.shape[0], dtype=xp.bool, device=device)))
        a1, p = xp.nonzero(xp.logical_and(pos, d > self.margin))
        a2, n = xp.nonzero(xp.logical_and(xp.logical_not(same), d < self.margin))
        return a1, p, a2, n


class KeepsSelfPairs(MarginPairMiner):
    """Broken: forgets the self-pair rule."""

    def mine(self, embeddings, labels, ref_emb, ref_labels):
        xp = array_api_compat.array_namespace(embeddings)
        d = self.distance(embeddings, ref_emb)
        same = labels[:, None] == ref_labels[None, :]
        a1, p = xp.nonzero(xp.logical_and(same, d >= 0))
        a2, n = xp.nonzero(xp.logical_and(xp.logical_not(same), d < self.margin))
        return a1, p, a2, n


def margin_rule(mat, t):
    return mat[t[0], t[1]] > 0.5, mat[t[2], t[3]] < 0.5


def wrong_rule(mat, t):
    return mat[t[0], t[1]] > 0.9, mat[t[2], t[3]] < 0.5
'''


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch):
    """Loading a user's file puts its folder on sys.path (as ``python file.py`` does): undo it after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def miner_file(tmp_path):
    path = tmp_path / "my_miners.py"
    path.write_text(GOOD)
    return path


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``pkg_<random>.miners`` in the current directory, importable as the user's code is."""
    name = f"pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "miners.py").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    yield name
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def test_a_miner_from_a_file_passes(capsys, miner_file):
    code, out, err = _run(capsys, ["check-miner", f"{miner_file}:MarginPairMiner", "--param", "margin=0.3",
                                   "--backend", "numpy", "--examples", "12"])
    assert code == 0, (out, err)
    assert out.startswith("MarginPairMiner(margin=0.3): 12 hypothesis batches on numpy;")
    assert "valid tuples, no reference set" in out and "FAIL" not in out
    assert out.rstrip().endswith("all invariants hold")


def test_a_miner_from_a_package_module_passes(capsys, package):
    pytest.importorskip("torch")
    code, out, err = _run(capsys, ["check-miner", f"{package}.miners:MarginPairMiner", "--backend", "numpy,torch",
                                   "--examples", "8"])
    assert code == 0, (out, err)
    assert "8 hypothesis batches on numpy, torch;" in out
    assert "same tuples on every backend" in out and "pass" in out


def test_a_broken_miner_exits_1_with_the_minimal_failing_batch(capsys, miner_file):
    code, out, err = _run(capsys, ["check-miner", f"{miner_file}:KeepsSelfPairs", "--backend", "numpy",
                                   "--examples", "100"])
    assert code == 1, (out, err)
    assert err == ""
    assert "valid tuples, no reference set                FAIL    on numpy: self pair" in out
    assert "minimal failing batch found by hypothesis" in out
    assert "pair an anchor with itself (a1 == p)" in out
    assert "embeddings = [" in out and "labels = [" in out and "mat[a1, p] = " in out
    assert "miner = KeepsSelfPairs()" in out and "check_miner(miner, embeddings, labels)" in out


def test_selection_rule_from_a_file(capsys, miner_file):
    code, out, err = _run(capsys, ["check-miner", f"{miner_file}:MarginPairMiner", "--rule",
                                   f"{miner_file}:margin_rule", "--backend", "numpy", "--examples", "15"])
    assert code == 0, (out, err)
    assert "the miner's selection rule holds for every tuple  pass" in out
    code, out, err = _run(capsys, ["check-miner", f"{miner_file}:MarginPairMiner", "--rule",
                                   f"{miner_file}:wrong_rule", "--backend", "numpy", "--examples", "100"])
    assert code == 1, (out, err)
    assert "check 'selection_rule'" in out and "condition=selection_rule" in out


def test_memory_miners_with_calls(capsys):
    code, out, err = _run(capsys, ["check-miner", "TripletMinerWithMemory", "--param", "bank_size_in_batches=2",
                                   "--param", "tri_expand_k=2", "--calls", "3", "--backend", "numpy",
                                   "--examples", "8"])
    assert code == 0, (out, err)
    assert "random miner" in out and "FAIL" not in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["{file}:NoSuchClass"], "has no 'NoSuchClass'; its classes: KeepsSelfPairs, MarginPairMiner"),
        (["{file}:MarginPairMiner", "--param", "margni=0.1"],
         "MarginPairMiner has no parameter margni; its parameters are: margin, collect_stats, distance"),
        (["{file}:MarginPairMiner", "--backend", "numpy,tpu"], "--backend: unknown backend 'tpu'"),
        (["{file}:MarginPairMiner", "--backend", ""], "--backend: no backend named"),
        (["{file}:MarginPairMiner", "--examples", "0"], "argument --examples: expected a positive integer, got '0'"),
        (["{file}:MarginPairMiner", "--rule", "{file}:nope"], "--rule '"),
        (["{folder}:Miner"], "is a directory, not a Python file"),
        (["{folder}/missing.py:Miner"], "no such file"),
        (["{file}"], "name the class too"),
        (["{file}:1bad"], "is not a Python name"),
        (["no_such_package_xyz.miners:Miner"], "no module named 'no_such_package_xyz'"),
        (["NoSuchMiner"], "unknown miner 'NoSuchMiner'; available miners: AllTripletsMiner"),
    ],
)
def test_usage_errors_exit_2_in_one_line(capsys, miner_file, argv, fragment):
    argv = [a.format(file=miner_file, folder=miner_file.parent) for a in argv]
    code, out, err = _run(capsys, ["check-miner", *argv])
    assert code == 2, (out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agnostic-ml check-miner: error: "), err
    assert fragment.format(file=miner_file) in lines[0], err


def test_a_named_gpu_backend_that_is_missing_is_a_usage_error(capsys, miner_file):
    from agnostic_ml.testing.backends import backend_status

    missing = [n for n, b in backend_status(["torch_cuda", "cupy"]).items() if not hasattr(b, "xp")]
    if not missing:
        pytest.skip("every GPU backend is available here")
    code, out, err = _run(capsys, ["check-miner", f"{miner_file}:MarginPairMiner", "--backend", missing[0]])
    assert code == 2 and f"backend {missing[0]} unavailable" in err and len(err.splitlines()) == 1


def test_errors_while_importing_the_users_file_are_reported(capsys, tmp_path):
    bad = tmp_path / "broken_syntax.py"
    bad.write_text("def oops(:\n")
    code, _, err = _run(capsys, ["check-miner", f"{bad}:Miner"])
    assert code == 2 and "importing" in err and "SyntaxError" in err and len(err.splitlines()) == 1
    boom = tmp_path / "raises_on_import.py"
    boom.write_text("raise RuntimeError('no GPU here')\n")
    code, _, err = _run(capsys, ["check-miner", f"{boom}:Miner"])
    assert code == 2 and "RuntimeError: no GPU here" in err


def test_the_users_file_can_import_its_neighbours(capsys, tmp_path):
    (tmp_path / "helpers_for_miner.py").write_text(GOOD)
    (tmp_path / "entry.py").write_text(textwrap.dedent("""
        from helpers_for_miner import MarginPairMiner as Exported
    """))
    code, out, err = _run(capsys, ["check-miner", f"{tmp_path / 'entry.py'}:Exported", "--backend", "numpy",
                                   "--examples", "5"])
    assert code == 0, (out, err)
    sys.modules.pop("helpers_for_miner", None)


def test_without_hypothesis_the_command_says_what_to_install(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"  # as if it were not installed
        "from agnostic_ml.cli import main\n"
        "sys.exit(main(['check-miner', 'BatchHardMiner']))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == ("agnostic-ml check-miner: error: check-miner draws its batches with hypothesis, "
                                  "which is not installed: pip install 'agnostic-ml[testing]'")
