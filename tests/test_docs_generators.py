"""The generated parts of the docs: backend table (and the pytest record it reads), PML names, plots.

See ``docs/_hooks`` (run by ``mkdocs build``) and ``benchmarks/plot.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "docs" / "_hooks"
for _p in (str(HOOKS), str(ROOT / "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

backend_table = importlib.import_module("backend_table")
pml_table = importlib.import_module("pml_table")
state_table = importlib.import_module("state_table")
loss_catalogue_table = importlib.import_module("loss_catalogue_table")


# ------------------------------------------------------------------------------------------
# backend table
# ------------------------------------------------------------------------------------------
def _record(tests: dict, backends: list[str]) -> dict:
    return {"format": "agnostic-ml backend record 1", "created": "now", "python": "3", "platform": "p",
            "args": ["tests"], "exitstatus": 0, "backends": backends, "tests": tests}


def test_backend_table_without_a_record_says_not_run(tmp_path: Path) -> None:
    md = backend_table.render(root=str(tmp_path))
    rows = [ln for ln in md.splitlines() if ln.startswith("| [")]
    assert len(rows) == len(backend_table.COMPONENTS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert cells and all(c == "not run" for c in cells), row
    assert "no test record was found" in md
    assert "tested" not in md


def test_backend_table_cells_follow_the_record() -> None:
    tests = {
        "tests/core/test_distances.py::t[numpy-float32]": {"backend": "numpy", "outcome": "passed"},
        "tests/core/test_distances.py::t[numpy-float64]": {"backend": "numpy", "outcome": "passed"},
        "tests/core/test_distances.py::t[cupy-float32]": {"backend": "cupy", "outcome": "skipped", "reason": "no cupy"},
        "tests/core/test_distances.py::t[torch-float32]": {"backend": "torch", "outcome": "failed"},
        "tests/core/test_distances.py::t[torch-float64]": {"backend": "torch", "outcome": "passed"},
        "tests/core/test_distances.py::t[array_api_strict_strictest]": {"backend": "array_api_strict_strictest", "outcome": "skipped", "reason": "no data-dependent shapes"},
        "tests/core/test_pair_miners.py::m[jax]": {"backend": "jax", "outcome": "passed"},
        "tests/core/test_accuracy_dask.py::d": {"backend": "dask", "outcome": "passed"},
        "tests/core/test_other.py::x[numpy]": {"backend": "numpy", "outcome": "passed"},
        "tests/test_import_hygiene.py::h": {"backend": None, "outcome": "passed"},
    }
    md = backend_table.render([_record(tests, ["numpy", "torch", "cupy", "array_api_strict_strictest", "jax", "dask"])], root=str(ROOT))
    header = md.splitlines()[0]
    assert "NumPy" in header and "CuPy" in header and "| jax |" in header  # unknown backends get a column
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")][1:] for ln in md.splitlines() if ln.startswith("| [")}
    cols = [c.strip() for c in header.strip("|").split("|")][1:]
    dist = dict(zip(cols, rows["[Distances](api/distances.md)"]))
    assert dist["NumPy"] == "tested (2)"
    assert dist["CuPy"] == "skipped (no GPU)"
    assert dist["torch CPU"] == "**failed** (1 of 2)"
    assert dist["torch CUDA"] == "no tests"
    assert dist["array-api-strict (strictest)"] == "skipped (no data-dependent shapes)"
    miners = dict(zip(cols, rows["[Miners](api/miners.md)"]))
    assert miners["jax"] == "tested (1)" and miners["NumPy"] == "no tests"
    acc = dict(zip(cols, rows["[Accuracy](api/accuracy.md)"]))
    assert acc["Dask"] == "tested (1)"
    assert "`tests/core/test_other.py`" in md  # backend tests of no component are named, not dropped


def test_backend_record_plugin_end_to_end(tmp_path: Path) -> None:
    """Run pytest with the recording plugin on a tiny backend-parametrised suite, then render."""
    (tmp_path / "test_distances_fake.py").write_text(textwrap.dedent(
        """
        import pytest

        class Backend:
            def __init__(self, name):
                self.name = name

        @pytest.fixture(params=["numpy", "torch_cuda"])
        def backend(request):
            if request.param == "torch_cuda":
                pytest.skip("backend torch_cuda unavailable: no GPU")
            return Backend(request.param)

        def test_distances_ok(backend):
            assert backend.name == "numpy"

        @pytest.mark.parametrize("backend", [Backend("numpy"), Backend("array_api_strict")])
        def test_distances_direct(backend):
            assert backend.name != "array_api_strict"

        def test_distances_plain():
            pass
        """
    ))
    out = tmp_path / "rec" / "backends.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_record_backends",
         "--record-backends", str(out), "test_distances_fake.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one test fails on purpose
    rec = json.loads(out.read_text())
    assert rec["backends"] == ["numpy", "torch_cuda", "array_api_strict"]
    t = rec["tests"]
    assert t["test_distances_fake.py::test_distances_ok[numpy]"] == {"backend": "numpy", "outcome": "passed"}
    assert t["test_distances_fake.py::test_distances_ok[torch_cuda]"]["outcome"] == "skipped"
    assert "no GPU" in t["test_distances_fake.py::test_distances_ok[torch_cuda]"]["reason"]
    assert t["test_distances_fake.py::test_distances_direct[backend1]"] == {"backend": "array_api_strict", "outcome": "failed"}
    assert t["test_distances_fake.py::test_distances_plain"] == {"backend": None, "outcome": "passed"}
    assert rec["exitstatus"] == 1
    # the file names match the distances component's pattern
    md = backend_table.render([rec])
    row = next(ln for ln in md.splitlines() if "Distances" in ln)
    assert "tested (2)" in row and "skipped (no GPU)" in row and "**failed** (1 of 1)" in row


def _record_backends_module() -> types.ModuleType:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        return importlib.import_module("_record_backends")
    finally:
        sys.path.remove(str(ROOT / "tests"))


def test_backend_of_reads_backend_parameters_and_the_torch_adapter_import() -> None:
    rb = _record_backends_module()

    def item(params: dict | None = None, **module_vars: object) -> types.SimpleNamespace:
        module = types.ModuleType("test_fake")
        for k, v in module_vars.items():
            setattr(module, k, v)
        callspec = types.SimpleNamespace(params=params) if params is not None else None
        return types.SimpleNamespace(callspec=callspec, module=module)

    adapter_losses = types.ModuleType("agnostic_ml_torch.losses")
    sampler_cls = type("MPerClassSampler", (), {"__module__": "agnostic_ml_torch.samplers.m_per_class_sampler"})
    assert rb.backend_of(item({"backend_name": "array_api_strict", "case": "x"})) == "array_api_strict"
    assert rb.backend_of(item({"case": "x"}, losses=adapter_losses)) == "torch"  # adapter tests: torch CPU
    assert rb.backend_of(item(None, MPerClassSampler=sampler_cls)) == "torch"  # a name imported from it
    # a backend parameter wins over the module's imports (the core losses on other backends)
    assert rb.backend_of(item({"backend_name": "numpy"}, losses=adapter_losses)) == "numpy"
    assert rb.backend_of(item(None, dask=types.ModuleType("dask"))) == "dask"
    assert rb.backend_of(item(None, np=types.ModuleType("numpy"), f=len)) is None


def test_new_components_attribute_their_tests() -> None:
    expected = {
        "tests/core/test_regularizers.py::t[numpy]": "Regularizers",
        "tests/torch_adapter/test_regularizers_vs_pml.py::t": "Regularizers",
        "tests/torch_adapter/test_losses_contract.py::test_core_loss_same_value_on_other_backends[a-numpy]": "Losses",
        "tests/torch_adapter/test_losses_vs_pml.py::t": "Losses",
        "tests/torch_adapter/test_classification_losses.py::t": "Losses",
        "tests/torch_adapter/test_loss_wrappers.py::t": "Losses",
        "tests/torch_adapter/test_triplet_margin_loss.py::t": "Losses",
        "tests/core/test_pair_loss_math.py::t[numpy]": "Losses",
        "tests/torch_adapter/test_samplers.py::t": "Samplers",
        "tests/pml/test_samplers_vs_pml.py::t": "Samplers",
        "tests/torch_adapter/test_distributed.py::t": "Distributed",
        "tests/torch_adapter/test_distance_gradcheck.py::t": "Distances",
        "tests/torch_adapter/test_reducer_gradcheck.py::t": "Reducers",
        "tests/torch_adapter/test_shells.py::t": "Torch adapter shells",
        "tests/torch_adapter/test_check_loss.py::t": "Testing kit",  # the kit's loss checks, not the losses
        "tests/core/test_legacy_miners.py::t[numpy]": "Miners",
        "tests/core/test_miner_contract.py::t[numpy]": "Miners",
        "tests/property/test_miner_contract_properties.py::t[numpy]": "Miners",
        "tests/core/test_cli_check_miner.py::t": "Command line",
    }
    got = {nodeid: backend_table.component_of(nodeid) for nodeid in expected}
    assert got == expected


def test_backend_record_is_off_without_the_option() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        rb = importlib.import_module("_record_backends")
    finally:
        sys.path.remove(str(ROOT / "tests"))

    class PluginManager:
        def __init__(self) -> None:
            self.registered: list[str] = []

        def register(self, plugin: object, name: str) -> None:
            self.registered.append(name)

    class Config:
        pluginmanager = PluginManager()

        def getoption(self, name: str, default: object = None) -> object:
            return None

    config = Config()
    rb.pytest_configure(config)  # type: ignore[arg-type]
    assert config.pluginmanager.registered == []


# ------------------------------------------------------------------------------------------
# PML names
# ------------------------------------------------------------------------------------------
def test_pml_snapshot_equals_the_installed_package() -> None:
    pml = pytest.importorskip("pytorch_metric_learning")
    if pml.__version__ != pml_table.PML_VERSION:
        pytest.skip(f"PML {pml.__version__} installed, snapshot is of {pml_table.PML_VERSION}")
    snap = json.loads(Path(pml_table.SNAPSHOT).read_text())
    assert snap["version"] == pml_table.PML_VERSION
    assert snap["modules"] == pml_table.pml_names_live()
    names = {n for ns in snap["modules"].values() for n in ns}
    assert {"TripletMarginMiner", "ContrastiveLoss", "AccuracyCalculator", "MPerClassSampler"} <= names
    assert len(names) > 200


def _fake(name: str, **attrs: object) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__all__ = list(attrs)
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def test_lookup_rules() -> None:
    class Thing:  # a public class
        pass

    ours = pml_table.Ours(modules={
        "agnostic_ml.miners": _fake("agnostic_ml.miners", BatchHardMiner=Thing),
        "agnostic_ml.accuracy": _fake("agnostic_ml.accuracy", KMeans=Thing),
        "agnostic_ml.elsewhere": _fake("agnostic_ml.elsewhere", pos_inf=Thing),
    })
    assert pml_table.lookup("miners", "BatchHardMiner", ours).status == "same name"
    assert pml_table.lookup("miners", "BatchHardMiner", ours).where == ["agnostic_ml.miners.BatchHardMiner"]
    assert pml_table.lookup("miners", "HDCMiner", ours).status == "not yet"
    renamed = pml_table.lookup("utils.inference", "FaissKMeans", ours)
    assert (renamed.status, renamed.where) == ("renamed", ["agnostic_ml.accuracy.KMeans"])
    found = pml_table.lookup("utils.common_functions", "pos_inf", ours)  # found outside the candidates
    assert found.where == ["agnostic_ml.elsewhere.pos_inf"]
    ours.missing_packages["agnostic_ml_torch"] = "ImportError: no torch"
    assert pml_table.lookup("losses", "ContrastiveLoss", ours).status == "unknown"


def test_names_without_all_count_only_where_defined() -> None:
    mod = types.ModuleType("agnostic_ml.x")
    mod.to_numpy = pml_table.pml_names  # imported from elsewhere: not offered by agnostic_ml.x
    assert not pml_table._has(mod, "to_numpy")


def test_pml_table_on_the_real_packages() -> None:
    rows, source, ours = pml_table.rows()
    by_name = {(r.pml_module, r.name): r for r in rows}
    import agnostic_ml.distances
    import agnostic_ml.miners
    import agnostic_ml.reducers

    for mod in (agnostic_ml.distances, agnostic_ml.miners, agnostic_ml.reducers):
        short = mod.__name__.split(".")[-1]
        for name in mod.__all__:
            r = by_name.get((short, name))
            if r is not None:  # a PML name: it must be found where we export it
                assert r.status == "same name" and f"{mod.__name__}.{name}" in r.where, r
    # the core class, also served at PML's path by the torch adapter when it imports
    assert "agnostic_ml.accuracy.AccuracyCalculator" in by_name[("utils.accuracy_calculator", "AccuracyCalculator")].where
    md = pml_table.render_table((rows, source, ours)) + pml_table.render_summary((rows, source, ours))
    assert md.count("| `") >= len(rows)
    assert f"of {len(rows)} PML names are here" in md


# ------------------------------------------------------------------------------------------
# the hook
# ------------------------------------------------------------------------------------------
def test_hook_expands_known_markers_and_rejects_unknown_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mkdocs")
    generate = importlib.import_module("generate")
    monkeypatch.setitem(generate.GENERATORS, "x-test", lambda: "| a |\n")
    assert generate.expand("before\n<!-- generated: x-test -->\nafter") == "before\n| a |\nafter"
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="unknown generated block"):
        generate.expand("<!-- generated: no-such-table -->", "page.md")
    assert generate.on_page_content("see :class:<code>BaseMiner</code>") == "see <code>BaseMiner</code>"


def test_every_marker_in_the_pages_has_a_generator() -> None:
    pytest.importorskip("mkdocs")
    generate = importlib.import_module("generate")
    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        used |= set(re.findall(r"^<!-- generated: ([a-z0-9-]+) -->", page.read_text(), re.M))
    assert used and used <= set(generate.GENERATORS)
    assert {"pml-names", "backend-table", "bench-miners-scaling", "loss-parameters", "module-state",
            "loss-capabilities", "loss-test-differences"} <= used


# ------------------------------------------------------------------------------------------
# state_dict tables and the loss catalogue tables
# ------------------------------------------------------------------------------------------
def test_state_table_covers_every_stateful_class_and_loads_pml_checkpoints() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_metric_learning")
    from agnostic_ml_torch import losses, miners

    found = {name for _, name in state_table.stateful_classes(losses, miners)}
    assert {"ArcFaceLoss", "ProxyAnchorLoss", "SoftTripleLoss", "MarginLoss", "CrossBatchMemory",
            "DynamicSoftMarginLoss", "TripletMinerWithMemory", "MinerWithBank"} <= found
    assert found <= set(state_table.BUILDS)
    rows, note = state_table.rows()
    by_name = {r.name: r for r in rows}
    arcface = by_name["ArcFaceLoss"]
    assert [(e.key, e.kind, e.shape, e.dtype) for e in arcface.entries] == [("W", "parameter", "(5, 3)", "float32")]
    assert arcface.learnable and arcface.pml_to_ours == arcface.ours_to_pml == "yes"
    xbm = by_name["CrossBatchMemory"]
    assert not xbm.learnable and {e.kind for e in xbm.entries} == {"buffer", "extra state"}
    assert xbm.pml_to_ours == "yes" and xbm.ours_to_pml.startswith("with `strict=False`")
    assert by_name["TripletMinerWithMemory"].pml_to_ours == "not in PML"
    params, state = state_table.render_parameters((rows, note)), state_table.render_state((rows, note))
    assert "`W`: parameter, (5, 3), float32" in params and "CrossBatchMemory" not in params
    assert "`hist_`: buffer, (10,), float32" in state and "ArcFaceLoss" not in state


def test_state_table_refuses_a_stateful_class_without_a_build(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.delitem(state_table.BUILDS, "ProxyAnchorLoss")
    with pytest.raises(RuntimeError, match="ProxyAnchorLoss"):
        state_table.rows()


def test_loss_catalogue_tables_list_every_loss() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_metric_learning")
    from agnostic_ml_torch import losses

    md = loss_catalogue_table.render_capabilities()
    exported = {n for n in losses.__all__ if not n.startswith("Base") and not n.endswith("Mixin") and n != "GenericPairLoss"}
    listed = set(re.findall(r"\[`(\w+)`\]\[agnostic_ml\.losses\.\1\]", md))
    assert listed == exported
    diffs = loss_catalogue_table.render_differences()
    cases, _ = loss_catalogue_table.catalogue()
    assert diffs.count("\n| `") == sum(1 for c in cases if c.why)


# ------------------------------------------------------------------------------------------
# benchmark plots
# ------------------------------------------------------------------------------------------
def test_benchmark_tables_and_plots_come_from_the_committed_results(tmp_path: Path) -> None:
    plot = importlib.import_module("plot")
    for name in plot.LOADERS:
        data = ROOT / "docs" / "data" / f"bench-{name}.json"
        assert data.exists(), data
        assert (ROOT / "docs" / "img" / f"bench-{name}.png").exists(), f"run python benchmarks/plot.py for {name}"
        run = plot.load(name)
        assert run.panels and all(p.times["PML"] and p.times["ours (NumPy)"] and p.times["limit"] for p in run.panels)
        md = plot.render_markdown(name)
        assert all(f"**{p.name}**" in md for p in run.panels) and run.command in md
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    for img in re.findall(r"\]\((img/[^)]+\.png)\)", text):
        assert (ROOT / "docs" / img).exists(), img
    pytest.importorskip("matplotlib")
    out = tmp_path / "m.png"
    plot.plot(plot.load("miners-scaling"), str(out), "t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
