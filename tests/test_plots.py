"""Unit tests for nint_lite.plots (and the 3D figures of nint_lite.shapes): every figure's structure
(axes, titles, labels, colour bars), gray and RGB signals, the numbers it draws against
nint_lite.ntk, the fit callbacks, and the ValueError cases.

Tiny models (hidden 8, 2 hidden layers) on 8×8..12×12 images keep the file fast.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nint_lite as nl  # noqa: E402
from nint_lite import ntk, plots, shapes  # noqa: E402
from nint_lite.signals import Signal, grid  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gray(size=10):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=g).numpy() * 0.2
    a[:, size // 2:] += 0.7                                 # one vertical edge
    return nl.load_image(a.astype(np.float32))


def _rgb(size=10):
    return nl.sample_signal("astronaut", size=size)


@pytest.fixture(params=["gray", "rgb"])
def case(request):
    sig = _gray() if request.param == "gray" else _rgb()
    model = nl.make_model("siren", 2, sig.channels, hidden=8, layers=2, seed=1)
    return sig, model


def _audio():
    n = 32
    return Signal(grid((n,)), torch.zeros(n, 1), (n,), kind="audio")


def _colorbars(fig):
    return [im for ax in fig.axes for im in ax.images if im.colorbar is not None]


def _panels(fig):
    """Axes that hold a picture or a plot, not colour-bar axes."""
    bars = {im.colorbar.ax for im in _colorbars(fig)}
    return [ax for ax in fig.axes if ax not in bars]


def _check_labelled(fig, n_panels, n_bars):
    assert isinstance(fig, Figure)
    panels = _panels(fig)
    assert len(panels) == n_panels
    assert len(_colorbars(fig)) == n_bars
    assert fig._suptitle is not None and fig._suptitle.get_text()
    for ax in panels:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    for im in _colorbars(fig):
        assert im.colorbar.ax.get_ylabel(), "every colour bar is labelled"


# --------------------------------------------------------------------------- structure, gray and RGB

def test_kernel_heatmap_structure_and_values(case):
    sig, model = case
    patches = {"a": (2, 2), "b": (6, 7)}
    fig = plots.kernel_heatmap(model, sig, patches=patches)
    _check_labelled(fig, 2, 1)
    C, w = sig.channels, sig.shape[1]
    drawn = _colorbars(fig)[0].get_array()
    assert drawn.shape == (18 * C, 18 * C)
    idx = [(r + dr) * w + c + dc for r, c in patches.values() for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    K = ntk.matrix(model, sig.coords[idx])                  # (18, 18, C, C)
    assert np.allclose(drawn, K.permute(0, 2, 1, 3).reshape(18 * C, 18 * C).numpy(), rtol=1e-5, atol=1e-6)
    # the block boundary between the two patches is marked
    ax_k = _colorbars(fig)[0].axes
    assert len(ax_k.lines) == 2
    assert [t.get_text() for t in ax_k.get_xticklabels()] == ["a", "b"]


def test_kernel_heatmap_default_patches_and_list(case):
    sig, model = case
    _check_labelled(plots.kernel_heatmap(model, sig), 2, 1)
    fig = plots.kernel_heatmap(model, sig, patches=[(3, 3)])
    assert _colorbars(fig)[0].get_array().shape == (9 * sig.channels,) * 2


def test_leverage_map_is_the_ntk_diagonal_on_a_log_scale(case):
    sig, model = case
    fig = plots.leverage_map(model, sig)
    _check_labelled(fig, 2, 1)
    im = _colorbars(fig)[0]
    assert isinstance(im.norm, matplotlib.colors.LogNorm)
    expected = ntk.diagonal(model, sig.coords).reshape(sig.shape).numpy()
    assert np.allclose(np.asarray(im.get_array()), expected, rtol=1e-5)


def test_coupling_row_matches_a_row_of_ntk_matrix(case):
    sig, model = case
    q = 37
    row = plots.coupling_row(model, sig.coords, q)
    K = ntk.matrix(model, sig.coords[q:q + 1], sig.coords)[0]   # (N, C, C)
    assert row.shape == (sig.n,)
    assert torch.allclose(row, torch.einsum("jcc->j", K), rtol=1e-4, atol=1e-5)


def test_coupling_map_structure_and_query_mark(case):
    sig, model = case
    fig = plots.coupling_map(model, sig, (3, 4))
    _check_labelled(fig, 2, 1)
    im = _colorbars(fig)[0]
    lo, hi = im.get_clim()
    assert lo == pytest.approx(-hi)                          # signed values: symmetric colour range
    row = plots.coupling_row(model, sig.coords, 3 * sig.shape[1] + 4)
    assert np.allclose(np.asarray(im.get_array()), row.reshape(sig.shape).numpy(), rtol=1e-5, atol=1e-6)
    for ax in _panels(fig):                                  # the query is marked on both panels
        (line,) = ax.lines
        assert tuple(line.get_xdata()) == (4,) and tuple(line.get_ydata()) == (3,)


def test_score_maps_structure_and_nint_panel(case):
    sig, model = case
    fig = plots.score_maps(model, sig)
    _check_labelled(fig, 3, 3)
    with torch.no_grad():
        r = model(sig.coords) - sig.values
    drawn = np.asarray(_colorbars(fig)[2].get_array())
    assert np.allclose(drawn, ntk.nint_scores(model, sig.coords, r).reshape(sig.shape).numpy(), rtol=1e-5)
    assert np.allclose(np.asarray(_colorbars(fig)[0].get_array()), r.norm(dim=1).reshape(sig.shape).numpy())


def test_selection_overlay_marks_exactly_the_selected_pixels(case):
    sig, _ = case
    idx = torch.tensor([0, 5, 17, sig.n - 1])
    mask = torch.zeros(sig.n, dtype=torch.bool)
    mask[3:9] = True
    fig = plots.selection_overlay(sig, {"indices": idx, "mask": mask}, title="two selections")
    _check_labelled(fig, 2, 0)
    for ax, chosen in zip(_panels(fig), (idx, mask.nonzero()[:, 0])):
        alpha = np.asarray(ax.images[1].get_array())[..., 3].reshape(-1)
        assert set(np.flatnonzero(alpha).tolist()) == set(chosen.tolist())
        assert ax.get_legend() is not None
    assert "4 of" in _panels(fig)[0].get_title()
    _check_labelled(plots.selection_overlay(sig, np.arange(10)), 1, 0)


def test_training_curves_and_reconstruction():
    h1 = nl.History(steps=[0, 10], train_seconds=[0.0, 1.0], psnr=[5.0, 20.0])
    h2 = nl.History(steps=[0, 10], train_seconds=[0.0, 0.5], psnr=[5.0, 15.0])
    fig = plots.training_curves({"a": h1, "b": h2}, title="curves")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() == "PSNR (dB)"
        assert len(ax.lines) == 2 and ax.get_legend() is not None
    assert list(fig.axes[1].lines[0].get_xdata()) == [0.0, 1.0]
    assert not hasattr(plots, "psnr_curves")
    sig = _rgb(8)
    _check_labelled(plots.reconstruction(sig, sig.values * 0.9, title="r"), 3, 1)


def test_value_maps_styles():
    sig = _gray(8)
    v = torch.linspace(-1, 1, sig.n)
    fig = plots.value_maps(sig, [
        {"values": v, "title": "signed", "style": "signed"},
        {"values": v, "title": "log", "style": "log", "label": "x"},   # non-positive values clipped
        {"values": v, "title": "fixed", "lim": (0.0, 2.0)},
        {"values": sig.values, "title": "image", "style": "image"}], title="styles")
    _check_labelled(fig, 4, 3)
    signed, log, fixed = _colorbars(fig)
    assert signed.get_clim() == pytest.approx((-1, 1))
    assert log.get_clim()[0] > 0
    assert fixed.get_clim() == (0.0, 2.0)


def test_edge_and_flat_finds_the_edge():
    sig = _gray(10)                                          # edge between columns 4 and 5
    p = plots.edge_and_flat(sig)
    assert p["edge"][1] in (4, 5)
    assert abs(p["flat"][1] - 4.5) >= 2
    assert all(1 <= v <= 8 for v in p["edge"] + p["flat"])


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("fn", ["kernel_heatmap", "leverage_map", "score_maps"])
def test_non_image_signals_are_rejected(fn):
    sig = _audio()
    model = nl.make_model("siren", 1, 1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="image"):
        getattr(plots, fn)(model, sig)
    with pytest.raises(ValueError, match="image"):
        plots.coupling_map(model, sig, (0, 0))
    with pytest.raises(ValueError, match="image"):
        plots.selection_overlay(sig, [0])


@pytest.mark.parametrize("query", [(10, 0), (0, 10), (-1, 3), (2.5, 1), (1,), "ab", None])
def test_bad_query_pixels(query):
    sig = _gray(10)
    model = nl.make_model("siren", 2, 1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="query"):
        plots.coupling_map(model, sig, query)


@pytest.mark.parametrize("patches", [[(0, 4)], [(4, 9)], {"x": (9, 9)}, [(4, 4), (12, 3)], [], [(1.5, 3)]])
def test_bad_patch_centres(patches):
    sig = _gray(10)
    model = nl.make_model("siren", 2, 1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="patch"):
        plots.kernel_heatmap(model, sig, patches=patches)


def test_other_bad_input():
    sig = _gray(8)
    model = nl.make_model("siren", 2, 1, hidden=8, layers=2)
    with pytest.raises(ValueError, match="outside"):
        plots.selection_overlay(sig, [0, sig.n])
    with pytest.raises(ValueError, match="mask"):
        plots.selection_overlay(sig, torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="integer"):
        plots.selection_overlay(sig, [0.5, 1.5])
    with pytest.raises(ValueError, match="index"):
        plots.coupling_row(model, sig.coords, sig.n)
    with pytest.raises(ValueError, match="training_curves"):
        plots.training_curves({})
    with pytest.raises(ValueError, match="style"):
        plots.value_maps(sig, [{"values": sig.values[:, 0], "title": "t", "style": "rainbow"}], "t")
    with pytest.raises(ValueError, match="panel"):
        plots.value_maps(sig, [], "t")
    with pytest.raises(ValueError, match="index"):
        plots.coupling_row(model, sig.coords, 1.0)
    with pytest.raises(ValueError, match="3×3"):
        plots.edge_and_flat(nl.load_image(np.zeros((2, 5), np.float32)))


# --------------------------------------------------------------------------- fit callbacks

def test_callbacks_live_plot_and_reconstructions(tmp_path):
    sig = _gray(8)
    saver, live = plots.SaveReconstructions(sig, tmp_path / "rec"), plots.LivePlot()
    h = nl.fit(nl.make_model("siren", 2, 1, hidden=8, layers=2, seed=0), sig, steps=4, eval_every=2,
               progress=False, device="cpu", callbacks=[saver, live])
    assert [p.name for p in saver.saved] == ["step_000000.png", "step_000002.png", "step_000004.png"]
    assert all(p.stat().st_size > 0 for p in saver.saved)
    assert live.updates == 3 and h.steps == [0, 2, 4]
    assert not plt.get_fignums()                             # every figure closed after use
    with pytest.raises(ValueError, match="image signal"):
        plots.SaveReconstructions(_audio(), tmp_path / "x")


# --------------------------------------------------------------------------- audio and 3D figures

def test_training_curves_draw_a_chosen_metric():
    sig = Signal(grid((40,)), torch.sin(torch.linspace(0, 6, 40))[:, None],
                 (40,), kind="audio", meta={"sample_rate": 40, "data_range": 2.0},
                 metrics={"si_snr": nl.si_snr})          # what load_audio gives a sound
    model = nl.make_model("siren", 1, 1, hidden=8, layers=2, seed=0, first_w0=300.0)
    h = nl.fit(model, sig, steps=4, eval_every=2,
               progress=False, device="cpu")
    fig = plots.training_curves({"full": h}, metric="si_snr")
    a, b = fig.axes
    assert a.get_ylabel() == "SI-SNR (dB)" and list(a.lines[0].get_ydata()) == h.metrics["si_snr"]
    assert list(b.lines[0].get_xdata()) == h.train_seconds
    with pytest.raises(ValueError, match="no 'iou'"):
        plots.training_curves({"full": h}, metric="iou")


def test_waveforms_draw_target_reconstruction_and_error():
    y = torch.sin(torch.linspace(0, 20, 100))[:, None] * 0.5
    sig = Signal(grid((100,)), y, (100,), kind="audio", meta={"sample_rate": 100, "start": 1.0})
    pred = y + 0.1
    fig = plots.waveforms(sig, {"model": pred}, window=(1.2, 1.5))
    top, bottom, right = fig.axes
    t = top.lines[0].get_xdata()
    assert t.min() >= 1.2 - 1e-9 and t.max() <= 1.5 + 1e-9 and len(t) == 31   # seconds, windowed (both ends)
    (rec,), (err,) = bottom.lines, right.lines
    assert np.allclose(err.get_ydata(), 0.1, atol=1e-6) and np.allclose(rec.get_ydata(), top.lines[0].get_ydata() + 0.1)
    # the error has its own scale (here 0.1 of a 0.5 signal): it fills its axis, not a fifth of it
    assert right.get_ylim()[1] == pytest.approx(0.11, rel=1e-3) and bottom.get_ylim()[1] == pytest.approx(0.55, rel=1e-3)
    with pytest.raises(ValueError, match="audio"):
        plots.waveforms(_gray(), {})


def test_field_slices_and_meshes():
    sig = shapes.load_shape(np.linalg.norm(np.stack(np.meshgrid(*[np.linspace(-1, 1, 9)] * 3, indexing="ij")), axis=0) - 0.5)
    fig = shapes.field_slices(sig, {"shifted": sig.values + 0.1})
    ims = [im for ax in fig.axes for im in ax.images]
    assert len(ims) == 6                                      # 2 fields × 3 axes
    assert np.allclose(ims[0].get_array(), sig.to_grid()[4, :, :, 0].numpy())   # middle slice, axis 0
    assert all(ax.collections for ax in fig.axes[:3])          # the surface contour is drawn
    pytest.importorskip("skimage")                          # marching cubes: the [shapes] extra
    v, f = shapes.to_mesh(sig.values, sig)
    fig = shapes.meshes({"a": (v, f), "b": (v, f)}, up=1)
    assert len(fig.axes) == 2 and all(ax.name == "3d" for ax in fig.axes)
    with pytest.raises(ValueError, match="3D grid"):
        shapes.field_slices(_gray())
    with pytest.raises(ValueError, match="at least one"):
        shapes.meshes({})
