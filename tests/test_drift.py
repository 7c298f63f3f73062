"""nint_lite.beyond.drift: the drift measures against an explicitly built kernel, and the CLI."""
import json
import math

import numpy as np
import pytest
import torch

import nint_lite as nl
from nint_lite.beyond import drift


@pytest.fixture(scope="module")
def case():
    """A 5×5 two-channel image, a small SIREN trained a few steps (N·C = 50 rows of K)."""
    g = torch.Generator().manual_seed(0)
    base = nl.sample_signal("camera", size=5)
    sig = nl.Signal(base.coords, torch.rand(base.n, 2, generator=g), base.shape, name="two")
    model = nl.make_model("siren", sig, hidden=16, layers=2, seed=0)
    nl.fit(model, sig, steps=5, lr=1e-4, progress=False)
    return model, sig


def _explicit(model, sig):
    """K as an (N·C)×(N·C) matrix from ntk.matrix's (N, N, C, C) blocks, eigenpairs by numpy."""
    blocks = nl.ntk.matrix(model, sig.coords).double()
    n, _, c, _ = blocks.shape
    K = blocks.permute(0, 2, 1, 3).reshape(n * c, n * c).numpy()     # row i·C + a, column j·C + b
    with torch.no_grad():
        f = model(sig.coords).double().reshape(-1).numpy()
    r = f - sig.values.double().reshape(-1).numpy()
    lam, vec = np.linalg.eigh(K)
    phi1 = vec[:, -1] * np.sign(vec[:, -1] @ f)
    return K, f, r, lam[::-1], phi1


def test_measures_match_explicit_kernel(case):
    model, sig = case
    K, f, r, lam, phi1 = _explicit(model, sig)
    m = drift.measure(model, sig.coords, sig.values)
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    kr = K @ r
    assert m["cos_r_f"] == pytest.approx(cos(r, f), abs=1e-9)
    assert m["cos_r_phi1"] == pytest.approx(cos(r, phi1), abs=1e-6)
    assert m["cos_phi1_f"] == pytest.approx(cos(phi1, f), abs=1e-6)
    assert m["share_phi1"] == pytest.approx((lam[0] * (phi1 @ r)) ** 2 / (kr @ kr), rel=1e-3, abs=1e-9)  # float32 K
    assert m["lambda1_trace"] == pytest.approx(lam[0] / np.trace(K), rel=1e-5)
    assert m["lambda2_lambda1"] == pytest.approx(lam[1] / lam[0], rel=1e-5)
    score = np.linalg.norm(kr.reshape(sig.n, 2), axis=1)
    from scipy.stats import spearmanr
    fn = np.linalg.norm(f.reshape(sig.n, 2), axis=1)
    assert m["spearman_score_f"] == pytest.approx(spearmanr(score, fn)[0], abs=1e-9)


def test_score_is_rowwise_norm_of_kr(case):
    model, sig = case
    K, f, r, lam, phi1 = _explicit(model, sig)
    v = drift.drift_vectors(model, sig.coords, sig.values)
    np.testing.assert_allclose(v["kr"].numpy(), K @ r, rtol=1e-6, atol=1e-9 * np.abs(K @ r).max())
    np.testing.assert_allclose(v["score"].numpy(), np.linalg.norm((K @ r).reshape(sig.n, 2), axis=1),
                               rtol=1e-6)
    with torch.no_grad():
        r32 = model(sig.coords) - sig.values
    torch.testing.assert_close(v["score"].float(), nl.ntk.nint_scores(model, sig.coords, r32),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(v["phi1"].numpy(), phi1, atol=1e-6)


def test_f_split_against_explicit_kernel(case):
    model, sig = case
    K, f, r, lam, phi1 = _explicit(model, sig)
    d = drift.f_split(model, sig.coords, sig.values)
    alpha = f @ r / (f @ f)
    rp = r - alpha * f
    assert d["rayleigh_f"] == pytest.approx(f @ K @ f / (f @ f) / lam[0], rel=1e-5)
    assert d["rayleigh_rperp"] == pytest.approx(rp @ K @ rp / (rp @ rp) / lam[0], rel=1e-4)
    kr, kf = K @ r, alpha * (K @ f)
    assert d["cos_kr_kf"] == pytest.approx(kr @ kf / np.linalg.norm(kr) / np.linalg.norm(kf), abs=1e-5)


def test_top_eigenpairs_against_eigh():
    J = torch.randn(40, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lam, phi = drift.top_eigenpairs(J, k=3)
    ref_lam, ref_vec = np.linalg.eigh((J @ J.T).numpy())
    np.testing.assert_allclose(lam.numpy(), ref_lam[::-1][:3], rtol=1e-8)
    for i in range(3):
        assert abs(phi[:, i].numpy() @ ref_vec[:, -1 - i]) == pytest.approx(1.0, abs=1e-8)
    with pytest.raises(ValueError, match="k must be"):
        drift.top_eigenpairs(J, k=40)


def test_signal_in_range():
    sig = nl.sample_signal("camera", size=8)
    sym = drift.signal_in_range(sig, "[-1,1]")
    torch.testing.assert_close(sym.values, sig.values * 2 - 1)
    assert sym.meta["data_range"] == 2.0 and sym.values.min() >= -1 and sym.values.max() <= 1
    assert drift.signal_in_range(sig, "[0,1]") is sig
    with pytest.raises(ValueError, match="value_range"):
        drift.signal_in_range(sig, "[0,255]")


def test_cli_quick_writes_json(tmp_path):
    out = tmp_path / "drift.json"
    assert drift.main(["--quick", "--quiet", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"command", "machine", "date", "config", "checkpoints", "measures", "runs"} <= set(res)
    assert res["command"].endswith("--quick --quiet --out " + str(out))
    assert len(res["runs"]) == 2 and {r["range"] for r in res["runs"]} == {"[0,1]", "[-1,1]"}
    for run in res["runs"]:
        assert run["steps"] == res["checkpoints"] == [0, 10, 20]
        assert all(len(run[k]) == 3 and all(math.isfinite(v) for v in run[k]) for k in res["measures"])
    assert out.with_suffix(".png").stat().st_size > 10_000
