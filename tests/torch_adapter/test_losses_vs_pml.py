"""Every catalogued loss against PML 2.9.0: same value and same gradients (float64).

Settings: no miner, a pair miner's output, a triplet miner's output, a separate reference
set. Learnable losses load PML's ``state_dict`` (the weights' gradients are compared too),
and PML loads ours.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from loss_catalogue import M, N, cases  # noqa: E402
from loss_helpers import assert_close, batch, build_pair, call, grads, mined  # noqa: E402

SETTINGS = ["plain", "pairs", "triplets", "ref"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _applies(case, setting):
    if setting in ("pairs", "triplets"):
        return case.tuples
    if setting == "ref":
        return case.ref and case.pml_ref
    return True


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("case", cases(where=lambda c: c.pml is not None))
def test_value_and_gradients_equal_pml(case, setting):
    if not _applies(case, setting):
        pytest.skip(f"{case.name} does not take the {setting!r} setting" + (f": {case.why}" if case.why else ""))
    ours, theirs = build_pair(case)
    x, y = batch(0, n=case.extra.get("n", N), case=case)
    r = ry = None
    if setting == "ref":
        r, ry = batch(1, n=M, case=case)
    tup = mined(setting, x.detach(), y, None if r is None else r.detach(), ry)
    v_ours = call(case, ours, x, y, tup, r, ry)
    v_pml = call(case, theirs, x, y, tup, r, ry)
    assert_close(v_ours, v_pml, case.rtol, f"{case.name}/{setting} value")
    wrt = [x] + ([r] if r is not None else [])
    params_ours = dict(ours.named_parameters())
    params_pml = dict(theirs.named_parameters())
    assert sorted(params_ours) == sorted(params_pml), "parameter names differ from PML's"
    names = sorted(params_ours)
    g_ours = grads(v_ours, *wrt, *[params_ours[k] for k in names])
    g_pml = grads(v_pml, *wrt, *[params_pml[k] for k in names])
    labels = ["embeddings"] + (["ref_emb"] if r is not None else []) + names
    for what, a, b in zip(labels, g_ours, g_pml):
        assert_close(a, b, max(case.rtol, 1e-6), f"{case.name}/{setting} gradient of {what}")


@pytest.mark.parametrize("case", cases(where=lambda c: c.learnable and c.pml is not None))
def test_state_dict_migrates_both_ways(case):
    torch.manual_seed(3)
    theirs = case.pml()
    ours = case.ours()
    ours.load_state_dict(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v)
    torch.manual_seed(4)
    fresh_pml = case.pml()
    fresh_pml.load_state_dict(ours.state_dict())
    for k, v in ours.state_dict().items():
        assert torch.equal(fresh_pml.state_dict()[k], v)
    for k, p in ours.named_parameters():
        assert p.dtype == dict(theirs.named_parameters())[k].dtype
        assert p.shape == dict(theirs.named_parameters())[k].shape
