"""The command line's reliability rules.

- Every usage error is one readable line on stderr and exit code 2 (no argparse usage
  block); a folder given where a file is expected is reported as a folder.
- Outputs (``mine -o``, ``evaluate -o``) are checked before the work and written
  atomically: a write that fails part way (a file-size limit) or a process killed while
  writing leaves the previous good file intact and no file of the final name half-written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import run_cli as _run, sigkill_when_writing

REPO = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals and resource limits")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 4
    emb = (rng.standard_normal((4, 8))[labels] + 0.5 * rng.standard_normal((60, 8))).astype(np.float32)
    paths = {}
    for name, arr in {"emb": emb, "labels": labels}.items():
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], arr)
    (tmp_path / "folder").mkdir()
    paths["folder"] = str(tmp_path / "folder")
    return paths


def _one_line_error(err, prog):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), err
    assert "usage:" not in err and "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "argv, prog, fragment",
    [
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "--device", "tpu"], "agnostic-ml mine",
         "argument --device: invalid choice: 'tpu'"),
        (["evaluate", "{emb}", "{labels}", "--k", "0"], "agnostic-ml evaluate",
         "argument --k: expected a positive integer or 'max_bin_count', got '0'"),
        (["evaluate", "{emb}", "{labels}", "--batch-size", "-3"], "agnostic-ml evaluate",
         "argument --batch-size: expected a positive integer, got '-3'"),
        (["mine", "{emb}", "{labels}"], "agnostic-ml mine", "the following arguments are required: --miner"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "--seed", "x"], "agnostic-ml mine",
         "argument --seed: invalid int value: 'x'"),
        (["demo", "--dim", "0"], "agnostic-ml demo", "argument --dim: expected a positive integer, got '0'"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "--bogus"], "agnostic-ml",
         "unrecognized arguments: --bogus"),
        (["frobnicate"], "agnostic-ml", "argument COMMAND: invalid choice: 'frobnicate'"),
        (["bench", "nope"], "agnostic-ml bench", "invalid choice: 'nope'"),
        (["check-miner", "BatchHardMiner", "--examples", "many"], "agnostic-ml check-miner",
         "argument --examples: expected a positive integer, got 'many'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(capsys, files, argv, prog, fragment):
    code, out, err = _run(capsys, [a.format(**files) for a in argv])
    assert code == 2 and out == ""
    line = _one_line_error(err, prog)
    assert fragment in line, line
    assert line.endswith("--help')"), line  # where to read more


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["mine", "--miner", "BatchHardMiner", "{folder}", "{labels}"], "embeddings: '{folder}' is a directory"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{folder}"], "labels: '{folder}' is a directory"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "--ref-emb", "{folder}", "--ref-labels",
          "{labels}"], "--ref-emb: '{folder}' is a directory"),
        (["evaluate", "{folder}", "{labels}"], "query: '{folder}' is a directory"),
        (["evaluate", "{emb}", "{labels}", "--reference", "{emb}", "{folder}"],
         "--reference labels: '{folder}' is a directory"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "-o", "{folder}"],
         "-o: '{folder}' is a directory; give a file name"),
        (["mine", "--miner", "BatchHardMiner", "{emb}", "{labels}", "-o", "{folder}/"],
         "-o: '{folder}/' is a directory; give a file name"),
        (["evaluate", "{emb}", "{labels}", "-o", "{folder}"], "-o: '{folder}' is a directory"),
        (["mine", "--miner", "BatchHardMiner", "{folder}/missing.npy", "{labels}"], "no such file"),
    ],
)
def test_a_folder_given_as_a_file_is_reported_as_a_folder(capsys, files, argv, fragment):
    code, out, err = _run(capsys, [a.format(**files) for a in argv])
    assert code == 2
    line = _one_line_error(err, f"agnostic-ml {argv[0]}")
    assert fragment.format(**files) in line, line


# --------------------------------------------------------------------------- outputs checked first


def test_output_folder_is_checked_before_mining(capsys, files, monkeypatch):
    import agnostic_ml.cli.mine as mine_command

    def must_not_load(*args, **kwargs):
        raise AssertionError("the inputs were loaded although the output cannot be written")

    monkeypatch.setattr(mine_command, "load_embeddings", must_not_load)
    code, _, err = _run(capsys, ["mine", "--miner", "BatchHardMiner", files["emb"], files["labels"],
                                 "-o", f"{files['folder']}/no/such/dir/t.npz"])
    assert code == 2
    assert "-o: folder '" in err and "no/such/dir' does not exist" in err


def test_evaluate_output_is_checked_before_computing(capsys, files, monkeypatch):
    import agnostic_ml.cli.evaluate as evaluate_command

    monkeypatch.setattr(evaluate_command, "load_embeddings", lambda *a, **k: pytest.fail("loaded the inputs"))
    code, _, err = _run(capsys, ["evaluate", files["emb"], files["labels"], "--no-progress",
                                 "-o", f"{files['folder']}/missing/m.json"])
    assert code == 2 and "does not exist" in err


def test_evaluate_writes_the_json_it_prints(capsys, files, tmp_path):
    out_file = tmp_path / "metrics.json"
    out_file.write_text("old")
    code, out, err = _run(capsys, ["evaluate", files["emb"], files["labels"], "--metrics", "precision_at_1",
                                   "r_precision", "--json", "--no-progress", "-o", str(out_file)])
    assert code == 0, err
    assert json.loads(out_file.read_text()) == json.loads(out)
    code, out, err = _run(capsys, ["evaluate", files["emb"], files["labels"], "--metrics", "precision_at_1",
                                   "--no-progress", "-o", str(out_file)])
    assert code == 0, err
    assert f"wrote {out_file}" in out and list(json.loads(out_file.read_text())) == ["precision_at_1"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_mine_replaces_an_earlier_file_completely(capsys, files, tmp_path):
    out = tmp_path / "t.npz"
    out.write_bytes(b"an earlier file")
    code, stdout, err = _run(capsys, ["mine", "--miner", "BatchHardMiner", files["emb"], files["labels"], "-o", str(out)])
    assert code == 0, err
    with np.load(out) as got:
        assert sorted(got.files) == ["a", "n", "p"] and got["a"].shape == (60,)
    code, stdout, err = _run(capsys, ["mine", "--miner", "BatchHardMiner", files["emb"], files["labels"],
                                      "-o", str(tmp_path / "no_suffix")])
    assert code == 0 and (tmp_path / "no_suffix.npz").is_file()  # numpy.savez's suffix rule is kept
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


# --------------------------------------------------------------------------- faults while writing


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture
def big_mine(tmp_path):
    """Inputs whose AllTripletsMiner output is ~6 MB, and an earlier good output file."""
    labels = np.arange(120) % 2
    emb = np.random.default_rng(1).standard_normal((120, 4)).astype(np.float32)
    np.save(tmp_path / "e.npy", emb)
    np.save(tmp_path / "l.npy", labels)
    out = tmp_path / "t.npz"
    np.savez(out, a=np.arange(3), p=np.arange(3), n=np.arange(3))
    argv = ["mine", "--miner", "AllTripletsMiner", str(tmp_path / "e.npy"), str(tmp_path / "l.npy"), "-o", str(out)]
    return argv, out, out.read_bytes()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in {"e.npy", "l.npy", "t.npz"})


@posix_only
def test_mine_output_that_hits_a_file_size_limit_keeps_the_old_file(big_mine):
    argv, out, before = big_mine
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n"  # 1 MiB, the output is ~6 MB
        "from agnostic_ml.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert res.returncode == 2, (res.stdout, res.stderr)
    line = _one_line_error(res.stderr, "agnostic-ml mine")
    assert f"-o: cannot write '{out}' (File too large); it is unchanged" in line, line
    assert out.read_bytes() == before
    assert _leftovers(out.parent) == []


@posix_only
def test_mine_killed_while_writing_keeps_the_old_file(big_mine):
    """SIGKILL while ``numpy.savez`` is half-way through the output."""
    argv, out, before = big_mine
    code = (
        "import sys, time, numpy as np\n"
        "real_savez = np.savez\n"
        "def slow_savez(f, **arrays):\n"
        "    f.write(b'PK' + b'\\0' * 65536)\n"  # a first part of the file ...
        "    f.flush(); print('writing', flush=True)\n"
        "    time.sleep(60)\n"  # ... and the kill comes before the rest
        "    real_savez(f, **arrays)\n"
        "np.savez = slow_savez\n"
        "from agnostic_ml.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    sigkill_when_writing(proc)
    assert out.read_bytes() == before
    left = _leftovers(out.parent)
    # no half-written t.npz; at most the hidden temporary file of the named fallback (none with O_TMPFILE)
    assert all(name.startswith(".t.npz.") and name.endswith(".tmp") for name in left), left
    assert len(left) <= 1
